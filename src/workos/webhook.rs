//! Verifying the `WorkOS-Signature` of incoming webhooks.
//!
//! WorkOS signs every webhook: `WorkOS-Signature: t=<unix ms>, v1=<hex HMAC-SHA256>`, where
//! the HMAC key is the endpoint's secret and the message is `"{t}.{raw body}"`. Verify the raw
//! bytes, before any JSON parsing:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use workos_authz::workos::webhook::{DEFAULT_TOLERANCE, sign_webhook, verify_webhook};
//!
//! let body = br#"{"id":"event_1","event":"role.updated","data":{},"created_at":"2026-01-01T00:00:00Z"}"#;
//! let secret = b"whsec_example";
//! let now = SystemTime::now();
//! let header = sign_webhook(body, secret, now); // what WorkOS would send
//! let event = verify_webhook(&header, body, secret, DEFAULT_TOLERANCE, now).unwrap();
//! assert_eq!(event.event, "role.updated");
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;

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
}

/// Checks the signature header of a webhook and, when it is genuine and recent, parses its
/// body as an [`Event`].
///
/// `signature_header` is the value of [`SIGNATURE_HEADER`], `body` the raw request body,
/// `secret` the endpoint's webhook secret, `tolerance` how old (or how far ahead) the
/// signature's timestamp may be ([`DEFAULT_TOLERANCE`]), and `now` the current time (a
/// parameter so tests control it). Signatures are compared in constant time.
pub fn verify_webhook(
    signature_header: &str,
    body: &[u8],
    secret: &[u8],
    tolerance: Duration,
    now: SystemTime,
) -> Result<Event, WebhookError> {
    let header = signature_header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
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

    let signed_at = UNIX_EPOCH + Duration::from_millis(signed_at_ms);
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

    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let message = signed_message(timestamp, body);
    if !signatures
        .iter()
        .any(|signature| hmac::verify(&key, &message, signature).is_ok())
    {
        return Err(WebhookError::SignatureMismatch);
    }
    serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)
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
    let hex: String = tag
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("t={timestamp}, v1={hex}")
}

fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// A SHA-256 HMAC in hex: exactly 64 hex digits, either case.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
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
        fn any_header_is_answered_without_panicking(header in ".{0,200}") {
            let _ = verify_webhook(&header, BODY, SECRET, DEFAULT_TOLERANCE, now());
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
