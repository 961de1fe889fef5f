//! Resource-scoped guards: `require_permission(p).on_resource(type, param)` asks the authority
//! whether the session's organization membership holds `p` on the resource the route names.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use http::{Method, Uri};

use super::{forbidden, path_param, path_params};
use crate::Authz;
use crate::check::{Authorizer as _, CheckRequest, DecisionSource, ResourceRef};
use crate::rejection::AuthzRejection;
use crate::session::Session;

/// The longest route parameter accepted as a resource id; WorkOS ids and sensible external ids
/// are far shorter, and a bound keeps garbage out of cache keys and logs.
const MAX_RESOURCE_PARAM_BYTES: usize = 256;

/// The resource a guard allowed, put in the request's extensions for the handler.
///
/// Handlers must scope their own lookups by `organization_id`: WorkOS's external ids are unique
/// only within an organization, so `proj_1` of one tenant and `proj_1` of another are two
/// resources.
///
/// ```
/// use axum::Extension;
/// use workos_authz::guard::AuthorizedResource;
///
/// async fn show_project(Extension(allowed): Extension<AuthorizedResource>) -> String {
///     format!("{} in {}", allowed.resource, allowed.organization_id)
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedResource {
    /// The session's organization, inside which the resource was looked up.
    pub organization_id: String,
    /// The resource, as the route named it.
    pub resource: ResourceRef,
    /// The permission that was checked.
    pub permission: String,
}

/// What a resource resolver sees of the request.
#[derive(Clone, Debug)]
pub struct ResourceContext {
    /// The verified session.
    pub session: Session,
    /// The route parameters, percent-decoded.
    pub params: Vec<(String, String)>,
    /// The request method.
    pub method: Method,
    /// The request URI.
    pub uri: Uri,
}

impl ResourceContext {
    /// One route parameter by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The future returned by a [`ResourceResolver`].
pub type ResolveResourceFuture =
    Pin<Box<dyn Future<Output = Result<ResourceRef, AuthzRejection>> + Send>>;

/// Derives the resource a request acts on, for example from the application's database.
/// Implemented for async closures `Fn(ResourceContext) -> impl Future<Output = Result<ResourceRef,
/// AuthzRejection>>`; return [`AuthzRejection::BadRequest`] (400) for a malformed reference.
pub trait ResourceResolver: Send + Sync + 'static {
    /// The resource of this request.
    fn resolve(&self, context: ResourceContext) -> ResolveResourceFuture;
}

impl<F, Fut> ResourceResolver for F
where
    F: Fn(ResourceContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ResourceRef, AuthzRejection>> + Send + 'static,
{
    fn resolve(&self, context: ResourceContext) -> ResolveResourceFuture {
        Box::pin(self(context))
    }
}

/// How a guard finds the resource of a request.
#[derive(Clone)]
pub(super) enum ResourceBinding {
    External {
        resource_type: String,
        param: String,
    },
    Id {
        param: String,
    },
    Resolver(Arc<dyn ResourceResolver>),
}

impl fmt::Debug for ResourceBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceBinding::External {
                resource_type,
                param,
            } => write!(f, "{resource_type} from {{{param}}}"),
            ResourceBinding::Id { param } => write!(f, "resource id from {{{param}}}"),
            ResourceBinding::Resolver(_) => f.write_str("resolver"),
        }
    }
}

fn resource_param(parts: &mut Parts, name: &str) -> Result<String, AuthzRejection> {
    let Some(value) = path_param(parts, name)? else {
        return Err(AuthzRejection::Misconfigured(format!(
            "the route has no parameter {name:?}"
        )));
    };
    if value.is_empty() {
        return Err(AuthzRejection::BadRequest(format!(
            "route parameter {name} is empty"
        )));
    }
    if value.len() > MAX_RESOURCE_PARAM_BYTES || value.chars().any(char::is_control) {
        return Err(AuthzRejection::BadRequest(format!(
            "route parameter {name} is not a valid resource id"
        )));
    }
    Ok(value)
}

impl ResourceBinding {
    async fn resolve(
        &self,
        session: &Session,
        parts: &mut Parts,
    ) -> Result<ResourceRef, AuthzRejection> {
        match self {
            ResourceBinding::External {
                resource_type,
                param,
            } => Ok(ResourceRef::external(
                resource_type.clone(),
                resource_param(parts, param)?,
            )),
            ResourceBinding::Id { param } => Ok(ResourceRef::id(resource_param(parts, param)?)),
            ResourceBinding::Resolver(resolver) => {
                let context = ResourceContext {
                    session: session.clone(),
                    params: path_params(parts)?
                        .iter()
                        .map(|(key, value)| (key.to_owned(), value.to_owned()))
                        .collect(),
                    method: parts.method.clone(),
                    uri: parts.uri.clone(),
                };
                resolver.resolve(context).await
            }
        }
    }
}

