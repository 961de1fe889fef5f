//! workos-authz: authorization middleware for axum, on WorkOS or on an embedded engine.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod local;
pub mod session;
pub mod workos;
