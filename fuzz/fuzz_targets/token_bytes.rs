//! A bearer token as raw bytes: every input is answered Ok or a typed error, never a panic,
//! and nobody without the key gets a session.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use workos_authz::SessionVerifier;
use workos_authz::fuzzing::verify_token_bytes;
use workos_authz_fuzz::verifier;

fuzz_target!(|data: &[u8]| {
    static VERIFIER: OnceLock<SessionVerifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(verifier);
    let verdict = verify_token_bytes(verifier, data);
    // The seeds include tokens signed with the test key; a mutated one keeps its signature
    // only if the mutation left header and claims alone, so an accepted input must be one
    // whose signature is the key's.
    if let Ok(session) = verdict {
        let token = std::str::from_utf8(data).expect("an accepted token is text");
        let (signed, signature) = token.rsplit_once('.').expect("three segments");
        let (header, claims) = signed.split_once('.').expect("three segments");
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let resigned = workos_authz_fuzz::sign_raw(
            &engine.decode(header).expect("header is base64url"),
            &engine.decode(claims).expect("claims are base64url"),
        );
        assert_eq!(resigned.rsplit_once('.').map(|(_, s)| s), Some(signature));
        assert!(!session.user_id().is_empty());
    }
});
