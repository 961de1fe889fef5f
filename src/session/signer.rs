//! Minting session tokens for the embedded setup, the emulator, the demo and tests.
//!
//! WorkOS signs real AuthKit tokens; without WorkOS something has to sign them for local
//! development. [`TokenSigner`] holds an RSA key generated in memory (never written anywhere),
//! publishes its public half as a JWKS document, and signs RS256 tokens with a `kid`, exactly the
//! shape the [`SessionVerifier`](super::SessionVerifier) expects from WorkOS.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// Why a key could not be generated or a token signed.
#[derive(Debug, thiserror::Error)]
#[error("token signing failed: {0}")]
pub struct SignError(String);

/// An in-memory RSA key that signs RS256 session tokens and publishes its JWKS.
///
/// ```
/// use workos_authz::session::{SessionClaims, TokenSigner};
/// use std::time::Duration;
///
/// let signer = TokenSigner::generate().unwrap();
/// let claims = SessionClaims::new("user_alice")
///     .organization("org_acme")
///     .role("admin")
///     .permissions(["posts:read", "posts:write"])
///     .expires_in(Duration::from_secs(3600));
/// let token = signer.sign(&claims).unwrap();
/// assert_eq!(token.split('.').count(), 3);
/// assert_eq!(signer.jwks()["keys"][0]["kid"], signer.kid());
/// ```
pub struct TokenSigner {
    kid: String,
    encoding_key: EncodingKey,
    modulus: String,
    exponent: String,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// Generates a fresh 2048-bit RSA key with a random `kid`.
    pub fn generate() -> Result<Self, SignError> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| SignError("RSA key generation failed".into()))?;
        let pkcs8 = key_pair
            .as_der()
            .map_err(|_| SignError("RSA key could not be encoded".into()))?;
        let pem = pem_encode("PRIVATE KEY", pkcs8.as_ref());
        let encoding_key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| SignError(format!("RSA key rejected: {e}")))?;
        let public = key_pair.public_key();
        let modulus = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let exponent = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        Ok(TokenSigner {
            kid: format!("key_{}", crate::support::random_hex(12)),
            encoding_key,
            modulus,
            exponent,
        })
    }

    /// The key id written into every token's header and into the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as one JWK (`kty` RSA, `alg` RS256, `use` sig).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": self.modulus,
            "e": self.exponent,
        })
    }

    /// The JWKS document (`{"keys": [...]}`) to serve at a JWKS URL.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }

    /// Signs `claims` as an RS256 JWT whose header carries this key's `kid`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, SignError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .map_err(|e| SignError(e.to_string()))
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}
