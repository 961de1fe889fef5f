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
use crate::authz::{Admitted, DecisionOrigin, forbidden, missing_layer, refusal_for};
use crate::rejection::AuthzRejection;
use crate::response_future::ResponseFuture;
use crate::session::Session;

/// The layer made by the `require_*` functions; apply it with `.route_layer(...)`.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    rule: Arc<Rule>,
    not_found_on_deny: bool,
}

impl GuardLayer {
    pub(super) fn new(rule: Rule) -> Self {
        GuardLayer {
            rule: Arc::new(rule),
            not_found_on_deny: false,
        }
    }

    /// Answers a deny with 404 (problem+json, detail "no such resource", no challenge)
    /// instead of 403, so that a member cannot tell a resource it may not see from one that
    /// does not exist. Meant for resource guards (any binding: external id, resource id,
    /// resolver), where a deny for a missing resource and for a hidden one are the same
    /// answer; on a claims guard it hides the route the same way. Other refusals keep their
    /// status: 401, 400, 500, 503 (a 503 says nothing about the resource).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use workos_authz::require_permission;
    ///
    /// let app: Router = Router::new().route(
    ///     "/projects/{project_id}",
    ///     get(|| async { "project" }).route_layer(
    ///         require_permission("projects:read")
    ///             .on_resource("project", "project_id")
    ///             .not_found_on_deny(),
    ///     ),
    /// );
    /// ```
    pub fn not_found_on_deny(mut self) -> Self {
        self.not_found_on_deny = true;
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            rule: self.rule.clone(),
            not_found_on_deny: self.not_found_on_deny,
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    rule: Arc<Rule>,
    not_found_on_deny: bool,
}

impl<S> Guard<S> {
    pub(super) fn new(inner: S, rule: Arc<Rule>) -> Self {
        Guard {
            inner,
            rule,
            not_found_on_deny: false,
        }
    }
}

/// The refusal a client sees: a deny as 404 when the guard hides what it denies. The audit
/// event has already recorded the deny itself.
fn shown(rejection: AuthzRejection, not_found_on_deny: bool) -> AuthzRejection {
    match rejection {
        AuthzRejection::Forbidden { .. } if not_found_on_deny => AuthzRejection::NotFound,
        other => other,
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
            return ResponseFuture::reject(refusal_for(
                authz,
                &request,
                AuthzRejection::MissingToken,
            ));
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
                let not_found_on_deny = self.not_found_on_deny;
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
                        Err(rejection) => Err(authz.reject(&shown(rejection, not_found_on_deny))),
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
                let rejection = shown(rejection, self.not_found_on_deny);
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
