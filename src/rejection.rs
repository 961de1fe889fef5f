//! What the middleware answers when it does not let a request through.
//!
//! Every refusal is an [`AuthzRejection`]: it knows its status, its title and its detail. The
//! default [`ProblemJson`] responder renders it as an RFC 9457 `application/problem+json` body
//! with an RFC 6750 `WWW-Authenticate` header; an application that wants its own pages
//! implements [`Responder`] and sets it with [`AuthzBuilder::responder`](crate::AuthzBuilder::responder).
//! Tokens are never echoed.
//!
//! ```
//! use axum::response::{IntoResponse, Response};
//! use workos_authz::rejection::{AuthzRejection, Responder};
//!
//! struct PlainText;
//!
//! impl Responder for PlainText {
//!     fn respond(&self, rejection: &AuthzRejection) -> Response {
//!         (rejection.status(), rejection.title()).into_response()
//!     }
//! }
//! ```

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

use crate::session::TokenError;

/// Why a request was not let through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzRejection {
    /// No token in the request (401, no `error` attribute: RFC 6750 §3.1).
    #[error("authentication required")]
    MissingToken,
    /// A token was present but is not acceptable (401, `error="invalid_token"`).
    #[error("invalid token: {0}")]
    InvalidToken(TokenError),
    /// The request carries something that cannot be read as one token (401).
    #[error("invalid token: {0}")]
    UnreadableToken(&'static str),
    /// The AuthKit session cookie cannot be used: unreadable, not its token's user, or a
    /// session WorkOS ended (401, no bearer challenge: the browser signs in again).
    #[error("invalid session: {0}")]
    InvalidSession(String),
    /// The session may not do this (403, `error="insufficient_scope"`).
    #[error("forbidden: {detail}")]
    Forbidden {
        /// What is missing, for the response's detail.
        detail: String,
        /// The permission the route requires, when there is one.
        scope: Option<String>,
    },
    /// A deny that must not tell the session the resource exists (404): what a guard built
    /// with [`not_found_on_deny`](crate::guard::GuardLayer::not_found_on_deny) answers
    /// instead of 403, alike for a resource the member may not see and for one that does not
    /// exist.
    #[error("not found")]
    NotFound,
    /// A signed request (a WorkOS webhook) whose signature does not verify (401, no
    /// challenge: there is no token to send).
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// A route parameter that names a resource is missing or malformed (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The authority that decides could not answer (503): never an allow, never a deny.
    #[error("authorization unavailable: {0}")]
    Unavailable(String),
    /// The middleware is wired wrongly, for example a guard without the layer (500).
    #[error("authorization misconfigured: {0}")]
    Misconfigured(String),
}

impl From<TokenError> for AuthzRejection {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::KeysUnavailable => AuthzRejection::Unavailable(
                "the keys to verify the token could not be loaded; try again".into(),
            ),
            error => AuthzRejection::InvalidToken(error),
        }
    }
}

