//! The question a resource-scoped guard asks, and the authorities that answer it.
//!
//! An [`Authorizer`] answers one [`CheckRequest`]: may this organization membership use this
//! permission on this resource? It also answers the questions of list and detail pages: which
//! resources of a type the membership may act on ([`ListRequest`]), and which permissions it
//! holds on one resource ([`PermissionsRequest`]). The embedded engine ([`crate::local`]) and
//! WorkOS (through the client in `workos`) both implement it, so routes do not change when the
//! authority does.
//!
//! This module knows nothing of tokens or HTTP: the guard builds the request from the session
//! and the route, and turns the [`Decision`] or [`AuthorizerError`] into a response.

mod accessible;
mod cache;
mod lists;
mod membership;
mod permissions;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use accessible::{
    AccessibleResource, AccessibleResources, ListRequest, QueryFilter, ResourceSet,
};
pub use cache::{CacheStats, CachedAuthorizer, CachedAuthorizerBuilder, DecisionSource};
pub use membership::MembershipCache;
pub use permissions::{EffectivePermissions, PermissionsRequest};

/// The future returned by [`Authorizer::check`]; boxed so that authorities can be used as
/// trait objects (`Arc<dyn Authorizer>`).
pub type CheckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Decision, AuthorizerError>> + Send + 'a>>;

/// The future returned by [`Authorizer::accessible_resources`].
pub type ListFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<AccessibleResource>, AuthorizerError>> + Send + 'a>>;

/// The future returned by [`Authorizer::effective_permissions`]: the permission slugs.
pub type PermissionsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, AuthorizerError>> + Send + 'a>>;

/// The resource a check is about, as a route names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceRef {
    /// A WorkOS resource id (`authz_resource_...`).
    Id(String),
    /// The application's own identifier for a resource of a type, unique within an organization.
    External {
        /// The resource type slug, for example `project`.
        resource_type: String,
        /// The application's id for the resource, for example `proj_apollo`.
        external_id: String,
    },
}

impl ResourceRef {
    /// A resource named by its WorkOS id.
    pub fn id(id: impl Into<String>) -> Self {
        ResourceRef::Id(id.into())
    }

    /// A resource named by its type and the application's external id.
    pub fn external(resource_type: impl Into<String>, external_id: impl Into<String>) -> Self {
        ResourceRef::External {
            resource_type: resource_type.into(),
            external_id: external_id.into(),
        }
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceRef::Id(id) => f.write_str(id),
            ResourceRef::External {
                resource_type,
                external_id,
            } => {
                write!(f, "{resource_type}:{external_id}")
            }
        }
    }
}

/// One authorization question: may `organization_membership_id` use `permission` on `resource`?
///
/// `organization_id` is the organization of the session that asks. External ids are unique
/// only within an organization, so the resource is always looked up inside it: a resource of
/// another organization is never authorized.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckRequest {
    /// The organization the session belongs to (`org_...`).
    pub organization_id: String,
    /// The organization membership that asks (`om_...`).
    pub organization_membership_id: String,
    /// The permission slug, for example `projects:read`.
    pub permission: String,
    /// The resource the permission is asked for.
    pub resource: ResourceRef,
}

/// The answer to a [`CheckRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The membership holds the permission on the resource.
    Allow,
    /// It does not.
    Deny,
}

impl Decision {
    /// `Allow` when `authorized` is true.
    pub fn from_authorized(authorized: bool) -> Self {
        if authorized {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// Whether this is [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Why an authority could not answer. Never a reason to allow, never a reason to deny: the
/// guard turns it into 503.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizerError {
    /// The authority did not answer in time.
    #[error("the authority did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The authority answered with an error or could not be reached.
    #[error("the authority is unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
        /// The error behind it (the client's), when there is one.
        #[source]
        source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// A list (of accessible resources, or of permissions) went past its maximum
    /// ([`CachedAuthorizerBuilder::max_listed_resources`] for resources): an error rather
    /// than a list cut short.
    #[error("the authority listed more than {limit} items, and no partial list is used")]
    ListTooLong {
        /// The maximum.
        limit: usize,
    },
    /// The authority does not answer this kind of question (a custom [`Authorizer`] that
    /// implements only [`Authorizer::check`]).
    #[error("the authority cannot answer {0}")]
    Unsupported(&'static str),
}

impl AuthorizerError {
    /// An authority that is unavailable for `reason`, with no error behind it.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        AuthorizerError::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// An authority that is unavailable because of `error`.
    pub fn caused_by(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AuthorizerError::Unavailable {
            reason: error.to_string(),
            source: Some(std::sync::Arc::new(error)),
        }
    }
}

/// Something that answers [`CheckRequest`]s: the embedded engine, WorkOS, or a cache in front
/// of either.
///
/// The list and permission-set questions have default methods that answer
/// [`AuthorizerError::Unsupported`], so an authority that only checks stays a few lines; both
/// built-in authorities answer them.
pub trait Authorizer: Send + Sync + 'static {
    /// Answers one check.
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a>;

    /// Every resource of `request.resource_type` under `request.parent` (the organization
    /// when `None`) on which the membership may use `request.permission`, inheritance
    /// included, read to the end. More than `max_resources` items read is
    /// [`AuthorizerError::ListTooLong`], never a shorter list. A membership or parent the
    /// authority does not know is an empty list (the deny of a check), not an error.
    fn accessible_resources<'a>(
        &'a self,
        request: &'a ListRequest,
        max_resources: usize,
    ) -> ListFuture<'a> {
        let _ = (request, max_resources);
        Box::pin(std::future::ready(Err(AuthorizerError::Unsupported(
            "a list of accessible resources",
        ))))
    }

    /// Every permission slug the membership holds on `request.resource`, from the sources a
    /// check consults (roles on the resource, on its ancestors, organization-level roles), so
    /// that a slug it omits is one a check would refuse. A membership or resource the
    /// authority does not know is an empty set.
    fn effective_permissions<'a>(
        &'a self,
        request: &'a PermissionsRequest,
    ) -> PermissionsFuture<'a> {
        let _ = request;
        Box::pin(std::future::ready(Err(AuthorizerError::Unsupported(
            "the effective permissions on a resource",
        ))))
    }

    /// Whether `resource` belongs to `organization_id`, when the authority knows without a
    /// remote call: `Some(true)` or `Some(false)` for the embedded engine, `None` (the
    /// default) for a remote authority. Guards use it so that the claims shortcut never lets a
    /// session act on another organization's resource.
    fn resource_in_organization(
        &self,
        organization_id: &str,
        resource: &ResourceRef,
    ) -> Option<bool> {
        let _ = (organization_id, resource);
        None
    }
}

/// The future returned by [`MembershipResolver::resolve`].
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, AuthorizerError>> + Send + 'a>>;

/// Finds the active organization membership id (`om_...`) of a user in an organization, for
/// sessions whose token does not carry the `organization_membership_id` claim.
pub trait MembershipResolver: Send + Sync + 'static {
    /// The active membership of `user_id` in `organization_id`, or `None` when there is none.
    fn resolve<'a>(&'a self, user_id: &'a str, organization_id: &'a str) -> ResolveFuture<'a>;
}
