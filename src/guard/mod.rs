//! Route guards: `require_permission("posts:write")` and friends, used with
//! `.route_layer(...)` behind [`Authz::layer`](crate::Authz::layer).
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use workos_authz::{Authz, guard::{require_permission, require_org_param, require_role}};
//!
//! # fn main() -> Result<(), workos_authz::ConfigError> {
//! let authz = Authz::embedded()?;
//! let app: Router = Router::new()
//!     .route("/posts", post(|| async { "created" }).route_layer(require_permission("posts:write")))
//!     .route("/admin", get(|| async { "hi" }).route_layer(require_role("admin")))
//!     .route(
//!         "/orgs/{org_id}/members",
//!         get(|| async { "members" })
//!             .route_layer(require_permission("members:read"))
//!             .route_layer(require_org_param("org_id")),
//!     )
//!     .layer(authz.layer());
//! # Ok(()) }
//! ```
//!
//! A guard answers 401 when the request has no session (behind
//! [`Authz::optional_layer`](crate::Authz::optional_layer)) and 403 when the session lacks
//! what the guard requires. Claims-only guards decide synchronously and never allocate.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

mod resource;

use resource::ResourceBinding;
pub use resource::{AuthorizedResource, ResolveResourceFuture, ResourceContext, ResourceResolver};

use crate::Authz;
use crate::authz::missing_layer;
use crate::rejection::AuthzRejection;
use crate::response_future::ResponseFuture;
use crate::session::Session;
use crate::slug::{PERMISSION_RULE, ROLE_RULE};
pub use crate::slug::{is_valid_permission_slug, is_valid_role_slug};

/// A slug refused when a guard is built: WorkOS would never put it in a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} slug {slug:?}: {rule}")]
pub struct InvalidSlug {
    kind: &'static str,
    slug: String,
    rule: &'static str,
}

fn permission_slug(slug: impl Into<String>) -> Result<String, InvalidSlug> {
    let slug = slug.into();
    if is_valid_permission_slug(&slug) {
        Ok(slug)
    } else {
        Err(InvalidSlug {
            kind: "permission",
            slug,
            rule: PERMISSION_RULE,
        })
    }
}

fn permission_slugs<I: IntoIterator<Item = S>, S: Into<String>>(
    slugs: I,
) -> Result<Vec<String>, InvalidSlug> {
    let slugs = slugs
        .into_iter()
        .map(permission_slug)
        .collect::<Result<Vec<_>, _>>()?;
    if slugs.is_empty() {
        return Err(InvalidSlug {
            kind: "permission",
            slug: String::new(),
            rule: "the list of permissions is empty",
        });
    }
    Ok(slugs)
}

