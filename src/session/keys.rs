//! Verification keys: where they come from and the set a token's `kid` is looked up in.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use jsonwebtoken::{AlgorithmFamily, jwk::AlgorithmParameters};

/// Why a key or a JWKS document was refused.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A PEM, DER or JWK could not be parsed as a key of the stated kind.
    #[error("invalid {kind} key: {reason}")]
    InvalidKey {
        /// The kind of key that was expected (RSA, EC, Ed25519, JWK).
        kind: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The JWKS document is not JSON of the form `{"keys": [...]}`.
    #[error("invalid JWKS document: {0}")]
    InvalidJwks(String),
    /// The JWKS URL could not be fetched.
    #[error("JWKS fetch from {url} failed: {reason}")]
    Fetch {
        /// The URL that was fetched.
        url: String,
        /// What went wrong.
        reason: String,
        /// The transport error, when there is one.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl KeyError {
    pub(crate) fn fetch(url: &str, reason: impl Into<String>) -> Self {
        KeyError::Fetch {
            url: url.to_owned(),
            reason: reason.into(),
            source: None,
        }
    }
}

/// One public key (or HMAC secret) a token may be verified with.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    // The key material as configured (PEM, secret or JWK parameters): two keys with the same
    // kid but different material are different keys, and a swap must drop cached tokens.
    fingerprint: Vec<u8>,
    key: DecodingKey,
    family: AlgorithmFamily,
    // A JWK may pin its algorithm; a token claiming another one is refused even if the
    // family fits (RFC 7517 §4.4).
    algorithm: Option<Algorithm>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// An RSA public key in PEM (PKCS#1 or SubjectPublicKeyInfo).
    pub fn rsa_pem(pem: &[u8]) -> Result<Self, KeyError> {
        DecodingKey::from_rsa_pem(pem)
            .map(|key| Self::new(key, AlgorithmFamily::Rsa, pem))
            .map_err(|e| KeyError::InvalidKey {
                kind: "RSA",
                reason: e.to_string(),
            })
    }

    /// An EC (P-256 or P-384) public key in PEM.
    pub fn ec_pem(pem: &[u8]) -> Result<Self, KeyError> {
        DecodingKey::from_ec_pem(pem)
            .map(|key| Self::new(key, AlgorithmFamily::Ec, pem))
            .map_err(|e| KeyError::InvalidKey {
                kind: "EC",
                reason: e.to_string(),
            })
    }

    /// An Ed25519 public key in PEM.
    pub fn ed25519_pem(pem: &[u8]) -> Result<Self, KeyError> {
        DecodingKey::from_ed_pem(pem)
            .map(|key| Self::new(key, AlgorithmFamily::Ed, pem))
            .map_err(|e| KeyError::InvalidKey {
                kind: "Ed25519",
                reason: e.to_string(),
            })
    }

    /// A shared HMAC secret, for tests and non-WorkOS issuers (WorkOS signs with RS256).
    pub fn hmac_secret(secret: &[u8]) -> Self {
        Self::new(
            DecodingKey::from_secret(secret),
            AlgorithmFamily::Hmac,
            secret,
        )
    }

    /// A public key from one JWK; its `kid` and `alg`, when present, are kept.
    ///
    /// Symmetric (`oct`) JWKs are refused: a JWKS is public, and an HMAC key anyone can read
    /// lets anyone sign. Use [`VerificationKey::hmac_secret`] for a shared secret.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
            AlgorithmParameters::OctetKey(_) => {
                return Err(KeyError::InvalidKey {
                    kind: "JWK",
                    reason: "symmetric (oct) keys are never taken from a JWKS".into(),
                });
            }
        };
        let fingerprint = serde_json::to_vec(&jwk.algorithm).map_err(|e| KeyError::InvalidKey {
            kind: "JWK",
            reason: e.to_string(),
        })?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::InvalidKey {
            kind: "JWK",
            reason: e.to_string(),
        })?;
        let algorithm = match jwk.common.key_algorithm {
            None => None,
            Some(declared) => {
                Some(jwk_algorithm(declared).ok_or_else(|| KeyError::InvalidKey {
                    kind: "JWK",
                    reason: format!("algorithm {declared:?} is not a signature algorithm"),
                })?)
            }
        };
        Ok(VerificationKey {
            kid: jwk.common.key_id.clone(),
            fingerprint,
            key,
            family,
            algorithm,
        })
    }

    fn new(key: DecodingKey, family: AlgorithmFamily, material: &[u8]) -> Self {
        VerificationKey {
            kid: None,
            fingerprint: material.to_vec(),
            key,
            family,
            algorithm: None,
        }
    }

    /// Names the key: tokens whose header `kid` equals `kid` are verified with it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether a token signed with `algorithm` may be verified with this key.
    pub(crate) fn accepts(&self, algorithm: Algorithm) -> bool {
        algorithm.family() == self.family && self.algorithm.is_none_or(|pinned| pinned == algorithm)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

fn jwk_algorithm(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Parses a JWKS document. Keys this crate cannot use (encryption keys, unknown types) are
/// skipped with a warning rather than failing the whole set: one exotic key at the issuer
/// must not lock every user out.
pub(crate) fn parse_jwks(document: &[u8]) -> Result<Vec<VerificationKey>, KeyError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(document).map_err(|e| KeyError::InvalidJwks(e.to_string()))?;
    let mut keys = Vec::with_capacity(document.keys.len());
    for value in document.keys {
        if value
            .get("use")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        match serde_json::from_value::<Jwk>(value)
            .map_err(|e| KeyError::InvalidKey {
                kind: "JWK",
                reason: e.to_string(),
            })
            .and_then(|jwk| VerificationKey::from_jwk(&jwk))
        {
            Ok(key) => keys.push(key),
            Err(error) => tracing::warn!(%error, "skipping a JWKS key that cannot verify tokens"),
        }
    }
    Ok(keys)
}

/// The keys known at one moment. Replaced whole on refresh, never mutated, so readers need
/// no lock.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
    unnamed: Vec<Arc<VerificationKey>>,
}

