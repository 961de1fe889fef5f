//! Sessions: reading a token from the request, verifying it, and the typed claims it carries.

mod claims;
mod signer;

pub use claims::{Actor, Audience, SessionClaims};
pub use signer::{SignError, TokenSigner};
pub(crate) use signer::{random_hex, unix_now};
