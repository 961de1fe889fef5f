//! Arbitrary headers and claims signed with the HMAC test key, so that everything past the
//! signature is reached: the header rules, the strict JSON reader and the claim validation.
//!
//! Input: `header NUL claims`, or the claims alone (then the header is the default HS256 one).
//! Properties: Ok or a typed error, never a panic; an accepted token's claims are what
//! `serde_json` reads (a differential check of the strict reader), and what the typed session
//! says agrees with them; a header or claims set with a duplicate member is never accepted.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use workos_authz::SessionVerifier;
use workos_authz::fuzzing::{strict_json_object, verify_token_bytes};
use workos_authz_fuzz::{DEFAULT_HEADER, sign_raw, split_at_nul, verifier};

/// Whether serde_json (last member wins) reads `bytes` as an object while the strict reader
/// refuses it: a duplicate member somewhere.
fn has_duplicate_member(bytes: &[u8]) -> bool {
    matches!(serde_json::from_slice::<Value>(bytes), Ok(Value::Object(_)))
        && strict_json_object(bytes).is_err()
}

fuzz_target!(|data: &[u8]| {
    static VERIFIER: OnceLock<SessionVerifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(verifier);
    let (header, claims) = split_at_nul(data);
    let header = header.unwrap_or(DEFAULT_HEADER);
    let token = sign_raw(header, claims);
    let verdict = verify_token_bytes(verifier, token.as_bytes());

    let Ok(session) = verdict else {
        return;
    };
    assert!(
        !has_duplicate_member(header),
        "accepted a header with a duplicate member"
    );
    assert!(
        !has_duplicate_member(claims),
        "accepted claims with a duplicate member"
    );
    let strict = strict_json_object(claims).expect("accepted claims parse strictly");
    let lenient: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(
        lenient,
        Value::Object(strict.clone()),
        "strict and serde_json disagree"
    );
    let seen: Value = session.claims_as().expect("the session's claims read back");
    assert_eq!(
        seen, lenient,
        "the session's claims differ from the token's"
    );

    assert_eq!(
        strict.get("sub").and_then(Value::as_str),
        Some(session.user_id())
    );
    assert_eq!(
        strict.get("org_id").and_then(Value::as_str),
        session.organization_id()
    );
    assert_eq!(
        strict.get("sid").and_then(Value::as_str),
        session.session_id()
    );
    let permissions: Vec<&str> = strict
        .get("permissions")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(permissions, session.permissions());
    assert_eq!(
        strict.get("iss").and_then(Value::as_str),
        Some(workos_authz_fuzz::ISSUER)
    );
});