/// Where an allow or a deny came from, for the audit event.
#[derive(Clone, Copy)]
enum Source {
    Claims,
    Authority(DecisionSource),
    None,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Claims => "claims",
            Source::Authority(source) => source.as_str(),
            Source::None => "none",
        }
    }
}

/// Decides a resource-scoped permission for `session`, and logs the decision.
pub(super) async fn authorize(
    authz: &Authz,
    session: &Session,
    permission: &str,
    binding: &ResourceBinding,
    parts: &mut Parts,
) -> Result<AuthorizedResource, AuthzRejection> {
    let started = Instant::now();
    let resource = binding.resolve(session, parts).await;
    let outcome = match &resource {
        Ok(resource) => decide(authz, session, permission, resource).await,
        Err(rejection) => Err((rejection.clone(), Source::None)),
    };
    let organization_id = session.organization_id().unwrap_or_default();
    let resource_name = resource
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (outcome_name, source) = match &outcome {
        Ok(source) => ("allow", *source),
        Err((AuthzRejection::Forbidden { .. }, source)) => ("deny", *source),
        Err((AuthzRejection::Unavailable(_), source)) => ("unavailable", *source),
        Err((_, source)) => ("error", *source),
    };
    tracing::info!(
        target: "workos_authz::audit",
        user_id = session.user_id(),
        organization_id,
        permission,
        resource = %resource_name,
        outcome = outcome_name,
        source = source.as_str(),
        latency_us = started.elapsed().as_micros() as u64,
        "authorization decision"
    );
    match (outcome, resource) {
        (Ok(_), Ok(resource)) => Ok(AuthorizedResource {
            organization_id: organization_id.to_owned(),
            resource,
            permission: permission.to_owned(),
        }),
        (Err((rejection, _)), _) => Err(rejection),
        (Ok(_), Err(rejection)) => Err(rejection),
    }
}

async fn decide(
    authz: &Authz,
    session: &Session,
    permission: &str,
    resource: &ResourceRef,
) -> Result<Source, (AuthzRejection, Source)> {
    let Some(organization_id) = session.organization_id() else {
        return Err((
            forbidden(
                "the session has no organization, and resource checks need one".into(),
                None,
            ),
            Source::None,
        ));
    };
    let Some(authority) = authz.authority() else {
        return Err((
            AuthzRejection::Misconfigured(
                "resource guard without an authorizer: set one with AuthzBuilder::authorizer"
                    .into(),
            ),
            Source::None,
        ));
    };
    let denied = |detail: String, source| Err((forbidden(detail, Some(permission)), source));
    let ownership = authority
        .decisions
        .resource_in_organization(organization_id, resource);
    if ownership == Some(false) {
        return denied(
            format!("resource {resource} is not in organization {organization_id}"),
            Source::Claims,
        );
    }
    // The token's permissions come from organization-level roles, which apply to every
    // resource of the organization. Safe when the resource is known to be in the organization,
    // or when it is named by external id (looked up only inside the session's organization);
    // a raw resource id on a remote authority could belong to anyone, so it is checked.
    let in_organization =
        ownership == Some(true) || matches!(resource, ResourceRef::External { .. });
    if authority.claims_shortcut && in_organization && session.has_permission(permission) {
        return Ok(Source::Claims);
    }
    let membership = match session.organization_membership_id() {
        Some(membership) => membership.to_owned(),
        None => {
            let Some(memberships) = &authority.memberships else {
                return Err((
                    AuthzRejection::Misconfigured(
                        "the token has no organization_membership_id and no membership resolver is set".into(),
                    ),
                    Source::None,
                ));
            };
            match memberships
                .resolve(session.user_id(), organization_id)
                .await
            {
                Ok(Some(membership)) => membership,
                Ok(None) => {
                    return denied(
                        format!("no active membership in organization {organization_id}"),
                        Source::None,
                    );
                }
                Err(error) => return Err((unavailable("membership lookup", &error), Source::None)),
            }
        }
    };
    let request = CheckRequest {
        organization_id: organization_id.to_owned(),
        organization_membership_id: membership,
        permission: permission.to_owned(),
        resource: resource.clone(),
    };
    match authority.decisions.decide(&request).await {
        Ok((decision, source)) if decision.is_allowed() => Ok(Source::Authority(source)),
        Ok((_, source)) => denied(
            format!("requires permission {permission} on {resource}"),
            Source::Authority(source),
        ),
        Err(error) => Err((unavailable("check", &error), Source::None)),
    }
}

/// A 503 whose detail says what failed but not how: the upstream's error text (its URL, the
/// membership id) goes to the log, not to the client.
fn unavailable(what: &str, error: &crate::check::AuthorizerError) -> AuthzRejection {
    tracing::warn!(%error, "authorization {what} failed");
    let detail = match error {
        crate::check::AuthorizerError::Timeout(_) => format!("the authorization {what} timed out"),
        crate::check::AuthorizerError::Unavailable(_) => {
            format!("the authorization {what} is unavailable")
        }
    };
    AuthzRejection::Unavailable(detail)
}