// Guards are built while the router is built, at startup: a wrong slug there is a programming
// error, refused at once like axum refuses a malformed route, not discovered as a 403 later.
fn built<T>(result: Result<T, InvalidSlug>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

/// Requires the permission `slug`: in the session token's `permissions`, or, once bound to a
/// resource with [`RequirePermission::on_resource`], on that resource.
///
/// # Panics
/// When `slug` is not a valid WorkOS permission slug (see [`try_require_permission`]).
pub fn require_permission(slug: impl Into<String>) -> RequirePermission {
    built(try_require_permission(slug))
}

/// [`require_permission`] that returns an error instead of panicking on an invalid slug.
pub fn try_require_permission(slug: impl Into<String>) -> Result<RequirePermission, InvalidSlug> {
    Ok(RequirePermission {
        permission: permission_slug(slug)?,
    })
}

/// The layer made by [`require_permission`]: checks the token's claims, or a resource once
/// bound to one.
///
/// ```
/// use axum::{Router, routing::{delete, get}};
/// use workos_authz::check::ResourceRef;
/// use workos_authz::require_permission;
///
/// let app: Router = Router::new()
///     .route(
///         "/projects/{project_id}",
///         delete(|| async { "deleted" })
///             .route_layer(require_permission("projects:delete").on_resource("project", "project_id")),
///     )
///     .route(
///         "/resources/{resource_id}",
///         get(|| async { "resource" }).route_layer(require_permission("resources:read").on_resource_id("resource_id")),
///     )
///     .route(
///         "/documents/{slug}",
///         get(|| async { "document" }).route_layer(require_permission("documents:read").on_resource_with(
///             |context: workos_authz::guard::ResourceContext| async move {
///                 // Look the document up in the application's own database here.
///                 let slug = context.param("slug").unwrap_or_default().to_owned();
///                 Ok(ResourceRef::external("document", slug))
///             },
///         )),
///     );
/// ```
#[derive(Clone, Debug)]
pub struct RequirePermission {
    permission: String,
}

impl RequirePermission {
    /// Checks the permission on the resource of type `resource_type` whose external id is the
    /// route parameter `param`, inside the session's organization.
    pub fn on_resource(
        self,
        resource_type: impl Into<String>,
        param: impl Into<String>,
    ) -> GuardLayer {
        self.bound(ResourceBinding::External {
            resource_type: resource_type.into(),
            param: param.into(),
        })
    }

    /// Checks the permission on the WorkOS resource (`authz_resource_...`) named by the route
    /// parameter `param`.
    pub fn on_resource_id(self, param: impl Into<String>) -> GuardLayer {
        self.bound(ResourceBinding::Id {
            param: param.into(),
        })
    }

    /// Checks the permission on the resource `resolver` derives from the request.
    pub fn on_resource_with(self, resolver: impl ResourceResolver) -> GuardLayer {
        self.bound(ResourceBinding::Resolver(Arc::new(resolver)))
    }

    fn bound(self, binding: ResourceBinding) -> GuardLayer {
        GuardLayer::new(Rule::Resource {
            permission: self.permission,
            binding,
        })
    }
}

impl<S> Layer<S> for RequirePermission {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            rule: Arc::new(Rule::Permission(self.permission.clone())),
        }
    }
}

/// Requires at least one of `slugs` in the session's permissions.
///
/// # Panics
/// When the list is empty or a slug is invalid.
pub fn require_any_permission<I: IntoIterator<Item = S>, S: Into<String>>(slugs: I) -> GuardLayer {
    built(permission_slugs(slugs).map(|slugs| GuardLayer::new(Rule::AnyPermission(slugs))))
}

/// Requires every one of `slugs` in the session's permissions.
///
/// # Panics
/// When the list is empty or a slug is invalid.
pub fn require_all_permissions<I: IntoIterator<Item = S>, S: Into<String>>(slugs: I) -> GuardLayer {
    built(permission_slugs(slugs).map(|slugs| GuardLayer::new(Rule::AllPermissions(slugs))))
}

/// Requires the role `slug` among the session's `roles` (or its `role`).
///
/// # Panics
/// When `slug` is not a valid WorkOS role slug.
pub fn require_role(slug: impl Into<String>) -> GuardLayer {
    let slug = slug.into();
    if !is_valid_role_slug(&slug) {
        panic!(
            "{}",
            InvalidSlug {
                kind: "role",
                slug,
                rule: ROLE_RULE
            }
        );
    }
    GuardLayer::new(Rule::Role(slug))
}

/// Requires the entitlement `name` in the session's `entitlements`.
pub fn require_entitlement(name: impl Into<String>) -> GuardLayer {
    GuardLayer::new(Rule::Entitlement(name.into()))
}

/// Requires the feature flag `name` in the session's `feature_flags`.
pub fn require_feature_flag(name: impl Into<String>) -> GuardLayer {
    GuardLayer::new(Rule::FeatureFlag(name.into()))
}

/// Tenant isolation: requires the route parameter `param` to equal the session's `org_id`
/// (403 otherwise, and 403 for a session without organization).
pub fn require_org_param(param: impl Into<String>) -> GuardLayer {
    GuardLayer::new(Rule::OrgParam(param.into()))
}

