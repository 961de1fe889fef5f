//! AuthKit browser sessions: the `wos-session` cookie as WorkOS's JavaScript SDKs
//! (@workos-inc/node, authkit-nextjs) write it. The only module that knows about cookies.
//!
//! - [`Iron`]: iron seals (`Fe26.2*...~2`), byte-compatible with iron-webcrypto, with a
//!   [`PasswordMap`] for rotation and a [`Ttl`] (none for sessions, 600 s for sign-in state).

mod iron;

pub use iron::{
    Iron, MAX_SEAL_LENGTH, MIN_PASSWORD_LENGTH, MalformedSeal, PREFIX, Password, PasswordError,
    PasswordMap, SealError, TIMESTAMP_SKEW, Ttl, UnsealError, VERSION_SUFFIX,
};
