//! What a guard requires: the `require_*` functions and the typed [`Rule`] they build.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use super::resource::{ResourceBinding, ResourceResolver};
use super::service::{Guard, GuardLayer};
use crate::authz::forbidden;
use crate::rejection::AuthzRejection;
use crate::session::Session;
use crate::slug::{PERMISSION_RULE, ROLE_RULE, is_valid_permission_slug, is_valid_role_slug};

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

    /// The claims-only guard (the token must hold the permission) answering a deny with 404
    /// instead of 403; see [`GuardLayer::not_found_on_deny`], which the resource-bound guards
    /// take after `on_resource*`.
    pub fn not_found_on_deny(self) -> GuardLayer {
        claims(ClaimsRule::Permission(self.permission)).not_found_on_deny()
    }

    fn bound(self, binding: ResourceBinding) -> GuardLayer {
        GuardLayer::new(Rule::Resource(Arc::new(ResourceRule {
            permission: self.permission,
            binding,
        })))
    }
}

impl<S> Layer<S> for RequirePermission {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard::new(
            inner,
            Arc::new(Rule::Claims(ClaimsRule::Permission(
                self.permission.clone(),
            ))),
        )
    }
}

/// Requires at least one of `slugs` in the session's permissions.
///
/// # Panics
/// When the list is empty or a slug is invalid.
pub fn require_any_permission<I: IntoIterator<Item = S>, S: Into<String>>(slugs: I) -> GuardLayer {
    built(permission_slugs(slugs).map(|slugs| claims(ClaimsRule::AnyPermission(slugs))))
}

/// Requires every one of `slugs` in the session's permissions.
///
/// # Panics
/// When the list is empty or a slug is invalid.
pub fn require_all_permissions<I: IntoIterator<Item = S>, S: Into<String>>(slugs: I) -> GuardLayer {
    built(permission_slugs(slugs).map(|slugs| claims(ClaimsRule::AllPermissions(slugs))))
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
    claims(ClaimsRule::Role(slug))
}

/// Requires the entitlement `name` in the session's `entitlements`.
pub fn require_entitlement(name: impl Into<String>) -> GuardLayer {
    claims(ClaimsRule::Entitlement(name.into()))
}

/// Requires the feature flag `name` in the session's `feature_flags`.
pub fn require_feature_flag(name: impl Into<String>) -> GuardLayer {
    claims(ClaimsRule::FeatureFlag(name.into()))
}

/// Tenant isolation: requires the route parameter `param` to equal the session's `org_id`
/// (403 otherwise, and 403 for a session without organization).
pub fn require_org_param(param: impl Into<String>) -> GuardLayer {
    GuardLayer::new(Rule::OrgParam(param.into()))
}

fn claims(rule: ClaimsRule) -> GuardLayer {
    GuardLayer::new(Rule::Claims(rule))
}

/// What a guard requires, by how it is decided.
#[derive(Debug)]
pub(super) enum Rule {
    /// From the token's claims alone, synchronously.
    Claims(ClaimsRule),
    /// A route parameter must name the session's organization.
    OrgParam(String),
    /// A permission on the resource the route names, asked of the authority.
    Resource(Arc<ResourceRule>),
}

/// A requirement the token's claims answer.
#[derive(Debug)]
pub(super) enum ClaimsRule {
    Permission(String),
    AnyPermission(Vec<String>),
    AllPermissions(Vec<String>),
    Role(String),
    Entitlement(String),
    FeatureFlag(String),
}

/// A permission on the resource a route names.
#[derive(Debug)]
pub(super) struct ResourceRule {
    pub(super) permission: String,
    pub(super) binding: ResourceBinding,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Claims(rule) => rule.fmt(f),
            Rule::OrgParam(param) => write!(f, "organization matching route parameter {param}"),
            Rule::Resource(rule) => {
                write!(f, "permission {} on {:?}", rule.permission, rule.binding)
            }
        }
    }
}

impl fmt::Display for ClaimsRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimsRule::Permission(slug) => write!(f, "permission {slug}"),
            ClaimsRule::AnyPermission(slugs) => {
                write!(f, "any of permissions {}", slugs.join(", "))
            }
            ClaimsRule::AllPermissions(slugs) => {
                write!(f, "all of permissions {}", slugs.join(", "))
            }
            ClaimsRule::Role(slug) => write!(f, "role {slug}"),
            ClaimsRule::Entitlement(name) => write!(f, "entitlement {name}"),
            ClaimsRule::FeatureFlag(name) => write!(f, "feature flag {name}"),
        }
    }
}

impl ClaimsRule {
    /// The permission slugs this rule names, for the audit event (empty for the others).
    pub(super) fn permissions(&self) -> &[String] {
        match self {
            ClaimsRule::Permission(slug) => std::slice::from_ref(slug),
            ClaimsRule::AnyPermission(slugs) | ClaimsRule::AllPermissions(slugs) => slugs,
            ClaimsRule::Role(_) | ClaimsRule::Entitlement(_) | ClaimsRule::FeatureFlag(_) => &[],
        }
    }

    /// Decides from the session's claims.
    pub(super) fn check(&self, session: &Session) -> Result<(), AuthzRejection> {
        match self {
            ClaimsRule::Permission(slug) if session.has_permission(slug) => Ok(()),
            ClaimsRule::Permission(slug) => Err(forbidden(
                &format!("requires permission {slug}"),
                Some(slug),
            )),
            ClaimsRule::AnyPermission(slugs) if slugs.iter().any(|s| session.has_permission(s)) => {
                Ok(())
            }
            ClaimsRule::AnyPermission(slugs) => Err(forbidden(
                &format!("requires one of the permissions {}", slugs.join(", ")),
                Some(&slugs.join(" ")),
            )),
            ClaimsRule::AllPermissions(slugs) => {
                let missing: Vec<&str> = slugs
                    .iter()
                    .filter(|s| !session.has_permission(s))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(forbidden(
                        &format!("requires permissions {}", missing.join(", ")),
                        Some(&slugs.join(" ")),
                    ))
                }
            }
            ClaimsRule::Role(slug) if session.has_role(slug) => Ok(()),
            ClaimsRule::Role(slug) => Err(forbidden(&format!("requires role {slug}"), None)),
            ClaimsRule::Entitlement(name) if session.entitlements().contains(name) => Ok(()),
            ClaimsRule::Entitlement(name) => {
                Err(forbidden(&format!("requires entitlement {name}"), None))
            }
            ClaimsRule::FeatureFlag(name) if session.feature_flags().contains(name) => Ok(()),
            ClaimsRule::FeatureFlag(name) => {
                Err(forbidden(&format!("requires feature flag {name}"), None))
            }
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
