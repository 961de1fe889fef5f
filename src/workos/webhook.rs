//! Verifying the `WorkOS-Signature` of incoming webhooks.
//!
//! WorkOS signs every webhook: `WorkOS-Signature: t=<unix ms>, v1=<hex HMAC-SHA256>`, where
//! the HMAC key is the endpoint's secret and the message is `"{t}.{raw body}"`. Verify the raw
//! bytes, before any JSON parsing:
//!
//! ```
//! use std::time::SystemTime;
//! use workos_authz::workos::webhook::{WebhookError, WebhookVerifier, sign_webhook};
//!
//! let body = br#"{"id":"event_1","event":"role.updated","data":{},"created_at":"2026-01-01T00:00:00Z"}"#;
//! let verifier = WebhookVerifier::new("whsec_example");
//! let now = SystemTime::now();
//! let header = sign_webhook(body, b"whsec_example", now); // what WorkOS would send
//! let event = verifier.verify(&header, body, now).unwrap();
//! assert_eq!(event.event, "role.updated");
//! // The same delivery again is a replay.
//! assert!(matches!(verifier.verify(&header, body, now), Err(WebhookError::Replayed)));
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use moka::sync::Cache;

use super::events::Event;

/// The name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "WorkOS-Signature";

/// How far the signature's timestamp may be from now, as WorkOS's SDKs default to.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(180);

/// More entries than any real header has: the parser stops there.
const MAX_HEADER_ENTRIES: usize = 8;

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signature header is absent or empty.
    #[error("the WorkOS-Signature header is missing")]
    MissingSignature,
    /// The signature header does not read `t=<ms>, v1=<hex>`.
    #[error("the WorkOS-Signature header is malformed: {0}")]
    MalformedSignature(&'static str),
    /// The timestamp is further from now than the tolerance: possibly a replay.
    #[error(
        "the webhook timestamp is {distance:?} away from now, over the {tolerance:?} tolerance"
    )]
    StaleTimestamp {
        /// How far the timestamp is from now, either way.
        distance: Duration,
        /// The tolerance it exceeds.
        tolerance: Duration,
    },
    /// No signature matches the body and secret.
    #[error("the webhook signature does not match its body")]
    SignatureMismatch,
    /// The signature is valid but the body is not a WorkOS event.
    #[error("the webhook body is not a WorkOS event: {0}")]
    InvalidPayload(#[source] serde_json::Error),
    /// This signature was already accepted ([`WebhookVerifier`] only): a replayed delivery.
    #[error("the webhook signature was already accepted: a replay")]
    Replayed,
}

/// How many accepted signatures a [`WebhookVerifier`] remembers; far more than WorkOS sends
/// within two tolerance windows.
const REMEMBERED_SIGNATURES: u64 = 100_000;

/// Verifies webhooks for one endpoint secret, and refuses a signature it already accepted.
///
/// A signature is valid only within the tolerance of its timestamp, so remembering accepted
/// signatures for twice the tolerance is enough to refuse every replay of a captured
/// delivery; [`verify_webhook`] alone cannot, since it keeps no state.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: hmac::Key,
    tolerance: Duration,
    accepted: Cache<[u8; 32], ()>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("tolerance", &self.tolerance)
            .field("remembered", &self.accepted.entry_count())
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// A verifier for the endpoint's webhook `secret`, with [`DEFAULT_TOLERANCE`].
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        WebhookVerifier::with_tolerance(secret, DEFAULT_TOLERANCE)
    }

    /// A verifier accepting timestamps up to `tolerance` from now either way.
    pub fn with_tolerance(secret: impl AsRef<[u8]>, tolerance: Duration) -> Self {
        let remember_for = tolerance.saturating_mul(2).max(Duration::from_secs(1));
        WebhookVerifier {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            tolerance,
            accepted: Cache::builder()
                .max_capacity(REMEMBERED_SIGNATURES)
                .time_to_live(remember_for)
                .build(),
        }
    }

    /// Like [`verify_webhook`], and refuses ([`WebhookError::Replayed`]) a signature this
    /// verifier has accepted before.
    pub fn verify(
        &self,
        signature_header: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        let signature = verified_signature(signature_header, body, &self.key, self.tolerance, now)?;
        let event: Event = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        // One atomic insert: of two concurrent deliveries of one signature, one is accepted.
        if !self.accepted.entry(signature).or_insert(()).is_fresh() {
            return Err(WebhookError::Replayed);
        }
        Ok(event)
    }
}

