//! The axum extractors for [`Session`].
//!
//! They live beside [`Authz`] rather than in `session/` because a refusal is rendered by the
//! application's [`Responder`](crate::rejection::Responder), which the `Authz` handle carries.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::handle::Authz;
use super::layer::Admitted;
use crate::rejection::AuthzRejection;
use crate::session::Session;

/// Rejection of the [`Session`] extractor: 401 when the request has no session, 500 when no
/// [`AuthzLayer`](super::AuthzLayer) ran (a wiring mistake, refused loudly rather than
/// treated as anonymous).
#[derive(Debug)]
pub struct SessionRejection {
    rejection: AuthzRejection,
    authz: Option<Authz>,
}

impl SessionRejection {
    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.rejection.status()
    }

    /// Why there is no session.
    pub fn rejection(&self) -> &AuthzRejection {
        &self.rejection
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match &self.authz {
            Some(authz) => authz.reject(&self.rejection),
            None => self.rejection.into_response(),
        }
    }
}

pub(crate) fn missing_layer() -> AuthzRejection {
    AuthzRejection::Misconfigured(
        "no AuthzLayer ran for this route: add `.layer(authz.layer())`".into(),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Admitted>() {
            Some(Admitted {
                session: Some(session),
                ..
            }) => Ok(session.clone()),
            Some(Admitted { authz, .. }) => Err(SessionRejection {
                rejection: AuthzRejection::MissingToken,
                authz: Some(authz.clone()),
            }),
            None => Err(SessionRejection {
                rejection: missing_layer(),
                authz: None,
            }),
        }
    }
}

/// `Option<Session>`: `None` for an anonymous request (behind
/// [`Authz::optional_layer`](super::Authz::optional_layer)). A request with a bad token never
/// gets here: the layer has already refused it with 401.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Admitted>() {
            Some(admitted) => Ok(admitted.session.clone()),
            None => Err(SessionRejection {
                rejection: missing_layer(),
                authz: None,
            }),
        }
    }
}

/// The request's [`Authz`], for handlers that ask it more than the guards do (the list of
/// what a member may read, the permissions on one resource): present behind
/// [`Authz::layer`](super::Authz::layer) and [`Authz::optional_layer`](super::Authz::optional_layer), a 500
/// without either (a wiring mistake).
impl<S: Send + Sync> FromRequestParts<S> for Authz {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Admitted>() {
            Some(admitted) => Ok(admitted.authz.clone()),
            None => Err(SessionRejection {
                rejection: missing_layer(),
                authz: None,
            }),
        }
    }
}