/// What a guard requires.
#[derive(Debug)]
enum Rule {
    Permission(String),
    AnyPermission(Vec<String>),
    AllPermissions(Vec<String>),
    Role(String),
    Entitlement(String),
    FeatureFlag(String),
    OrgParam(String),
    Resource {
        permission: String,
        binding: ResourceBinding,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Permission(slug) => write!(f, "permission {slug}"),
            Rule::AnyPermission(slugs) => write!(f, "any of permissions {}", slugs.join(", ")),
            Rule::AllPermissions(slugs) => write!(f, "all of permissions {}", slugs.join(", ")),
            Rule::Role(slug) => write!(f, "role {slug}"),
            Rule::Entitlement(name) => write!(f, "entitlement {name}"),
            Rule::FeatureFlag(name) => write!(f, "feature flag {name}"),
            Rule::OrgParam(param) => write!(f, "organization matching route parameter {param}"),
            Rule::Resource {
                permission,
                binding,
            } => write!(f, "permission {permission} on {binding:?}"),
        }
    }
}

fn forbidden(detail: String, scope: Option<&str>) -> AuthzRejection {
    AuthzRejection::Forbidden {
        detail,
        scope: scope.map(str::to_owned),
    }
}

impl Rule {
    /// Decides from the session's claims alone (every rule but `OrgParam`).
    fn check_claims(&self, session: &Session) -> Result<(), AuthzRejection> {
        match self {
            Rule::Permission(slug) if session.has_permission(slug) => Ok(()),
            Rule::Permission(slug) => {
                Err(forbidden(format!("requires permission {slug}"), Some(slug)))
            }
            Rule::AnyPermission(slugs) if slugs.iter().any(|s| session.has_permission(s)) => Ok(()),
            Rule::AnyPermission(slugs) => Err(forbidden(
                format!("requires one of the permissions {}", slugs.join(", ")),
                Some(&slugs.join(" ")),
            )),
            Rule::AllPermissions(slugs) => {
                let missing: Vec<&str> = slugs
                    .iter()
                    .filter(|s| !session.has_permission(s))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(forbidden(
                        format!("requires permissions {}", missing.join(", ")),
                        Some(&slugs.join(" ")),
                    ))
                }
            }
            Rule::Role(slug) if session.has_role(slug) => Ok(()),
            Rule::Role(slug) => Err(forbidden(format!("requires role {slug}"), None)),
            Rule::Entitlement(name) if session.entitlements().contains(name) => Ok(()),
            Rule::Entitlement(name) => Err(forbidden(format!("requires entitlement {name}"), None)),
            Rule::FeatureFlag(name) if session.feature_flags().contains(name) => Ok(()),
            Rule::FeatureFlag(name) => {
                Err(forbidden(format!("requires feature flag {name}"), None))
            }
            Rule::OrgParam(_) | Rule::Resource { .. } => {
                unreachable!("decided with the route parameters")
            }
        }
    }

    fn check_org_param(
        param: &str,
        session: &Session,
        parts: &mut http::request::Parts,
    ) -> Result<(), AuthzRejection> {
        let Some(organization_id) = session.organization_id() else {
            return Err(forbidden("the session has no organization".into(), None));
        };
        match path_param(parts, param)? {
            Some(value) if value == organization_id => Ok(()),
            Some(_) => Err(forbidden(
                format!("route parameter {param} names another organization"),
                None,
            )),
            None => Err(AuthzRejection::Misconfigured(format!(
                "the route has no parameter {param:?}"
            ))),
        }
    }
}

