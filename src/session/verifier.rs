//! Verifying session tokens: header checks, key lookup by `kid`, signature, claims, and the
//! cache that makes a token's second request cost a hash lookup.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use moka::sync::Cache;
use serde::Deserialize as _;
use serde_json::{Map, Value};

use super::keys::{KeyError, KeySet, VerificationKey, parse_jwks};
use super::{Session, SessionClaims, strict_json};
use crate::single_flight::{DEFAULT_UPSTREAM_TIMEOUT, FlightError, SingleFlight};
use crate::support::{SecretKey, SecretRef, printable, unix_now};

/// Tokens longer than this are refused before any decoding (WorkOS tokens are ~1 KiB; browsers
/// cap cookies at 4 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused. Every variant but [`TokenError::KeysUnavailable`] means the token
/// is not acceptable (401); that one means the keys to judge it could not be loaded (503).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is longer than [`MAX_TOKEN_BYTES`].
    #[error("token exceeds {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// The token is not three base64url segments holding a JSON header and JSON claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm that is not in the configured allowlist.
    #[error("algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    /// The header carries `crit`: extensions this verifier does not implement.
    #[error("the crit header is not supported")]
    CriticalHeader,
    /// The header points at a key by URL or embeds one (`jku`, `x5u`, `jwk`, `x5c`); keys come
    /// only from configuration.
    #[error("the {0} header is not accepted: keys come only from configuration")]
    ExternalKeyReference(&'static str),
    /// No key with the token's `kid` is known, even after a refresh.
    #[error("unknown key id")]
    UnknownKeyId,
    /// A key was found but none fits the token's algorithm.
    #[error("no key fits algorithm {0}")]
    NoKeyForAlgorithm(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// A claim is missing, of the wrong type, or duplicated.
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not valid yet")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is missing or not one of the accepted issuers.
    #[error("issuer not accepted")]
    InvalidIssuer,
    /// `aud` is missing or names none of the accepted audiences.
    #[error("audience not accepted")]
    InvalidAudience,
    /// The session was revoked ([`SessionVerifier::revoke_session`], from a `session.revoked`
    /// event) while its token was still unexpired.
    #[error("session revoked")]
    SessionRevoked,
    /// The token needs a key that is not loaded, and the JWKS could not be fetched (it failed
    /// or did not answer within the upstream timeout). Not the token's fault: a 503, never a
    /// 401, and the next request asks again. Why the fetch failed is logged, never echoed.
    #[error("verification keys unavailable")]
    KeysUnavailable,
}

/// Verifies session tokens and turns them into [`Session`]s.
///
/// Cheap to clone (an `Arc` inside). Keys are read through an atomically swapped snapshot, so
/// verifying a token whose `kid` is known takes no lock; a token verified once is served from a
/// cache until it expires.
///
/// ```
/// use workos_authz::session::{SessionClaims, SessionVerifier, TokenSigner};
///
/// # tokio_test_block_on(async {
/// let signer = TokenSigner::generate().unwrap();
/// let verifier = SessionVerifier::builder()
///     .jwks_document(signer.jwks().to_string().as_bytes())
///     .unwrap()
///     .build()
///     .unwrap();
/// let token = signer.sign(&SessionClaims::new("user_123").organization("org_1")).unwrap();
/// let session = verifier.verify(&token).await.unwrap();
/// assert_eq!(session.user_id(), "user_123");
/// assert!(verifier.verify("not.a.token").await.is_err());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct SessionVerifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionVerifier")
            .field("algorithms", &self.inner.rules.algorithms)
            .field("issuers", &self.inner.rules.issuers)
            .field("audiences", &self.inner.rules.audiences)
            .field("jwks_url", &self.inner.remote.as_ref().map(|r| &r.url))
            .finish_non_exhaustive()
    }
}

