//! What the fuzz targets share: the HMAC test key and its verifier, a token signer that signs
//! arbitrary bytes, a runtime for the targets that drive a router, and the model they run on.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use workos_authz::SessionVerifier;
use workos_authz::session::VerificationKey;

/// The HMAC key the structured token targets sign with (a test value).
pub const HMAC_KEY: &[u8] = b"fuzzing-key-0123456789abcdef0123456789abcdef";
/// The issuer and audience the fuzzing verifier requires.
pub const ISSUER: &str = "https://auth.fuzz.test";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "client_fuzz";
/// The header the token targets use when the input does not bring its own.
pub const DEFAULT_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT","kid":"fuzz"}"#;

/// A verifier holding only the HMAC test key (kid `fuzz`), HS256 only, strict issuer and
/// audience: no JWKS, so verification never waits.
pub fn verifier() -> SessionVerifier {
    SessionVerifier::builder()
        .key(VerificationKey::hmac_secret(HMAC_KEY).with_kid("fuzz"))
        .algorithms([Algorithm::HS256])
        .issuers([ISSUER])
        .audiences([AUDIENCE])
        .build()
        .expect("the fuzzing verifier is valid")
}

/// `b64(header).b64(claims).signature` with the header and claims taken as raw bytes, so that
/// duplicate members, non-UTF-8 and non-objects are signed too.
pub fn sign_raw(header: &[u8], claims: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(HMAC_KEY),
        Algorithm::HS256,
    )
    .expect("HS256 signs any bytes");
    format!("{message}.{signature}")
}

/// Splits `data` at its first NUL byte: JSON text never holds one, so a seed file of plain
/// JSON is the second part alone.
pub fn split_at_nul(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&byte| byte == 0) {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    }
}

/// One current-thread runtime per fuzzing process, for the targets that drive a router.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

/// The model the router targets run on: the README's example organization (permissions,
/// environment and resource-type roles, an organization with its own role, memberships and
/// a resource tree).
pub const MODEL: &str = include_str!("../fixtures/model.json");
