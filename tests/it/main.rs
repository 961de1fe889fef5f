//! The integration tests, one test crate with a module per area: one link instead of one per
//! file, and the shared helpers of `common` compiled once. Built with the `emulator` feature
//! (`cargo test --all-features`), since the emulator stands in for WorkOS in many of them.

mod common;

mod authkit_seal;
mod authkit_session;
mod authkit_sign_in;
mod browser;
mod demo;
mod emulator_api;
mod emulator_authkit;
mod emulator_binary;
mod emulator_idempotency;
mod emulator_limits;
mod emulator_state;
mod emulator_users;
mod freshness;
mod guards;
mod local_policy;
mod local_reference_model;
mod local_rules;
mod pages;
mod request_path;
mod resource_cache;
mod resource_guards;
mod session_jwks;
mod session_tokens;
mod workos_emulator;
mod workos_faults;