struct Inner {
    rules: Rules,
    keys: ArcSwap<KeySet>,
    remote: Option<RemoteJwks>,
    // Read on every request: quick_cache's get is a shard read lock, a fast hash and one key
    // compare, where moka's keeps read logs and frequency sketches up to date.
    verified: quick_cache::sync::Cache<SecretKey, CachedSession>,
    revoked_sessions: Cache<String, Duration>,
    // Lets the common case (nothing ever revoked) skip the lookup.
    any_revoked: AtomicBool,
    // Bumped whenever a refresh drops a key; cached sessions from an older generation are
    // ignored, which closes the window between a verification and the cache clear.
    key_generation: AtomicU64,
}

struct Rules {
    algorithms: Vec<Algorithm>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    leeway: u64,
}

#[derive(Clone)]
struct CachedSession {
    session: Session,
    key_generation: u64,
}

struct RemoteJwks {
    url: String,
    http: reqwest::Client,
    cooldown: Duration,
    refresh_interval: Duration,
    // Every fetch (for an unknown kid, the periodic refresh, a prefetch) goes through it:
    // one at a time, bounded by the upstream timeout, run in a spawned task.
    fetches: SingleFlight<(), Arc<KeySet>, KeyError>,
    // When the JWKS last answered with a usable set. Only such an answer may say that a kid
    // is unknown: a fetch that failed says nothing about the token.
    answered_at: std::sync::Mutex<Option<Instant>>,
    unknown_kids: Cache<String, ()>,
    refresher_started: AtomicBool,
}

impl RemoteJwks {
    fn answered_within(&self, window: Duration) -> bool {
        self.answered_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|at| at.elapsed() < window)
    }
}

/// What a verification without waiting for the network found.
pub(crate) enum Attempt {
    Done(Result<Session, TokenError>),
    /// The token needs keys that are not loaded yet: a JWKS refresh may supply them.
    NeedsKeys,
}

impl SessionVerifier {
    /// Starts configuring a verifier.
    pub fn builder() -> SessionVerifierBuilder {
        SessionVerifierBuilder::default()
    }

    /// Verifies `token` and returns its session. Fetches the JWKS when the token names a key
    /// that is not loaded (at most once per cooldown, shared by all waiting requests).
    pub async fn verify(&self, token: &str) -> Result<Session, TokenError> {
        match self.verify_with_loaded_keys(token.as_bytes()) {
            Attempt::Done(result) => result,
            Attempt::NeedsKeys => self.verify_after_refresh(token).await,
        }
    }

    /// Loads the JWKS now instead of on the first request. Does nothing for static keys.
    pub async fn prefetch(&self) -> Result<(), KeyError> {
        match &self.inner.remote {
            Some(remote) => match self.inner.fetch_keys(remote, None).await {
                Ok(_) => Ok(()),
                Err(FlightError::Failed(error)) => Err(error),
                Err(FlightError::Timeout(timeout)) => Err(KeyError::fetch(
                    &remote.url,
                    format!("no answer within {timeout:?}"),
                )),
                Err(FlightError::Abandoned) => Err(KeyError::fetch(
                    &remote.url,
                    "the fetch ended without an answer",
                )),
            },
            None => Ok(()),
        }
    }

    pub(crate) async fn verify_after_refresh(&self, token: &str) -> Result<Session, TokenError> {
        let kid = match parse_header(token, &self.inner.rules) {
            Ok(header) => header.kid,
            Err(error) => return Err(error),
        };
        self.inner.load_keys_for(kid.as_deref()).await?;
        match self.verify_with_loaded_keys(token.as_bytes()) {
            Attempt::Done(result) => result,
            Attempt::NeedsKeys => Err(TokenError::UnknownKeyId),
        }
    }

    /// Applies one deadline to the JWKS fetches started from now on.
    pub(crate) fn set_upstream_timeout(&self, timeout: Duration) {
        if let Some(remote) = &self.inner.remote {
            remote.fetches.set_timeout(timeout);
        }
    }

