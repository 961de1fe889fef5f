//! [`AuthzLayer`]: finds the request's token, verifies it once, and hands the [`Session`] on.

use std::task::{Context, Poll};

use axum::response::Response;
use http::{Request, StatusCode, Uri};
use tower::{Layer, Service};

use super::handle::Authz;
use super::sign_in::{is_page_navigation, sign_in_redirect};
use crate::rejection::AuthzRejection;
use crate::response_future::ResponseFuture;
use crate::session::source::Found;
use crate::session::{Attempt, Session};

/// Verifies each request's session token and puts the [`Session`] and the [`Authz`] in its
/// extensions, where guards and extractors find them. Made by [`Authz::layer`] (401 without a
/// token) or [`Authz::optional_layer`] (anonymous requests pass).
#[derive(Clone, Debug)]
pub struct AuthzLayer {
    authz: Authz,
    required: bool,
}

impl AuthzLayer {
    pub(super) fn new(authz: Authz, required: bool) -> Self {
        AuthzLayer { authz, required }
    }
}

impl<S> Layer<S> for AuthzLayer {
    type Service = AuthzService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthzService {
            inner,
            authz: self.authz.clone(),
            required: self.required,
        }
    }
}

/// The service made by [`AuthzLayer`].
#[derive(Clone, Debug)]
pub struct AuthzService<S> {
    pub(super) inner: S,
    pub(super) authz: Authz,
    required: bool,
}

impl<S, B> Service<Request<B>> for AuthzService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let authz = &self.authz;
        let attempt = match authz.sources().find(request.headers()) {
            Found::Nothing if self.required => {
                return self.refuse(&request, AuthzRejection::MissingToken);
            }
            Found::Nothing => None,
            Found::Ambiguous(reason) => {
                return self.refuse(&request, AuthzRejection::UnreadableToken(reason));
            }
            Found::Sealed { cookie, seal } => {
                let cookie = cookie.clone();
                return self.call_with_cookie(request, cookie, seal);
            }
            Found::Token(token) => match authz.verifier().verify_with_loaded_keys(token) {
                Attempt::Done(result) => Some(result),
                // A JWKS refresh is needed: the only path that waits, and so the only one boxed.
                Attempt::NeedsKeys => {
                    // Only text reaches this point: the verifier refuses other bytes first.
                    let token = String::from_utf8_lossy(token).into_owned();
                    let authz = authz.clone();
                    // The ready service goes with the decision; a clone stays for the next call.
                    let ready = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, ready);
                    let decision = Box::pin(async move {
                        match authz.verifier().verify_after_refresh(&token).await {
                            Ok(session) => {
                                admit(&mut request, &authz, Some(session));
                                Ok((request, None))
                            }
                            Err(error) => {
                                Err(refusal(&authz, navigation(&request).as_ref(), error.into()))
                            }
                        }
                    });
                    return ResponseFuture::decide(decision, inner);
                }
            },
        };
        let session = match attempt {
            None => None,
            Some(Ok(session)) => Some(session),
            Some(Err(error)) => return self.refuse(&request, error.into()),
        };
        admit(&mut request, authz, session);
        ResponseFuture::forward(self.inner.call(request))
    }
}

impl<S> AuthzService<S> {
    fn refuse<B>(&self, request: &Request<B>, rejection: AuthzRejection) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        ResponseFuture::reject(refusal(
            &self.authz,
            navigation(request).as_ref(),
            rejection,
        ))
    }
}

/// [`refusal`] for `request`.
pub(crate) fn refusal_for<B>(
    authz: &Authz,
    request: &Request<B>,
    rejection: AuthzRejection,
) -> Response {
    refusal(authz, navigation(request).as_ref(), rejection)
}

/// The request's URI when it is a browser's page navigation (where the sign-in redirect
/// returns to), `None` for an API call.
pub(super) fn navigation<B>(request: &Request<B>) -> Option<Uri> {
    is_page_navigation(request.method(), request.headers()).then(|| request.uri().clone())
}

/// What the layer leaves in a request's extensions for the guards and the extractors: the
/// handle and the session in one value, so that admitting a request is one insert.
#[derive(Clone, Debug)]
pub(crate) struct Admitted {
    pub(crate) authz: Authz,
    /// `None` for an anonymous request behind [`Authz::optional_layer`].
    pub(crate) session: Option<Session>,
}

pub(super) fn admit<B>(request: &mut Request<B>, authz: &Authz, session: Option<Session>) {
    request.extensions_mut().insert(Admitted {
        authz: authz.clone(),
        session,
    });
}

/// The response refusing a request: the configured [`Responder`](crate::rejection::Responder)'s,
/// or, for a page navigation without a usable session when the app opted in
/// ([`AuthzBuilder::sign_in_page`](super::AuthzBuilder::sign_in_page)), a redirect to sign in.
pub(super) fn refusal(
    authz: &Authz,
    navigation: Option<&Uri>,
    rejection: AuthzRejection,
) -> Response {
    tracing::info!(status = rejection.status().as_u16(), reason = %rejection, "request refused");
    if rejection.status() == StatusCode::UNAUTHORIZED
        && let (Some(uri), Some(login)) = (navigation, authz.sign_in_page())
    {
        return sign_in_redirect(login, uri);
    }
    authz.reject(&rejection)
}