impl KeySet {
    pub(crate) fn new(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        let mut set = KeySet::default();
        for key in keys {
            let key = Arc::new(key);
            match &key.kid {
                Some(kid) => {
                    set.by_kid.insert(kid.clone(), key);
                }
                None => set.unnamed.push(key),
            }
        }
        set
    }

    pub(crate) fn from_jwks(document: &[u8]) -> Result<Self, KeyError> {
        parse_jwks(document).map(KeySet::new)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.unnamed.is_empty()
    }

    /// The keys a token with this `kid` may be verified with: the named key, or, for a
    /// token without `kid`, every unnamed key.
    pub(crate) fn candidates(&self, kid: Option<&str>) -> Candidates<'_> {
        match kid {
            Some(kid) => Candidates::Named(self.by_kid.get(kid)),
            None => Candidates::Unnamed(self.unnamed.iter()),
        }
    }

    pub(crate) fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Whether some key of `self` is missing from `next`: tokens verified with it must not
    /// stay trusted.
    /// A key counts as kept only with the same kid and the same material: a key replaced
    /// under its old kid is a lost key.
    pub(crate) fn loses_keys_in(&self, next: &KeySet) -> bool {
        let kept_named = |(kid, key): (&String, &Arc<VerificationKey>)| {
            next.by_kid
                .get(kid)
                .is_some_and(|next_key| next_key.fingerprint == key.fingerprint)
        };
        let kept_unnamed = |key: &Arc<VerificationKey>| {
            next.unnamed
                .iter()
                .any(|next_key| next_key.fingerprint == key.fingerprint)
        };
        !self.by_kid.iter().all(kept_named) || !self.unnamed.iter().all(kept_unnamed)
    }
}

pub(crate) enum Candidates<'a> {
    Named(Option<&'a Arc<VerificationKey>>),
    Unnamed(std::slice::Iter<'a, Arc<VerificationKey>>),
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a Arc<VerificationKey>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Candidates::Named(key) => key.take(),
            Candidates::Unnamed(keys) => keys.next(),
        }
    }
}
