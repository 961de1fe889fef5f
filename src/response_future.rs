//! The future shared by the layer and the guards: forward to the inner service, answer at
//! once with a rejection, or (rarely) wait for something asynchronous first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use pin_project_lite::pin_project;

/// The boxed path, taken only when a decision needs I/O (a JWKS refresh, a remote check).
pub(crate) type BoxedResponse<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

pin_project! {
    /// Response future of [`AuthzService`](crate::AuthzService) and
    /// [`Guard`](crate::guard::Guard).
    ///
    /// The common cases (token verified from cache or with a loaded key, claims-only guard)
    /// never allocate: they forward the inner service's future or hold a ready response.
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, E> {
        Forward { #[pin] future: F },
        Reject { response: Option<Response> },
        Deferred { future: BoxedResponse<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(crate) fn forward(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Forward { future },
        }
    }

    pub(crate) fn reject(response: Response) -> Self {
        ResponseFuture {
            kind: Kind::Reject {
                response: Some(response),
            },
        }
    }

    pub(crate) fn deferred(future: BoxedResponse<E>) -> Self {
        ResponseFuture {
            kind: Kind::Deferred { future },
        }
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Forward { future } => future.poll(cx),
            KindProjection::Reject { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProjection::Deferred { future } => future.as_mut().poll(cx),
        }
    }
}