    /// Refuses tokens of session `session_id` (the `sid` claim) for `remember_for` from now,
    /// even those already verified and cached. Applied by the `session.revoked` event.
    pub fn revoke_session(&self, session_id: &str, remember_for: Duration) {
        self.inner
            .revoked_sessions
            .insert(session_id.to_owned(), remember_for);
        self.inner.any_revoked.store(true, Ordering::Release);
    }

    /// Verifies with the keys already loaded; never waits.
    pub(crate) fn verify_with_loaded_keys(&self, token: &[u8]) -> Attempt {
        match self.verify_signed_with_loaded_keys(token) {
            Attempt::Done(Ok(session)) if self.inner.is_revoked(&session) => {
                Attempt::Done(Err(TokenError::SessionRevoked))
            }
            attempt => attempt,
        }
    }

    fn verify_signed_with_loaded_keys(&self, token: &[u8]) -> Attempt {
        let inner = &self.inner;
        if token.len() > MAX_TOKEN_BYTES {
            return Attempt::Done(Err(TokenError::TooLarge));
        }
        inner.start_refresher();
        let now = unix_now();
        if let Some(cached) = inner.verified.get(&SecretRef(token))
            && cached.key_generation == inner.key_generation.load(Ordering::Acquire)
        {
            let expired = cached
                .session
                .claims()
                .exp
                .saturating_add(inner.rules.leeway)
                <= now;
            if expired {
                // Expiry is checked on every hit, so an expired token leaves the cache when it
                // comes back; the capacity bounds those that never do.
                inner.verified.remove(&SecretRef(token));
                return Attempt::Done(Err(TokenError::Expired));
            }
            return Attempt::Done(Ok(cached.session));
        }
        let Ok(token) = std::str::from_utf8(token) else {
            return Attempt::Done(Err(TokenError::Malformed("the token is not text".into())));
        };
        let generation = inner.key_generation.load(Ordering::Acquire);
        let result = match inner.verify_uncached(token, now) {
            Some(result) => result,
            None => return Attempt::NeedsKeys,
        };
        if let Ok(session) = &result {
            let cached = CachedSession {
                session: session.clone(),
                key_generation: generation,
            };
            inner.verified.insert(SecretKey::new(token), cached);
        }
        Attempt::Done(result)
    }
}

/// A token split once and its header read: what the key lookup and the signature check need.
struct Header<'t> {
    algorithm: Algorithm,
    kid: Option<String>,
    /// `header.claims`: the bytes the signature covers.
    signed: &'t str,
    claims: &'t str,
    signature: &'t str,
}

fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed(format!("{what} is not base64url")))
}

fn split_token(token: &str) -> Result<(&str, &str, &str), TokenError> {
    let mut segments = token.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(header), Some(claims), Some(signature), None)
            if !header.is_empty() && !claims.is_empty() && !signature.is_empty() =>
        {
            Ok((header, claims, signature))
        }
        _ => Err(TokenError::Malformed(
            "expected three non-empty segments".into(),
        )),
    }
}

fn parse_header<'t>(token: &'t str, rules: &Rules) -> Result<Header<'t>, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Malformed("empty token".into()));
    }
    let (header, claims, signature) = split_token(token)?;
    let signed = &token[..header.len() + 1 + claims.len()];
    // The header is unverified: its parse error (which may quote attacker-chosen member names)
    // is logged nowhere and replaced by a fixed message.
    let header = strict_json::parse_object(&decode_segment(header, "header")?).map_err(|_| {
        TokenError::Malformed("header is not a JSON object with unique member names".into())
    })?;
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    for name in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(name) {
            return Err(TokenError::ExternalKeyReference(name));
        }
    }
    let algorithm = match header.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(TokenError::Malformed("header: alg is not a string".into())),
        None => return Err(TokenError::Malformed("header: alg is missing".into())),
    };
    let algorithm = algorithm
        .parse::<Algorithm>()
        .ok()
        .filter(|alg| rules.algorithms.contains(alg))
        .ok_or_else(|| TokenError::AlgorithmNotAllowed(printable(algorithm, 32)))?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= 256 => Some(kid.clone()),
        Some(_) => {
            return Err(TokenError::Malformed(
                "header: kid is not a short string".into(),
            ));
        }
    };
    Ok(Header {
        algorithm,
        kid,
        signed,
        claims,
        signature,
    })
}

