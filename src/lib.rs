//! Authorization middleware for axum that speaks WorkOS: verified AuthKit sessions, permission
//! guards answered from the token, and resource-scoped checks answered by WorkOS or by an
//! embedded engine with the same model.
//!
//! # Quick start
//!
//! ```
//! use axum::{Router, routing::{delete, get}};
//! use workos_authz::{Authz, Session, require_permission};
//! use workos_authz::local::{NewPermission, NewResource, NewRole};
//! use workos_authz::session::SessionClaims;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // WorkOS when WORKOS_CLIENT_ID / WORKOS_API_KEY are set; otherwise the embedded setup:
//! // a local signing key and a local engine with WorkOS's RBAC model.
//! let authz = Authz::embedded()?;
//!
//! let app: Router = Router::new()
//!     .route("/me", get(|session: Session| async move { session.user_id().to_owned() }))
//!     .route(
//!         "/projects/{project_id}",
//!         delete(|| async { "deleted" })
//!             .route_layer(require_permission("projects:delete").on_resource("project", "project_id")),
//!     )
//!     .layer(authz.layer());
//!
//! // The embedded engine holds the model: alice is an admin of Acme, whose role carries
//! // projects:delete, and Apollo is one of Acme's projects.
//! let engine = authz.local_engine().expect("embedded setup");
//! engine.create_organization_with_id("org_acme", "Acme")?;
//! engine.create_permission(NewPermission::new("projects:delete", "Delete projects"))?;
//! engine.create_environment_role(NewRole::new("admin", "Admin"))?;
//! engine.set_environment_role_permissions("admin", &["projects:delete"])?;
//! let membership = engine.create_membership("user_alice", "org_acme", &["admin"])?;
//! engine.create_resource(NewResource::new("org_acme", "project", "proj_apollo", "Apollo"))?;
//!
//! // A token as WorkOS would issue it, signed by the embedded key.
//! let token = authz.signer().expect("embedded setup").sign(
//!     &SessionClaims::new("user_alice").organization("org_acme").organization_membership(membership.id),
//! )?;
//!
//! use tower::ServiceExt;
//! let request = axum::http::Request::delete("/projects/proj_apollo")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.clone().oneshot(request).await?.status(), 200);
//!
//! let anonymous = axum::http::Request::delete("/projects/proj_apollo").body(axum::body::Body::empty())?;
//! assert_eq!(app.oneshot(anonymous).await?.status(), 401);
//! # Ok(()) }
//! ```
//!
//! Serve `app` with `axum::serve`; requests carry `Authorization: Bearer <token>`. A request
//! without a valid token gets 401, one without the permission 403, and one the authority could
//! not answer 503; handlers receive the typed [`Session`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authkit;
mod authz;
pub mod check;
#[cfg(feature = "emulator")]
pub mod emulator;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
mod limits;
pub mod local;
pub mod rejection;
mod response_future;
pub mod session;
mod single_flight;
mod slug;
mod support;
pub mod workos;

pub use authz::{
    Authz, AuthzBuilder, AuthzLayer, AuthzService, CACHE_EVENTS, ConfigError, EventsPoller,
    Invalidation, Mode, SessionRejection,
};
pub use guard::{
    require_all_permissions, require_any_permission, require_entitlement, require_feature_flag,
    require_org_param, require_permission, require_role,
};
pub use response_future::ResponseFuture;
pub use session::{Session, SessionVerifier, TokenSource};
