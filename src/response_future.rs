//! The future shared by the layer and the guards: forward to the inner service, answer at
//! once with a refusal, or decide asynchronously first and then call the inner service.
//!
//! Modelled on tower-http's `AsyncRequireAuthorization`: the inner service's future is polled
//! in place, and only the decision (a JWKS refresh, a remote check) is boxed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::Response;
use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderValue, Request};
use pin_project_lite::pin_project;
use tower::Service;

/// A decision that needs I/O: the request to pass on (its extensions filled in) with what its
/// response must carry, or the refusal to send.
pub(crate) type Decision<B> =
    Pin<Box<dyn Future<Output = Result<(Request<B>, Option<ResponsePatch>), Response>> + Send>>;

/// What the response to a request authenticated by a browser session must carry: never cached
/// by a shared cache (`Cache-Control: private, no-store`, `Vary: Cookie`), and the new session
/// cookie when the session was refreshed (or the clearing one when it ended).
#[derive(Clone, Debug, Default)]
pub(crate) struct ResponsePatch {
    pub(crate) set_cookie: Option<HeaderValue>,
}

impl ResponsePatch {
    pub(crate) fn setting(cookie: HeaderValue) -> Self {
        ResponsePatch {
            set_cookie: Some(cookie),
        }
    }

    pub(crate) fn apply(self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        headers.append(VARY, HeaderValue::from_static("Cookie"));
        if let Some(cookie) = self.set_cookie {
            headers.append(SET_COOKIE, cookie);
        }
    }

    /// `response`, patched.
    pub(crate) fn applied(self, mut response: Response) -> Response {
        self.apply(&mut response);
        response
    }
}

pin_project! {
    /// Response future of [`AuthzService`](crate::AuthzService) and
    /// [`Guard`](crate::guard::Guard).
    ///
    /// The common cases (token verified from cache or with a loaded key, claims-only guard)
    /// never allocate: they forward the inner service's future or hold a ready response.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Forward { #[pin] future: S::Future, patch: Option<ResponsePatch> },
        Reject { response: Option<Response> },
        Decide { decision: Decision<B>, service: Option<S> },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(crate) fn forward(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Forward {
                future,
                patch: None,
            },
        }
    }

    /// Forwards, then adds `patch` to the response.
    pub(crate) fn forward_patched(future: S::Future, patch: ResponsePatch) -> Self {
        ResponseFuture {
            state: State::Forward {
                future,
                patch: Some(patch),
            },
        }
    }

    pub(crate) fn reject(response: Response) -> Self {
        ResponseFuture {
            state: State::Reject {
                response: Some(response),
            },
        }
    }

    /// Waits for `decision`, then calls `service` (already ready) with the request it gives.
    pub(crate) fn decide(decision: Decision<B>, service: S) -> Self {
        ResponseFuture {
            state: State::Decide {
                decision,
                service: Some(service),
            },
        }
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response>,
{
    type Output = Result<Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            match this.state.as_mut().project() {
                StateProjection::Forward { future, patch } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(patch) = patch.take() {
                        patch.apply(&mut response);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProjection::Reject { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
                StateProjection::Decide { decision, service } => {
                    let (request, patch) = match ready!(decision.as_mut().poll(cx)) {
                        Ok(admitted) => admitted,
                        Err(refusal) => return Poll::Ready(Ok(refusal)),
                    };
                    let mut service = service
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let future = service.call(request);
                    this.state.set(State::Forward { future, patch });
                }
            }
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Forward { .. } => "forward",
            State::Reject { .. } => "reject",
            State::Decide { .. } => "decide",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