/// The last second of year 9999: later dates are not dates a token can mean, and would overflow
/// `SystemTime` arithmetic.
const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// How much of a parser message or a header value is echoed in an error.
const ECHOED_CHARS: usize = 160;

impl Inner {
    fn is_revoked(&self, session: &Session) -> bool {
        self.any_revoked.load(Ordering::Acquire)
            && session
                .session_id()
                .is_some_and(|sid| self.revoked_sessions.contains_key(sid))
    }

    /// `None` when the token needs a key that is not loaded.
    fn verify_uncached(&self, token: &str, now: u64) -> Option<Result<Session, TokenError>> {
        let header = match parse_header(token, &self.rules) {
            Ok(header) => header,
            Err(error) => return Some(Err(error)),
        };
        let keys = self.keys.load();
        let mut candidates = keys.candidates(header.kid.as_deref()).peekable();
        if candidates.peek().is_none() {
            if self.remote.is_some() {
                return None;
            }
            return Some(Err(if header.kid.is_some() {
                TokenError::UnknownKeyId
            } else {
                TokenError::NoKeyForAlgorithm(format!("{:?}", header.algorithm))
            }));
        }
        Some(self.verify_signed(&header, candidates, now))
    }

    fn verify_signed<'k>(
        &self,
        header: &Header<'_>,
        candidates: impl Iterator<Item = &'k Arc<VerificationKey>>,
        now: u64,
    ) -> Result<Session, TokenError> {
        let mut fitting_key = false;
        let mut verified = false;
        for key in candidates.filter(|key| key.accepts(header.algorithm)) {
            fitting_key = true;
            let matches = jsonwebtoken::crypto::verify(
                header.signature,
                header.signed.as_bytes(),
                key.decoding_key(),
                header.algorithm,
            );
            if matches!(matches, Ok(true)) {
                verified = true;
                break;
            }
        }
        if !fitting_key {
            return Err(TokenError::NoKeyForAlgorithm(format!(
                "{:?}",
                header.algorithm
            )));
        }
        if !verified {
            return Err(TokenError::InvalidSignature);
        }
        let json = decode_segment(header.claims, "claims")?;
        let claims = strict_json::parse_object(&json)
            .map_err(|error| TokenError::InvalidClaims(printable(&error, ECHOED_CHARS)))?;
        let json = String::from_utf8(json)
            .map_err(|_| TokenError::InvalidClaims("claims are not UTF-8".into()))?;
        self.session_from(claims, json.into_boxed_str(), now)
    }

    fn session_from(
        &self,
        raw: Map<String, Value>,
        json: Box<str>,
        now: u64,
    ) -> Result<Session, TokenError> {
        // exp/nbf/iat are read from the raw claims first so that a wrongly typed one is named.
        for name in ["exp", "nbf", "iat"] {
            if let Some(value) = raw.get(name)
                && value
                    .as_u64()
                    .is_none_or(|seconds| seconds > MAX_NUMERIC_DATE)
            {
                return Err(TokenError::InvalidClaims(format!(
                    "{name} is not a NumericDate"
                )));
            }
        }
        let raw = Value::Object(raw);
        let claims = SessionClaims::deserialize(&raw).map_err(|error| {
            TokenError::InvalidClaims(printable(&error.to_string(), ECHOED_CHARS))
        })?;
        let rules = &self.rules;
        if claims.sub.is_empty() {
            return Err(TokenError::InvalidClaims("sub is empty".into()));
        }
        if claims.exp.saturating_add(rules.leeway) <= now {
            return Err(TokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(rules.leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(rules.leeway))
        {
            return Err(TokenError::IssuedInFuture);
        }
        if let Some(issuers) = &rules.issuers
            && !claims.iss.as_ref().is_some_and(|iss| issuers.contains(iss))
        {
            return Err(TokenError::InvalidIssuer);
        }
        if let Some(audiences) = &rules.audiences
            && !claims
                .aud
                .as_ref()
                .is_some_and(|aud| audiences.iter().any(|a| aud.contains(a)))
        {
            return Err(TokenError::InvalidAudience);
        }
        Ok(Session::new(claims, json))
    }

    fn install(&self, next: Arc<KeySet>) {
        let previous = self.keys.swap(next);
        if previous.loses_keys_in(&self.keys.load()) {
            self.key_generation.fetch_add(1, Ordering::AcqRel);
            self.verified.clear();
            tracing::info!("verification keys removed; verified-token cache cleared");
        }
    }

    /// Fetches the JWKS (one fetch at a time, under the upstream timeout) and installs it.
    /// With `reuse_within`, a set that answered that recently is taken instead.
    async fn fetch_keys(
        self: &Arc<Self>,
        remote: &RemoteJwks,
        reuse_within: Option<Duration>,
    ) -> Result<Arc<KeySet>, FlightError<KeyError>> {
        let (http, url) = (remote.http.clone(), remote.url.clone());
        let verifier = self.clone();
        let (_, answer) = remote
            .fetches
            .run(
                (),
                || {
                    reuse_within
                        .filter(|window| remote.answered_within(*window))
                        .map(|_| self.keys.load_full())
                },
                move || async move {
                    fetch_jwks(&http, &url).await.map(Arc::new).inspect_err(|error| {
                        tracing::warn!(%error, "JWKS fetch failed; keeping the last good key set");
                    })
                },
                move |keys| {
                    if let Some(remote) = &verifier.remote {
                        *remote
                            .answered_at
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                            Some(Instant::now());
                    }
                    verifier.install(keys.clone());
                },
            )
            .await;
        answer
    }

    /// Makes sure the key a token names is loaded, fetching the JWKS when it is not.
    ///
    /// A kid is declared unknown (401) only by a JWKS that answered: within the cooldown of
    /// its last answer (at most one refetch per cooldown for unknown kids, so a flood of
    /// random kids cannot hammer the JWKS) or by the fetch made now. A fetch that failed is
    /// [`TokenError::KeysUnavailable`] (503) and marks nothing: the next request asks again.
    async fn load_keys_for(self: &Arc<Self>, kid: Option<&str>) -> Result<(), TokenError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let has_key = |keys: &KeySet| match kid {
            Some(kid) => keys.contains_kid(kid),
            None => !keys.is_empty(),
        };
        if let Some(kid) = kid
            && remote.unknown_kids.contains_key(kid)
        {
            return Err(TokenError::UnknownKeyId);
        }
        if has_key(&self.keys.load()) {
            return Ok(());
        }
        match self.fetch_keys(remote, Some(remote.cooldown)).await {
            Ok(keys) if has_key(&keys) => Ok(()),
            Ok(_) => {
                if let Some(kid) = kid {
                    remote.unknown_kids.insert(kid.to_owned(), ());
                }
                Err(TokenError::UnknownKeyId)
            }
            Err(_) => Err(TokenError::KeysUnavailable),
        }
    }

    fn start_refresher(self: &Arc<Self>) {
        let Some(remote) = &self.remote else { return };
        if remote.refresher_started.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if remote.refresher_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        let interval = remote.refresh_interval;
        runtime.spawn(refresh_periodically(weak, interval));
    }
}