/// The route parameters, percent-decoded. axum exposes them only through an extractor; this
/// one reads the request's extensions and never waits, so it is polled once instead of boxed.
fn path_params(parts: &mut http::request::Parts) -> Result<RawPathParams, AuthzRejection> {
    let extraction = pin!(RawPathParams::from_request_parts(parts, &()));
    match extraction.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(params)) => Ok(params),
        Poll::Ready(Err(error)) => Err(AuthzRejection::BadRequest(error.body_text())),
        Poll::Pending => Err(AuthzRejection::Misconfigured(
            "route parameters are not available".into(),
        )),
    }
}

/// One route parameter, percent-decoded; `None` when the route has no such parameter.
fn path_param(
    parts: &mut http::request::Parts,
    name: &str,
) -> Result<Option<String>, AuthzRejection> {
    Ok(path_params(parts)?
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned()))
}

/// The layer made by the `require_*` functions; apply it with `.route_layer(...)`.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    rule: Arc<Rule>,
}

impl GuardLayer {
    fn new(rule: Rule) -> Self {
        GuardLayer {
            rule: Arc::new(rule),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            rule: self.rule.clone(),
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    rule: Arc<Rule>,
}

impl<S, B> Service<Request<B>> for Guard<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let extensions = request.extensions();
        let Some(authz) = extensions.get::<Authz>() else {
            return ResponseFuture::reject(missing_layer().into_response());
        };
        let Some(session) = extensions.get::<Session>() else {
            return ResponseFuture::reject(authz.reject(&AuthzRejection::MissingToken));
        };
        let refusal = match &*self.rule {
            Rule::Resource { .. } => {
                let (authz, session, rule) = (authz.clone(), session.clone(), self.rule.clone());
                let ready = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, ready);
                return ResponseFuture::deferred(Box::pin(async move {
                    let Rule::Resource {
                        permission,
                        binding,
                    } = &*rule
                    else {
                        unreachable!("matched above")
                    };
                    let (mut parts, body) = request.into_parts();
                    match resource::authorize(&authz, &session, permission, binding, &mut parts)
                        .await
                    {
                        Ok(allowed) => {
                            parts.extensions.insert(allowed);
                            inner.call(Request::from_parts(parts, body)).await
                        }
                        Err(rejection) => Ok(authz.reject(&rejection)),
                    }
                }));
            }
            Rule::OrgParam(param) => {
                // Reading route parameters needs the request's parts, so the handles are cloned
                // out of its extensions first.
                let (authz, session) = (authz.clone(), session.clone());
                let (mut parts, body) = request.into_parts();
                let decision = Rule::check_org_param(param, &session, &mut parts);
                request = Request::from_parts(parts, body);
                judge(&self.rule, &authz, &session, decision)
            }
            rule => judge(rule, authz, session, rule.check_claims(session)),
        };
        match refusal {
            None => ResponseFuture::forward(self.inner.call(request)),
            Some(response) => ResponseFuture::reject(response),
        }
    }
}

/// Logs a claims decision; the refusal to send, if any.
fn judge(
    rule: &Rule,
    authz: &Authz,
    session: &Session,
    decision: Result<(), AuthzRejection>,
) -> Option<Response> {
    let outcome = if decision.is_ok() { "allow" } else { "deny" };
    let (user_id, organization_id) = (session.user_id(), session.organization_id());
    match decision {
        Ok(()) => {
            tracing::debug!(user_id, organization_id, %rule, outcome, source = "claims", "authorization decision");
            None
        }
        Err(rejection) => {
            tracing::info!(user_id, organization_id, %rule, outcome, source = "claims", "authorization decision");
            Some(authz.reject(&rejection))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_permission_slug_is_refused_with_a_message_naming_it() {
        let error = try_require_permission("posts write").unwrap_err();
        assert!(error.to_string().contains("\"posts write\""), "{error}");
        let panic = std::panic::catch_unwind(|| require_permission("posts/write")).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("\"posts/write\""), "{message}");
        assert!(std::panic::catch_unwind(|| require_any_permission(Vec::<String>::new())).is_err());
        assert!(std::panic::catch_unwind(|| require_role("Admin")).is_err());
    }
}
