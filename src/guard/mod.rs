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
//! Every decision is an audit event (target `workos_authz::audit`).
//!
//! - `rules`: the `require_*` functions and what each requires;
//! - `params`: reading route parameters;
//! - `service`: [`GuardLayer`] and [`Guard`];
//! - `resource`: binding a guard to the resource a route names;
//! - `audit`: the audit event.

mod audit;
mod params;
mod resource;
mod rules;
mod service;

pub use crate::slug::{is_valid_permission_slug, is_valid_role_slug};
pub use resource::{AuthorizedResource, ResolveResourceFuture, ResourceContext, ResourceResolver};
pub use rules::{
    InvalidSlug, RequirePermission, require_all_permissions, require_any_permission,
    require_entitlement, require_feature_flag, require_org_param, require_permission, require_role,
    try_require_permission,
};
pub use service::{Guard, GuardLayer};
