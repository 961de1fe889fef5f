//! The webhook verifier, header and body.
//!
//! Input: `[position: 2 bytes][replacement byte][body]`. Properties: the whole input as a
//! signature header (of any body) is refused, never a panic; a body signed with the secret
//! verifies (or is refused only as not an event); the body with one byte changed is refused as
//! a mismatch; the header with one byte of its timestamp or signature changed is refused.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use workos_authz::workos::webhook::{
    DEFAULT_TOLERANCE, WebhookError, WebhookVerifier, sign_webhook, verify_webhook,
};

const SECRET: &[u8] = b"whsec_fuzz_secret";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_000_000_123)
}

fn verify(header: &str, body: &[u8]) -> Result<(), WebhookError> {
    verify_webhook(header, body, SECRET, DEFAULT_TOLERANCE, now()).map(|_| ())
}

/// The byte ranges of the header's values (`t=` and `v1=`), which the signature binds.
fn value_ranges(header: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for entry in header.split(',') {
        if let Some(at) = entry.find('=') {
            let start = offset + at + 1;
            ranges.push(start..offset + entry.len());
        }
        offset += entry.len() + 1;
    }
    ranges
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    assert!(
        verify(&text, data).is_err(),
        "an unsigned header was accepted"
    );
    assert!(
        verify(&text, b"{}").is_err(),
        "an unsigned header was accepted"
    );

    let (at, replacement, body) = match data {
        [high, low, replacement, body @ ..] => (
            usize::from(*high) << 8 | usize::from(*low),
            *replacement,
            body,
        ),
        _ => return,
    };
    let header = sign_webhook(body, SECRET, now());
    let verdict = verify(&header, body);
    assert!(
        matches!(verdict, Ok(()) | Err(WebhookError::InvalidPayload(_))),
        "a genuine signature was refused: {verdict:?}"
    );
    if verdict.is_ok() {
        let verifier = WebhookVerifier::new(SECRET);
        assert!(verifier.verify(&header, body, now()).is_ok());
        assert!(matches!(
            verifier.verify(&header, body, now()),
            Err(WebhookError::Replayed)
        ));
    }

    if !body.is_empty() {
        let mut changed = body.to_vec();
        let index = at % changed.len();
        changed[index] = if changed[index] == replacement {
            replacement ^ 1
        } else {
            replacement
        };
        assert!(
            matches!(
                verify(&header, &changed),
                Err(WebhookError::SignatureMismatch)
            ),
            "a body changed at {index} verified"
        );
    }

    // One byte of a value changed; hex digits only to another digit value (the case of a hex
    // letter is not part of what it says).
    let ranges = value_ranges(&header);
    let positions: Vec<usize> = ranges.iter().flat_map(Clone::clone).collect();
    let index = positions[at % positions.len()];
    let mut changed = header.clone().into_bytes();
    let original = changed[index];
    let mut new = if original == replacement {
        replacement ^ 1
    } else {
        replacement
    };
    if new.eq_ignore_ascii_case(&original) {
        new ^= 0x01;
    }
    changed[index] = new;
    if let Ok(changed) = String::from_utf8(changed) {
        assert!(
            verify(&changed, body).is_err(),
            "a header changed at {index} verified: {changed}"
        );
    }
});
