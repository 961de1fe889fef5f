//! Reading route parameters inside a guard.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use http::request::Parts;

use crate::rejection::AuthzRejection;

/// The route parameters, percent-decoded. axum exposes them only through an extractor; this
/// one reads the request's extensions and never waits, so it is polled once instead of boxed.
pub(super) fn path_params(parts: &mut Parts) -> Result<RawPathParams, AuthzRejection> {
    let extraction = pin!(RawPathParams::from_request_parts(parts, &()));
    match extraction.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(params)) => Ok(params),
        // The route has no parameters at all: the guard is on the wrong route, which no
        // request can fix.
        Poll::Ready(Err(RawPathParamsRejection::MissingPathParams(_))) => {
            Err(AuthzRejection::Misconfigured(
                "the guard reads a route parameter, but its route has none".into(),
            ))
        }
        Poll::Ready(Err(error)) => Err(AuthzRejection::BadRequest(error.body_text())),
        Poll::Pending => Err(AuthzRejection::Misconfigured(
            "route parameters are not available".into(),
        )),
    }
}

/// One route parameter, percent-decoded; `None` when the route has no such parameter.
pub(super) fn path_param(parts: &mut Parts, name: &str) -> Result<Option<String>, AuthzRejection> {
    Ok(path_params(parts)?
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned()))
}

/// A route parameter the guard's configuration names: 500 when the route lacks it (a wiring
/// mistake), the value otherwise.
pub(super) fn required_param(parts: &mut Parts, name: &str) -> Result<String, AuthzRejection> {
    path_param(parts, name)?.ok_or_else(|| {
        AuthzRejection::Misconfigured(format!("the route has no parameter {name:?}"))
    })
}
