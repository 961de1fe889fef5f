//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not part of the API).
//!
//! The parsers an attacker reaches first are crate-private: the strict JSON reader of token
//! headers and claims, the byte-level token path a bearer header takes, and the steps the
//! client reads a WorkOS answer in. These wrappers let the targets drive exactly that code,
//! not a copy of it. Everything else the targets use is the public API.

use std::time::SystemTime;

use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::session::{Attempt, Session, SessionVerifier, TokenError};

/// Parses `bytes` as the token reader does: any JSON value, duplicate member names refused
/// at every depth.
pub fn strict_json_value(bytes: &[u8]) -> Result<Value, String> {
    crate::session::strict_json::parse_value(bytes)
}

/// Parses `bytes` as a token header or claims set: a JSON object with unique member names.
pub fn strict_json_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    crate::session::strict_json::parse_object(bytes)
}

/// Verifies `token` as it arrives in a bearer header (bytes, not yet known to be text) with
/// the keys the verifier holds. A token that would need a JWKS fetch is
/// [`TokenError::UnknownKeyId`]: the targets use static keys, so none does.
pub fn verify_token_bytes(verifier: &SessionVerifier, token: &[u8]) -> Result<Session, TokenError> {
    match verifier.verify_with_loaded_keys(token) {
        Attempt::Done(result) => result,
        Attempt::NeedsKeys => Err(TokenError::UnknownKeyId),
    }
}

/// Reads one WorkOS answer (status, headers, body) as [`crate::workos::WorkOsClient`] reads
/// the answer to a call that expects a `T`.
pub fn client_answer<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<T, crate::workos::WorkOsError> {
    crate::workos::read_answer(status, headers, body, now)
}
