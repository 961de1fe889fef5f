//! Resource-scoped guards: `require_permission(p).on_resource(type, param)` asks the authority
//! whether the session's organization membership holds `p` on the resource the route names.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use http::{Method, Uri};

use super::audit;
use super::params::{path_params, required_param};
use super::rules::ResourceRule;
use crate::authz::{Authz, DecisionOrigin};
use crate::check::ResourceRef;
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
pub(crate) enum ResourceBinding {
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
    let value = required_param(parts, name)?;
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

/// Decides a resource-scoped permission for `session`, and records the audit event.
pub(super) async fn authorize(
    authz: &Authz,
    session: &Session,
    rule: &ResourceRule,
    parts: &mut Parts,
) -> Result<AuthorizedResource, AuthzRejection> {
    let started = Instant::now();
    let permission = rule.permission.as_str();
    let resource = rule.binding.resolve(session, parts).await;
    let decision = match &resource {
        Ok(resource) => {
            authz
                .decide_on_resource(session, permission, resource)
                .await
        }
        Err(rejection) => Err((rejection.clone(), DecisionOrigin::None)),
    };
    let origin = match &decision {
        Ok(origin) | Err((_, origin)) => *origin,
    };
    let resource_name = match &resource {
        Ok(resource) => resource as &dyn fmt::Display,
        Err(_) => &"",
    };
    audit::record(
        session,
        &format_args!("permission {permission} on {:?}", rule.binding),
        permission,
        resource_name,
        decision
            .as_ref()
            .map(|_| ())
            .map_err(|(rejection, _)| rejection),
        origin,
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    decision.map_err(|(rejection, _)| rejection)?;
    Ok(AuthorizedResource {
        organization_id: session.organization_id().unwrap_or_default().to_owned(),
        resource: resource?,
        permission: permission.to_owned(),
    })
}
