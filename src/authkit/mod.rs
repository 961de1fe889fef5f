//! AuthKit browser sessions: the `wos-session` cookie as WorkOS's JavaScript SDKs
//! (@workos-inc/node, authkit-nextjs) write it, so a Rust service reads the cookie a Next.js
//! front end set, and the other way round. The only module that knows about cookies.
//!
//! - [`Iron`]: iron seals (`Fe26.2*...~2`), byte-compatible with iron-webcrypto, with a
//!   [`PasswordMap`] for rotation and a [`Ttl`] (none for sessions, 600 s for sign-in state).
//! - [`SessionPayload`]: what the cookie seals (tokens, user, impersonator, organization).
//! - [`CookieConfig`]: the cookie's name, passwords and attributes (authkit-nextjs's defaults
//!   and `WORKOS_COOKIE_*` variables), the `Set-Cookie` values that write and clear it, and
//!   reading it from a request.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, HeaderValue, header::COOKIE};
//! use workos_authz::authkit::{CookieConfig, SessionPayload, SessionUser};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // WORKOS_COOKIE_PASSWORD and friends, here from a table instead of the environment.
//! let config = CookieConfig::from_lookup(|name| match name {
//!     "WORKOS_COOKIE_PASSWORD" => Some("a password of at least thirty-two characters".into()),
//!     "WORKOS_REDIRECT_URI" => Some("https://app.example.com/callback".into()),
//!     _ => None,
//! })?;
//!
//! // Seal a session and render the cookie that stores it.
//! let payload = SessionPayload::new("eyJhbGciOi...", "refresh_token_value", SessionUser::new("user_01", "ada@example.com"))
//!     .with_organization("org_01");
//! let sealed = config.seal(&payload)?;
//! if sealed.exceeds_browser_limit() {
//!     eprintln!("the session cookie is over 4,096 bytes: browsers will drop it");
//! }
//! let set_cookie = config.set_cookie(&sealed);
//! assert!(set_cookie.to_str()?.starts_with("wos-session=Fe26.2*1*"));
//! assert!(set_cookie.to_str()?.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=34560000; Secure"));
//!
//! // The browser sends it back; read and unseal it.
//! let mut headers = HeaderMap::new();
//! let cookie = format!("theme=dark; wos-session={}", sealed.as_str());
//! headers.insert(COOKIE, HeaderValue::from_str(&cookie)?);
//! let seal = config.read(&headers)?.expect("the cookie is there");
//! assert_eq!(config.unseal(&seal)?, payload);
//!
//! // Signing out: the same name, path and domain, Max-Age=0.
//! assert_eq!(config.clear_cookie(), "wos-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
//! # Ok(()) }
//! ```

mod cookie;
mod iron;
mod payload;
mod refresh;
mod sign_in;
mod source;

pub use cookie::{
    BROWSER_COOKIE_LIMIT, CookieConfig, CookieConfigError, CookieReadError, DEFAULT_COOKIE_NAME,
    DEFAULT_MAX_AGE, SameSite, SealedSession, vars,
};
pub use iron::{
    Iron, MAX_SEAL_LENGTH, MIN_PASSWORD_LENGTH, MalformedSeal, PREFIX, Password, PasswordError,
    PasswordMap, SealError, TIMESTAMP_SKEW, Ttl, UnsealError, VERSION_SUFFIX,
};
pub use payload::{Impersonator, SessionPayload, SessionUser};
pub use refresh::{DEFAULT_REPLAY_WINDOW, RefreshError};
pub(crate) use sign_in::session_id_of;
pub use sign_in::{SIGN_IN_COOKIE, SignInError, safe_return_path};
pub use source::AuthKitCookie;
pub(crate) use source::{FoundCookie, RefreshDue};
