//! Sessions: reading a token from the request, verifying it, and the typed claims it carries.
//!
//! A [`SessionVerifier`] turns a token into a [`Session`]; a [`TokenSource`] says where in the
//! request the token is. Handlers receive the `Session` through its axum extractor once
//! [`Authz::layer`](crate::Authz::layer) has verified the request.
//!
//! ```
//! use axum::{Router, routing::get};
//! use workos_authz::Session;
//!
//! async fn me(session: Session) -> String {
//!     format!("{} in {:?}", session.user_id(), session.organization_id())
//! }
//!
//! async fn home(session: Option<Session>) -> &'static str {
//!     if session.is_some() { "welcome back" } else { "hello, stranger" }
//! }
//!
//! let app: Router = Router::new().route("/me", get(me)).route("/", get(home));
//! ```

mod claims;
mod keys;
mod signer;
pub(crate) mod source;
pub(crate) mod strict_json;
mod verifier;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;

use crate::authkit::{Impersonator as CookieImpersonator, SessionPayload, SessionUser};

pub use claims::{Actor, Audience, SessionClaims};
pub use keys::{KeyError, VerificationKey};
pub use signer::{SignError, TokenSigner};
pub use source::{TokenSource, TokenSources};
pub(crate) use verifier::Attempt;
pub use verifier::{
    MAX_TOKEN_BYTES, SessionVerifier, SessionVerifierBuilder, TokenError, VerifierConfigError,
};

/// A verified session: the typed WorkOS claims of the request's token.
///
/// Cheap to clone. Holds the claims, never the token itself, so neither `Debug` nor a log line
/// can leak it.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
    /// The AuthKit cookie the request carried, if it was authenticated by one.
    cookie: Option<Arc<SessionPayload>>,
}

struct SessionInner {
    claims: SessionClaims,
    // The claims as the token carried them, kept as text and read into a tree only when an
    // application asks for a claim of its own: a cached session then costs its typed claims
    // and these bytes, not a second copy of every claim as a JSON tree.
    raw_json: Box<str>,
    raw: OnceLock<serde_json::Value>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let claims = &self.inner.claims;
        f.debug_struct("Session")
            .field("user_id", &claims.sub)
            .field("session_id", &claims.sid)
            .field("organization_id", &claims.org_id)
            .field("roles", &self.roles())
            .field("permissions", &claims.permissions)
            .field("impersonator", &claims.act)
            .field("expires_at", &claims.exp)
            .field("user", &self.user().map(|user| &user.email))
            .finish_non_exhaustive()
    }
}

impl Session {
    /// `raw_json`: the claims object exactly as verified (valid JSON, no duplicate member).
    pub(crate) fn new(claims: SessionClaims, raw_json: Box<str>) -> Self {
        Session {
            inner: Arc::new(SessionInner {
                claims,
                raw_json,
                raw: OnceLock::new(),
            }),
            cookie: None,
        }
    }

    /// This session as carried by an AuthKit cookie whose sealed session is `cookie`.
    pub(crate) fn with_cookie(mut self, cookie: Arc<SessionPayload>) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// The user the AuthKit cookie sealed (id, email, names, ...), when the request was
    /// authenticated by the `wos-session` cookie; `None` for a bearer token, which carries
    /// only the user's id ([`Session::user_id`]).
    pub fn user(&self) -> Option<&SessionUser> {
        self.cookie.as_deref().map(|cookie| &cookie.user)
    }

    /// Who impersonates the user, as the AuthKit cookie sealed it (email and reason), when
    /// the request was authenticated by the cookie. [`Session::impersonator`] reads the token's
    /// `act` claim instead, for any token.
    pub fn sealed_impersonator(&self) -> Option<&CookieImpersonator> {
        self.cookie
            .as_deref()
            .and_then(|cookie| cookie.impersonator.as_ref())
    }

    /// Whether the request was authenticated by the AuthKit cookie (rather than a token).
    pub fn from_cookie(&self) -> bool {
        self.cookie.is_some()
    }

    fn raw(&self) -> &serde_json::Value {
        self.inner.raw.get_or_init(|| {
            // Verified JSON always reads back; Null only guards against a bug elsewhere.
            serde_json::from_str(&self.inner.raw_json).unwrap_or(serde_json::Value::Null)
        })
    }

    /// The user id (`sub`, `user_...`).
    pub fn user_id(&self) -> &str {
        &self.inner.claims.sub
    }

    /// The session id (`sid`, `session_...`).
    pub fn session_id(&self) -> Option<&str> {
        self.inner.claims.sid.as_deref()
    }

    /// The organization the session is scoped to (`org_id`).
    pub fn organization_id(&self) -> Option<&str> {
        self.inner.claims.org_id.as_deref()
    }

    /// The organization-level role (`role`).
    pub fn role(&self) -> Option<&str> {
        self.inner.claims.role.as_deref()
    }

    /// All organization-level roles (`roles`), or `[role]` when the token has no `roles`.
    pub fn roles(&self) -> &[String] {
        let claims = &self.inner.claims;
        match (&claims.roles[..], &claims.role) {
            ([], Some(role)) => std::slice::from_ref(role),
            (roles, _) => roles,
        }
    }

    /// Whether `role` is one of the session's roles.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().iter().any(|r| r == role)
    }

    /// The permissions of the organization-level role(s) (`permissions`).
    pub fn permissions(&self) -> &[String] {
        &self.inner.claims.permissions
    }

    /// Whether the token's claims carry `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions().iter().any(|p| p == permission)
    }

    /// The organization's entitlements (`entitlements`).
    pub fn entitlements(&self) -> &[String] {
        &self.inner.claims.entitlements
    }

    /// The feature flags enabled for the session (`feature_flags`).
    pub fn feature_flags(&self) -> &[String] {
        &self.inner.claims.feature_flags
    }

    /// Who is impersonating the user (`act`), if anyone.
    pub fn impersonator(&self) -> Option<&Actor> {
        self.inner.claims.act.as_ref()
    }

    /// The organization membership id (`organization_membership_id`), present when a WorkOS
    /// JWT template adds it.
    pub fn organization_membership_id(&self) -> Option<&str> {
        self.inner.claims.organization_membership_id.as_deref()
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        // The verifier refuses dates past year 9999, but claims can be built by hand too.
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.inner.claims.exp))
            .unwrap_or(UNIX_EPOCH)
    }

    /// All standard claims, typed.
    pub fn claims(&self) -> &SessionClaims {
        &self.inner.claims
    }

    /// One claim by name, deserialized into `T`: `Ok(None)` when the token does not carry it.
    ///
    /// ```
    /// # use workos_authz::session::{Session, SessionClaims};
    /// # fn demo(session: &Session) -> Result<(), serde_json::Error> {
    /// let tier: Option<String> = session.claim("tier")?;
    /// # Ok(()) }
    /// ```
    pub fn claim<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, serde_json::Error> {
        match self.raw().get(name) {
            None => Ok(None),
            Some(value) => T::deserialize(value).map(Some),
        }
    }

    /// Every claim of the token deserialized into the application's own type.
    ///
    /// ```
    /// # use workos_authz::session::Session;
    /// #[derive(serde::Deserialize)]
    /// struct AppClaims {
    ///     sub: String,
    ///     #[serde(default)]
    ///     tier: Option<String>,
    /// }
    /// # fn demo(session: &Session) -> Result<(), serde_json::Error> {
    /// let claims: AppClaims = session.claims_as()?;
    /// # Ok(()) }
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.raw())
    }
}
