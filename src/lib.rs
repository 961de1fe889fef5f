//! workos-authz: authorization middleware for axum, on WorkOS or on an embedded engine.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authz;
pub mod check;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod guard;
pub mod local;
pub mod rejection;
mod response_future;
pub mod session;
pub mod workos;

pub use authz::{
    Authz, AuthzBuilder, AuthzLayer, AuthzService, ConfigError, DEFAULT_WORKOS_BASE_URL, Mode,
    SessionRejection,
};
pub use guard::{
    require_all_permissions, require_any_permission, require_entitlement, require_feature_flag,
    require_org_param, require_permission, require_role,
};
pub use response_future::ResponseFuture;
pub use session::{Session, SessionVerifier, TokenSource};
