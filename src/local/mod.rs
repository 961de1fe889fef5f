//! The embedded engine: WorkOS's authorization model in memory.
//!
//! [`LocalEngine`] holds environment roles, organization roles, permissions, organizations,
//! organization memberships, resources (a tree per organization) and role assignments, with
//! WorkOS's rules: a seeded default `member` role, single or multiple roles per membership,
//! a role priority order, role deletion that reassigns or removes, slugs that never change.
//! It answers checks ([`LocalEngine::check`], and [`Authorizer`] for the guards) and the
//! resource and membership queries, and it loads and dumps its whole state as a [`Policy`]
//! file (JSON or TOML).
//!
//! ```
//! use workos_authz::check::ResourceRef;
//! use workos_authz::local::{LocalEngine, NewPermission, NewResource, NewRole};
//!
//! let engine = LocalEngine::new();
//! engine.create_permission(NewPermission::new("projects:read", "Read projects")).unwrap();
//! engine.create_environment_role(NewRole::new("viewer", "Viewer").permissions(["projects:read"])).unwrap();
//! let org = engine.create_organization_with_id("org_acme", "Acme").unwrap();
//! let alice = engine.create_membership("user_alice", &org.id, &[]).unwrap();
//! let apollo = engine
//!     .create_resource(NewResource::new(&org.id, "project", "proj_apollo", "Apollo"))
//!     .unwrap();
//!
//! let apollo_ref = ResourceRef::external("project", "proj_apollo");
//! assert!(!engine.check(&alice.id, "projects:read", &apollo_ref).unwrap());
//! engine.assign_role(&alice.id, "viewer", &ResourceRef::id(&apollo.id)).unwrap();
//! assert!(engine.check(&alice.id, "projects:read", &apollo_ref).unwrap());
//! ```
//!
//! # Semantics
//!
//! `check(membership, permission, resource)` is true if and only if the membership is
//! `active`, the resource belongs to the membership's organization, and a role that carries
//! the permission is one of the membership's organization-level roles or is assigned to the
//! membership on the resource or on one of its ancestors. An organization is itself a
//! resource, the root of its tree: `ResourceRef::external("organization", org_id)` names it.
//!
//! Role slugs are unique across the environment roles and each organization's roles, so a
//! slug names one role wherever it is used.

mod assignments;
mod decisions;
mod error;
mod ids;
mod model;
mod organizations;
mod policy;
mod resources;
mod roles;
mod state;
mod time;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

pub use error::EngineError;
pub use model::{
    AssignmentKind, Changes, Membership, MembershipStatus, NewPermission, NewResource, NewRole,
    Organization, Permission, Resource, ResourceFilter, Role, RoleAssignment, RoleType,
};
pub use policy::{
    Policy, PolicyMembership, PolicyOrganization, PolicyPermission, PolicyResource, PolicyRole,
    PolicyRoleAssignment, PolicySettings,
};

use crate::check::{
    Authorizer, CheckFuture, CheckRequest, MembershipResolver, ResolveFuture, ResourceRef,
};
use state::State;

/// A handle on one in-memory authorization model. Cloning is cheap and every clone sees the
/// same model. Reads (checks, gets, lists, queries) share a read lock and run in parallel;
/// changes take the write lock briefly.
#[derive(Clone)]
pub struct LocalEngine {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    revision: AtomicU64,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine")
            .field("revision", &self.revision())
            .finish_non_exhaustive()
    }
}

impl Default for LocalEngine {
    fn default() -> Self {
        LocalEngine::new()
    }
}

impl LocalEngine {
    /// An empty environment with the seeded default role `member` (no permissions).
    pub fn new() -> Self {
        LocalEngine::from_state(State::new())
    }

    fn from_state(state: State) -> Self {
        LocalEngine {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                revision: AtomicU64::new(0),
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while writing cannot leave a half-applied change: every change validates
        // before it mutates, so the state behind a poisoned lock is still consistent.
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let result = change(&mut state);
        if result.is_ok() {
            self.inner.revision.fetch_add(1, Ordering::AcqRel);
        }
        result
    }

    /// A number that grows with every successful change: compare two readings to know
    /// whether anything changed in between (the emulator persists only then).
    pub fn revision(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    // ----- policy files ---------------------------------------------------------------------

    /// An engine holding exactly `policy`, or the first entry that breaks a rule.
    pub fn from_policy(policy: &Policy) -> Result<Self, EngineError> {
        Ok(LocalEngine::from_state(policy::build_state(policy)?))
    }

    /// An engine from a JSON policy document.
    pub fn from_policy_json(text: &str) -> Result<Self, EngineError> {
        LocalEngine::from_policy(&Policy::from_json(text)?)
    }

    /// An engine from a TOML policy document.
    pub fn from_policy_toml(text: &str) -> Result<Self, EngineError> {
        LocalEngine::from_policy(&Policy::from_toml(text)?)
    }

    /// An engine from a policy file: TOML when the name ends in `.toml`, JSON otherwise.
    pub fn load_policy_file(path: impl AsRef<Path>) -> Result<Self, EngineError> {
        LocalEngine::from_policy(&Policy::from_file(path)?)
    }

    /// Replaces the whole state with `policy`. On error nothing changes: the new state is
    /// built aside and swapped in only when every entry is valid.
    pub fn replace_policy(&self, policy: &Policy) -> Result<(), EngineError> {
        let fresh = policy::build_state(policy)?;
        self.write(|state| {
            *state = fresh;
            Ok(())
        })
    }

    /// The whole state as a policy, which [`LocalEngine::from_policy`] loads back to the same
    /// state (ids and timestamps included).
    pub fn dump_policy(&self) -> Policy {
        policy::dump_state(&self.read())
    }
}

impl Authorizer for LocalEngine {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        let decision = self.decide(request);
        Box::pin(std::future::ready(Ok(decision)))
    }

    fn resource_in_organization(
        &self,
        organization_id: &str,
        resource: &ResourceRef,
    ) -> Option<bool> {
        Some(
            self.read()
                .find_resource(organization_id, resource)
                .is_some(),
        )
    }
}

impl MembershipResolver for LocalEngine {
    fn resolve<'a>(&'a self, user_id: &'a str, organization_id: &'a str) -> ResolveFuture<'a> {
        let membership = self
            .active_membership(user_id, organization_id)
            .map(|m| m.id);
        Box::pin(std::future::ready(Ok(membership)))
    }
}
