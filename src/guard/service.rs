//! [`GuardLayer`] and [`Guard`]: the tower layer and service every `require_*` builds.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};

use super::audit;
use super::params::required_param;
use super::resource;
use super::rules::Rule;
use crate::authz::{Admitted, DecisionOrigin, forbidden, missing_layer};
use crate::rejection::AuthzRejection;
use crate::response_future::ResponseFuture;
use crate::session::Session;

/// The layer made by the `require_*` functions; apply it with `.route_layer(...)`.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    rule: Arc<Rule>,
}

impl GuardLayer {
    pub(super) fn new(rule: Rule) -> Self {
        GuardLayer {
            rule: Arc::new(rule),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard::new(inner, self.rule.clone())
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    rule: Arc<Rule>,
}

impl<S> Guard<S> {
    pub(super) fn new(inner: S, rule: Arc<Rule>) -> Self {
        Guard { inner, rule }
    }
}

impl<S, B> Service<Request<B>> for Guard<S>
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

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(admitted) = request.extensions().get::<Admitted>() else {
            return ResponseFuture::reject(missing_layer().into_response());
        };
        let authz = &admitted.authz;
        let Some(session) = &admitted.session else {
            return ResponseFuture::reject(authz.reject(&AuthzRejection::MissingToken));
        };
        let (request, decision) = match &*self.rule {
            Rule::Claims(rule) => {
                let decision = rule.check(session);
                record_claims_decision(session, rule, rule.permissions(), &decision);
                (request, decision)
            }
            Rule::OrgParam(param) => {
                let session = session.clone();
                let (mut parts, body) = request.into_parts();
                let decision = check_org_param(param, &session, &mut parts);
                record_claims_decision(&session, &*self.rule, &[], &decision);
                (Request::from_parts(parts, body), decision)
            }
            Rule::Resource(rule) => {
                let (authz, session, rule) = (authz.clone(), session.clone(), rule.clone());
                // The ready service goes with the decision; a clone stays for the next call.
                let ready = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, ready);
                let decision = Box::pin(async move {
                    let (mut parts, body) = request.into_parts();
                    match resource::authorize(&authz, &session, &rule, &mut parts).await {
                        Ok(allowed) => {
                            parts.extensions.insert(allowed);
                            Ok((Request::from_parts(parts, body), None))
                        }
                        Err(rejection) => Err(authz.reject(&rejection)),
                    }
                });
                return ResponseFuture::decide(decision, inner);
            }
        };
        match decision {
            Ok(()) => ResponseFuture::forward(self.inner.call(request)),
            Err(rejection) => {
                let admitted = request.extensions().get::<Admitted>();
                let admitted = admitted.expect("checked above");
                ResponseFuture::reject(admitted.authz.reject(&rejection))
            }
        }
    }
}

/// Tenant isolation: the route parameter `param` must name the session's organization.
fn check_org_param(
    param: &str,
    session: &Session,
    parts: &mut Parts,
) -> Result<(), AuthzRejection> {
    let Some(organization_id) = session.organization_id() else {
        return Err(forbidden("the session has no organization", None));
    };
    if required_param(parts, param)? == organization_id {
        Ok(())
    } else {
        Err(forbidden(
            &format!("route parameter {param} names another organization"),
            None,
        ))
    }
}

fn record_claims_decision(
    session: &Session,
    rule: &dyn std::fmt::Display,
    permissions: &[String],
    decision: &Result<(), AuthzRejection>,
) {
    if !audit::enabled() {
        return;
    }
    // Most rules name one permission or none: join only when there are several.
    let joined;
    let permission = match permissions {
        [] => "",
        [one] => one.as_str(),
        many => {
            joined = many.join(" ");
            joined.as_str()
        }
    };
    audit::record(
        session,
        rule,
        permission,
        &"",
        decision.as_ref().map(|_| ()),
        DecisionOrigin::Claims,
        0,
    );
}