impl AuthzRejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthzRejection::MissingToken
            | AuthzRejection::InvalidToken(_)
            | AuthzRejection::UnreadableToken(_)
            | AuthzRejection::InvalidSession(_)
            | AuthzRejection::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            AuthzRejection::Forbidden { .. } => StatusCode::FORBIDDEN,
            AuthzRejection::NotFound => StatusCode::NOT_FOUND,
            AuthzRejection::BadRequest(_) => StatusCode::BAD_REQUEST,
            AuthzRejection::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthzRejection::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, fixed summary (the problem's `title`).
    pub fn title(&self) -> &'static str {
        match self {
            AuthzRejection::MissingToken => "Authentication required",
            AuthzRejection::InvalidToken(_) | AuthzRejection::UnreadableToken(_) => "Invalid token",
            AuthzRejection::InvalidSession(_) => "Invalid session",
            AuthzRejection::InvalidSignature(_) => "Invalid signature",
            AuthzRejection::Forbidden { .. } => "Forbidden",
            AuthzRejection::NotFound => "Not found",
            AuthzRejection::BadRequest(_) => "Bad request",
            AuthzRejection::Unavailable(_) => "Authorization unavailable",
            AuthzRejection::Misconfigured(_) => "Authorization misconfigured",
        }
    }

    /// A stable URI naming the kind of problem (the problem's `type`).
    pub fn problem_type(&self) -> &'static str {
        match self {
            AuthzRejection::MissingToken => "urn:workos-authz:problem:missing-token",
            AuthzRejection::InvalidToken(_) | AuthzRejection::UnreadableToken(_) => {
                "urn:workos-authz:problem:invalid-token"
            }
            AuthzRejection::InvalidSignature(_) => "urn:workos-authz:problem:invalid-signature",
            AuthzRejection::InvalidSession(_) => "urn:workos-authz:problem:invalid-session",
            AuthzRejection::Forbidden { .. } => "urn:workos-authz:problem:forbidden",
            AuthzRejection::NotFound => "urn:workos-authz:problem:not-found",
            AuthzRejection::BadRequest(_) => "urn:workos-authz:problem:bad-request",
            AuthzRejection::Unavailable(_) => "urn:workos-authz:problem:unavailable",
            AuthzRejection::Misconfigured(_) => "urn:workos-authz:problem:misconfigured",
        }
    }

    /// What exactly went wrong (the problem's `detail`). Never contains the token.
    pub fn detail(&self) -> String {
        match self {
            AuthzRejection::MissingToken => "the request carries no session token".to_owned(),
            AuthzRejection::InvalidToken(error) => error.to_string(),
            AuthzRejection::UnreadableToken(reason) => (*reason).to_owned(),
            // The same words for a hidden resource and a missing one.
            AuthzRejection::NotFound => "no such resource".to_owned(),
            AuthzRejection::Forbidden { detail, .. }
            | AuthzRejection::InvalidSession(detail)
            | AuthzRejection::InvalidSignature(detail)
            | AuthzRejection::BadRequest(detail)
            | AuthzRejection::Unavailable(detail)
            | AuthzRejection::Misconfigured(detail) => detail.clone(),
        }
    }

    /// The `WWW-Authenticate` challenge for 401 and 403 responses (RFC 6750 §3).
    pub fn challenge(&self, realm: &str) -> Option<String> {
        let realm = quotable(realm);
        match self {
            AuthzRejection::MissingToken => Some(format!("Bearer realm=\"{realm}\"")),
            AuthzRejection::InvalidToken(_) | AuthzRejection::UnreadableToken(_) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                quotable(&self.detail())
            )),
            AuthzRejection::Forbidden { scope, .. } => {
                let mut challenge = format!(
                    "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{}\"",
                    quotable(&self.detail())
                );
                if let Some(scope) = scope {
                    challenge.push_str(&format!(", scope=\"{}\"", quotable(scope)));
                }
                Some(challenge)
            }
            _ => None,
        }
    }
}

/// RFC 6750 attribute values may not contain `"` or `\` and must be visible ASCII.
fn quotable(text: &str) -> String {
    crate::support::printable(text, usize::MAX)
}

/// Renders [`AuthzRejection`]s as responses. Implement it to change every refusal the
/// middleware sends (layer, guards and extractors alike).
pub trait Responder: Send + Sync + 'static {
    /// The response for `rejection`.
    fn respond(&self, rejection: &AuthzRejection) -> Response;
}

/// The default responder: RFC 9457 problem details and RFC 6750 challenges.
#[derive(Clone, Debug)]
pub struct ProblemJson {
    realm: String,
}

impl ProblemJson {
    /// A responder whose challenges name `realm`.
    pub fn new(realm: impl Into<String>) -> Self {
        ProblemJson {
            realm: realm.into(),
        }
    }
}

impl Default for ProblemJson {
    fn default() -> Self {
        ProblemJson::new("workos-authz")
    }
}

impl Responder for ProblemJson {
    fn respond(&self, rejection: &AuthzRejection) -> Response {
        let status = rejection.status();
        let body = serde_json::json!({
            "type": rejection.problem_type(),
            "title": rejection.title(),
            "status": status.as_u16(),
            "detail": rejection.detail(),
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = rejection.challenge(&self.realm)
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl IntoResponse for AuthzRejection {
    /// Renders with the default [`ProblemJson`] responder.
    fn into_response(self) -> Response {
        ProblemJson::default().respond(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_challenge_has_no_error_attribute() {
        let challenge = AuthzRejection::MissingToken.challenge("app").unwrap();
        assert_eq!(challenge, "Bearer realm=\"app\"");
    }

    #[test]
    fn challenges_never_carry_quotes_from_their_inputs() {
        let rejection = AuthzRejection::Forbidden {
            detail: "say \"hi\"\\".into(),
            scope: Some("a\"b".into()),
        };
        let challenge = rejection.challenge("re\"alm").unwrap();
        assert_eq!(challenge.matches('"').count(), 8, "{challenge}");
        assert!(challenge.contains("error=\"insufficient_scope\""));
    }
}