/// Checks the signature header of a webhook and, when it is genuine and recent, parses its
/// body as an [`Event`].
///
/// `signature_header` is the value of [`SIGNATURE_HEADER`], `body` the raw request body,
/// `secret` the endpoint's webhook secret, `tolerance` how old (or how far ahead) the
/// signature's timestamp may be ([`DEFAULT_TOLERANCE`]), and `now` the current time (a
/// parameter so tests control it). Signatures are compared in constant time.
///
/// Stateless, so a captured delivery replayed within the tolerance verifies again: a handler
/// should use [`WebhookVerifier`], which remembers what it accepted.
pub fn verify_webhook(
    signature_header: &str,
    body: &[u8],
    secret: &[u8],
    tolerance: Duration,
    now: SystemTime,
) -> Result<Event, WebhookError> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    verified_signature(signature_header, body, &key, tolerance, now)?;
    serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)
}

/// The signature of the header that matches `body`, if the header is well formed and recent.
fn verified_signature(
    signature_header: &str,
    body: &[u8],
    key: &hmac::Key,
    tolerance: Duration,
    now: SystemTime,
) -> Result<[u8; 32], WebhookError> {
    let header = signature_header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<[u8; 32]> = Vec::new();
    for entry in header.split(',').take(MAX_HEADER_ENTRIES) {
        let Some((name, value)) = entry.trim().split_once('=') else {
            return Err(WebhookError::MalformedSignature(
                "an entry is not name=value",
            ));
        };
        match name.trim() {
            // A second `t=` could pair a fresh timestamp with a replayed signature.
            "t" if timestamp.is_some() => {
                return Err(WebhookError::MalformedSignature("two timestamps"));
            }
            "t" => timestamp = Some(value.trim()),
            "v1" => signatures.push(
                decode_hex(value.trim())
                    .ok_or(WebhookError::MalformedSignature("v1 is not 64 hex digits"))?,
            ),
            // Other schemes may appear later; they are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedSignature("no t= timestamp"))?;
    let signed_at_ms: u64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MalformedSignature("t is not a number of milliseconds"))?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedSignature("no v1= signature"));
    }

    let signed_at = UNIX_EPOCH
        .checked_add(Duration::from_millis(signed_at_ms))
        .ok_or(WebhookError::MalformedSignature(
            "t is not a representable time",
        ))?;
    let distance = match now.duration_since(signed_at) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    if distance > tolerance {
        return Err(WebhookError::StaleTimestamp {
            distance,
            tolerance,
        });
    }

    let message = signed_message(timestamp, body);
    signatures
        .into_iter()
        .find(|signature| hmac::verify(key, &message, signature).is_ok())
        .ok_or(WebhookError::SignatureMismatch)
}

/// The `WorkOS-Signature` header WorkOS would send for `body` at `at`: for testing webhook
/// handlers.
pub fn sign_webhook(body: &[u8], secret: &[u8], at: SystemTime) -> String {
    let millis = at
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    let timestamp = millis.to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, &signed_message(&timestamp, body));
    format!("t={timestamp}, v1={}", crate::support::hex(tag.as_ref()))
}

fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// A SHA-256 HMAC in hex: exactly 64 hex digits, either case.
fn decode_hex(text: &str) -> Option<[u8; 32]> {
    crate::support::unhex(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"event_01","event":"organization_membership.updated","data":{"id":"om_1","organization_id":"org_1","user_id":"user_1"},"created_at":"2026-11-23T00:00:00.000Z"}"#;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_000_000_123)
    }

    #[test]
    fn a_valid_signature_yields_the_event() {
        let header = sign_webhook(BODY, SECRET, now());
        let event = verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now())
            .expect("a valid signature");
        assert_eq!(event.id, "event_01");
        assert_eq!(event.organization_membership_id(), Some("om_1"));
        // A few seconds of transit are within the tolerance.
        let later = now() + Duration::from_secs(5);
        assert!(verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, later).is_ok());
    }

    #[test]
    fn a_known_vector_verifies() {
        // Computed independently: Python's hmac.new(b"secret", b"1000." + body, sha256).
        let body =
            br#"{"id":"event_1","event":"user.deleted","data":{"id":"user_1"},"created_at":"x"}"#;
        let header = "t=1000, v1=b9b4437a196f2ec0f9517a04c3d658039132e611ff6e9e0476b0473ed53b69f3";
        let at = UNIX_EPOCH + Duration::from_secs(1);
        let event = verify_webhook(header, body, b"secret", DEFAULT_TOLERANCE, at)
            .expect("the reference signature");
        assert_eq!(event.user_id(), Some("user_1"));
        assert_eq!(sign_webhook(body, b"secret", at), header);
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let header = sign_webhook(BODY, SECRET, now());
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert!(matches!(
            verify_webhook(&header, &tampered, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::SignatureMismatch)
        ));
    }

    #[test]
    fn a_wrong_secret_is_refused() {
        let header = sign_webhook(BODY, b"another secret", now());
        assert!(matches!(
            verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::SignatureMismatch)
        ));
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let old = sign_webhook(BODY, SECRET, now() - Duration::from_secs(181));
        assert!(matches!(
            verify_webhook(&old, BODY, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::StaleTimestamp { .. })
        ));
        let ahead = sign_webhook(BODY, SECRET, now() + Duration::from_secs(600));
        assert!(matches!(
            verify_webhook(&ahead, BODY, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::StaleTimestamp { .. })
        ));
        // The same old signature passes with a longer tolerance: only the age was wrong.
        assert!(verify_webhook(&old, BODY, SECRET, Duration::from_secs(300), now()).is_ok());
    }

    #[test]
    fn malformed_headers_are_refused() {
        let valid = sign_webhook(BODY, SECRET, now());
        let (t, v1) = valid.split_once(", ").unwrap_or_default();
        for header in ["", "   "] {
            assert!(matches!(
                verify_webhook(header, BODY, SECRET, DEFAULT_TOLERANCE, now()),
                Err(WebhookError::MissingSignature)
            ));
        }
        for header in [
            t.to_owned(),
            v1.to_owned(),
            format!("t=abc, {v1}"),
            format!("{t}, v1=zz"),
            format!("{t}, v1={}", "g".repeat(64)),
            format!("{t}, {t}, {v1}"),
            "garbage".to_owned(),
            format!("{t}, v1=é{}", "a".repeat(62)),
        ] {
            assert!(
                matches!(
                    verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now()),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "{header}"
            );
        }
    }

    #[test]
    fn a_timestamp_past_any_representable_time_is_refused_without_panicking() {
        let signed = sign_webhook(BODY, SECRET, now());
        let (_, v1) = signed.split_once(", ").unwrap_or_default();
        let header = format!("t={}, {v1}", u64::MAX);
        // Representable on some platforms (then far too far ahead), not on others.
        assert!(matches!(
            verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::MalformedSignature(_) | WebhookError::StaleTimestamp { .. })
        ));
    }

    #[test]
    fn a_replayed_signature_is_refused_and_others_still_pass() {
        let verifier = WebhookVerifier::new(SECRET);
        let header = sign_webhook(BODY, SECRET, now());
        assert!(verifier.verify(&header, BODY, now()).is_ok());
        let replay = verifier.verify(&header, BODY, now() + Duration::from_secs(60));
        assert!(matches!(replay, Err(WebhookError::Replayed)), "{replay:?}");
        // Another delivery (another timestamp, so another signature) of the same event passes.
        let redelivered = sign_webhook(BODY, SECRET, now() + Duration::from_secs(1));
        assert!(verifier.verify(&redelivered, BODY, now()).is_ok());
        // A bad signature is refused as such, not remembered.
        let wrong = sign_webhook(BODY, b"another secret", now());
        assert!(matches!(
            verifier.verify(&wrong, BODY, now()),
            Err(WebhookError::SignatureMismatch)
        ));
    }

    #[test]
    fn a_signed_body_that_is_not_an_event_is_refused() {
        let body = b"not json";
        let header = sign_webhook(body, SECRET, now());
        assert!(matches!(
            verify_webhook(&header, body, SECRET, DEFAULT_TOLERANCE, now()),
            Err(WebhookError::InvalidPayload(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn a_random_header_is_refused(header in ".{0,200}") {
            proptest::prop_assert!(
                verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now()).is_err()
            );
        }

        #[test]
        fn any_signed_body_verifies_and_any_change_is_caught(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            flip in proptest::prelude::any::<usize>(),
        ) {
            let header = sign_webhook(&body, SECRET, now());
            let verdict = verify_webhook(&header, &body, SECRET, DEFAULT_TOLERANCE, now());
            // The signature holds; only the payload may fail to be an event.
            proptest::prop_assert!(!matches!(
                verdict,
                Err(WebhookError::SignatureMismatch | WebhookError::MalformedSignature(_))
            ));
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip % body.len()] ^= 0x01;
                proptest::prop_assert!(matches!(
                    verify_webhook(&header, &changed, SECRET, DEFAULT_TOLERANCE, now()),
                    Err(WebhookError::SignatureMismatch)
                ));
            }
        }
    }
}