/// Clears `refresher_started` when the refresh task ends for any reason (its runtime shut
/// down, or the verifier was dropped), so that the next verification starts another one.
struct RefresherRunning(Weak<Inner>);

impl Drop for RefresherRunning {
    fn drop(&mut self) {
        if let Some(remote) = self
            .0
            .upgrade()
            .as_ref()
            .and_then(|inner| inner.remote.as_ref())
        {
            remote.refresher_started.store(false, Ordering::Release);
        }
    }
}

// Holds only a weak reference: when the last verifier is dropped, the task ends.
async fn refresh_periodically(verifier: Weak<Inner>, interval: Duration) {
    let _running = RefresherRunning(verifier.clone());
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = verifier.upgrade() else {
            return;
        };
        let Some(remote) = &inner.remote else { return };
        // A failure is logged by the fetch itself; the last good set stays.
        let _ = inner.fetch_keys(remote, None).await;
    }
}

/// The largest JWKS document accepted; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<KeySet, KeyError> {
    let transport = |error: reqwest::Error| KeyError::Fetch {
        url: url.to_owned(),
        reason: "the request failed".into(),
        source: Some(Arc::new(error.without_url())),
    };
    let mut response = http.get(url).send().await.map_err(transport)?;
    if !response.status().is_success() {
        return Err(KeyError::fetch(
            url,
            format!("status {}", response.status()),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(KeyError::fetch(
                url,
                format!("document larger than {MAX_JWKS_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let keys = KeySet::from_jwks(&body)?;
    // An empty set would lock every user out; it is treated as a failed refresh.
    if keys.is_empty() {
        return Err(KeyError::InvalidJwks("no usable signature key".into()));
    }
    tracing::debug!(url, "JWKS fetched");
    Ok(keys)
}

/// Where keys come from, set on [`SessionVerifierBuilder`].
#[derive(Debug)]
enum KeySource {
    Static(Vec<VerificationKey>),
    Url(String),
}

/// Configures a [`SessionVerifier`].
///
/// Defaults: RS256 only, leeway 0, no issuer or audience check, JWKS refreshed every 10 minutes,
/// at most one refetch per 30 s for unknown key ids, 10,000 verified tokens cached.
pub struct SessionVerifierBuilder {
    source: Option<KeySource>,
    algorithms: Vec<Algorithm>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    leeway: Duration,
    refresh_interval: Duration,
    unknown_kid_cooldown: Duration,
    unknown_kid_capacity: u64,
    upstream_timeout: Duration,
    cache_capacity: u64,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for SessionVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionVerifierBuilder")
            .field("source", &self.source)
            .field("algorithms", &self.algorithms)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("refresh_interval", &self.refresh_interval)
            .field("unknown_kid_cooldown", &self.unknown_kid_cooldown)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

impl Default for SessionVerifierBuilder {
    fn default() -> Self {
        SessionVerifierBuilder {
            source: None,
            algorithms: vec![Algorithm::RS256],
            issuers: None,
            audiences: None,
            leeway: Duration::ZERO,
            refresh_interval: Duration::from_secs(600),
            unknown_kid_cooldown: Duration::from_secs(30),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            unknown_kid_capacity: 1024,
            cache_capacity: 10_000,
            http: None,
        }
    }
}

/// Why a verifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierConfigError {
    /// No key source was configured.
    #[error("no verification keys: set a JWKS URL, a JWKS document or static keys")]
    NoKeys,
    /// Two different kinds of key source were configured.
    #[error("a JWKS URL cannot be combined with static keys")]
    ConflictingSources,
    /// The algorithm allowlist is empty.
    #[error("the algorithm allowlist is empty")]
    NoAlgorithms,
    /// The HTTP client for the JWKS could not be built.
    #[error("the HTTP client for the JWKS could not be built")]
    Http(#[source] reqwest::Error),
    /// A key was refused.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl SessionVerifierBuilder {
    /// Fetch keys from a JWKS URL (on first use, on unknown `kid`, and periodically).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(KeySource::Url(url.into()));
        self
    }

    /// WorkOS's JWKS for `client_id`: `{base_url}/sso/jwks/{client_id}`.
    pub fn workos_jwks(self, base_url: &str, client_id: &str) -> Self {
        self.jwks_url(format!(
            "{}/sso/jwks/{client_id}",
            base_url.trim_end_matches('/')
        ))
    }

    /// Use the keys of a JWKS document (`{"keys": [...]}`), fixed for the verifier's life.
    pub fn jwks_document(self, document: &[u8]) -> Result<Self, VerifierConfigError> {
        let keys = parse_jwks(document)?;
        if keys.is_empty() {
            return Err(KeyError::InvalidJwks("no usable signature key".into()).into());
        }
        Ok(keys.into_iter().fold(self, SessionVerifierBuilder::key))
    }

    /// Add one static key (RSA, EC or Ed25519 PEM, or an HMAC secret).
    pub fn key(mut self, key: VerificationKey) -> Self {
        match &mut self.source {
            Some(KeySource::Static(keys)) => keys.push(key),
            _ => self.source = Some(KeySource::Static(vec![key])),
        }
        self
    }

    /// The algorithms a token may use (default: RS256). `alg` comes from here, never from the
    /// token alone.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Accept only tokens whose `iss` is one of `issuers`.
    pub fn issuers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, issuers: I) -> Self {
        self.issuers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// Accept only tokens whose `aud` names one of `audiences`.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 0, like WorkOS's SDKs).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How often the JWKS is refetched in the background (default 10 minutes).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Minimum time between two refetches caused by unknown key ids (default 30 s), and how
    /// long an unknown `kid` is remembered as unknown.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// How long a JWKS fetch may take (default 2 s): requests waiting for keys get 503 by
    /// then. [`AuthzBuilder::upstream_timeout`](crate::AuthzBuilder::upstream_timeout)
    /// sets it together with the other remote calls.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// How many verified tokens are kept (default 10,000).
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The HTTP client used to fetch the JWKS (default: rustls; each fetch is bounded by the
    /// upstream timeout whatever the client's own).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the verifier.
    pub fn build(self) -> Result<SessionVerifier, VerifierConfigError> {
        if self.algorithms.is_empty() {
            return Err(VerifierConfigError::NoAlgorithms);
        }
        let (keys, remote) = match self.source {
            None => return Err(VerifierConfigError::NoKeys),
            Some(KeySource::Static(keys)) => (KeySet::new(keys), None),
            Some(KeySource::Url(url)) => {
                let http = match self.http {
                    Some(http) => http,
                    // No timeout of its own: every fetch is cut off at the upstream timeout.
                    None => reqwest::Client::builder()
                        .build()
                        .map_err(VerifierConfigError::Http)?,
                };
                let remote = RemoteJwks {
                    url,
                    http,
                    cooldown: self.unknown_kid_cooldown,
                    refresh_interval: self.refresh_interval,
                    fetches: SingleFlight::new("JWKS fetch", self.upstream_timeout),
                    answered_at: std::sync::Mutex::new(None),
                    unknown_kids: Cache::builder()
                        .max_capacity(self.unknown_kid_capacity)
                        .time_to_live(self.unknown_kid_cooldown)
                        .build(),
                    refresher_started: AtomicBool::new(false),
                };
                (KeySet::default(), Some(remote))
            }
        };
        let leeway = self.leeway.as_secs();
        let verified = quick_cache::sync::Cache::new(
            usize::try_from(self.cache_capacity)
                .unwrap_or(usize::MAX)
                .max(1),
        );
        Ok(SessionVerifier {
            inner: Arc::new(Inner {
                rules: Rules {
                    algorithms: self.algorithms,
                    issuers: self.issuers,
                    audiences: self.audiences,
                    leeway,
                },
                keys: ArcSwap::from_pointee(keys),
                remote,
                verified,
                revoked_sessions: Cache::builder()
                    .max_capacity(100_000)
                    .expire_after(RevokedFor)
                    .build(),
                any_revoked: AtomicBool::new(false),
                key_generation: AtomicU64::new(0),
            }),
        })
    }
}

/// Revoked session ids are remembered for the duration given at revocation.
struct RevokedFor;

impl moka::Expiry<String, Duration> for RevokedFor {
    fn expire_after_create(
        &self,
        _: &String,
        remember_for: &Duration,
        _: Instant,
    ) -> Option<Duration> {
        Some(*remember_for)
    }
}
