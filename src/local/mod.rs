//! The embedded engine: WorkOS's authorization model in memory.
//!
//! [`LocalEngine`] holds environment roles, organization roles, permissions, organizations,
//! organization memberships, resources (a tree per organization) and role assignments, with
//! WorkOS's rules: a seeded default `member` role, single or multiple roles per membership,
//! a role priority order, role deletion that reassigns or removes, slugs that never change.
//! It answers checks ([`LocalEngine::check`], and [`Authorizer`] for the guards) and the
//! resource and membership queries, and it loads and dumps its whole state as a [`Policy`]
//! file (JSON or TOML). [`LocalEngine::open`] keeps the state in an SQLite database too: each
//! change is committed there, synced to disk, before it takes effect and before the call
//! returns, and a change whose commit fails is not made at all.
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
mod sessions;
mod state;
mod store;
mod time;
mod users;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

pub use error::EngineError;
pub use model::{
    AssignmentKind, Changes, Membership, MembershipStatus, NewPermission, NewResource, NewRole,
    NewUser, Organization, Permission, Resource, ResourceFilter, Role, RoleAssignment, RoleType,
    User,
};
pub use policy::{
    Policy, PolicyMembership, PolicyOrganization, PolicyPermission, PolicyResource, PolicyRole,
    PolicyRoleAssignment, PolicySettings, PolicyUser,
};

use crate::check::{
    Authorizer, CheckFuture, CheckRequest, ListFuture, ListRequest, MembershipResolver,
    PermissionsFuture, PermissionsRequest, ResolveFuture, ResourceRef,
};
#[cfg(feature = "emulator")]
pub(crate) use sessions::AuthSession;
use sessions::Sessions;
use state::State;
use store::Store;

/// A handle on one authorization model, held in memory. Cloning is cheap and every clone sees
/// the same model. Reads (checks, gets, lists, queries) share a read lock and run in parallel;
/// changes take the write lock briefly.
///
/// [`LocalEngine::new`] keeps the model in memory only. [`LocalEngine::open`] keeps it in an
/// SQLite database too: every change is committed there (one transaction, synced to disk)
/// before it takes effect in memory and before the call returns; a change whose commit fails
/// returns [`EngineError::Storage`] and is not made at all.
#[derive(Clone)]
pub struct LocalEngine {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    /// AuthKit's sessions (the emulator's): beside the model, under their own lock (see
    /// `sessions.rs`). Taken before the store's mutex, never after it.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    sessions: Mutex<Sessions>,
    /// The durable copy, when the engine was opened on a file. Locked only under the state's
    /// write lock (model changes) or the sessions' lock (session changes), and never while
    /// waiting for either; the mutex makes the connection shareable between threads.
    store: Option<Mutex<Store>>,
    revision: AtomicU64,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine")
            .field("revision", &self.revision())
            .field("durable", &self.inner.store.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for LocalEngine {
    fn default() -> Self {
        LocalEngine::new()
    }
}

impl LocalEngine {
    /// An empty environment with the seeded default role `member` (no permissions), in
    /// memory only.
    pub fn new() -> Self {
        LocalEngine::from_state(State::new(), Sessions::default(), None)
    }

    fn from_state(state: State, sessions: Sessions, store: Option<Store>) -> Self {
        LocalEngine {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                sessions: Mutex::new(sessions),
                store: store.map(Mutex::new),
                revision: AtomicU64::new(0),
            }),
        }
    }

    /// An engine whose state lives in the SQLite database at `path` (created when missing,
    /// starting as [`LocalEngine::new`] does). The whole state is read at start; from then on
    /// every change is committed to the database, in one transaction synced to disk, before
    /// it takes effect and before the call returns. A file that is not such a database, is
    /// damaged, or was written by a newer version is refused with an [`EngineError::Io`]
    /// naming it, and is left untouched. One process at a time should open a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EngineError> {
        LocalEngine::open_with(path.as_ref(), || Ok(State::new()))
    }

    /// Like [`LocalEngine::open`]; a new database starts from `seed` instead of the empty
    /// environment (written in the same transaction that creates it). An existing database
    /// keeps its state and `seed` is not used.
    pub fn open_with_seed(path: impl AsRef<Path>, seed: &Policy) -> Result<Self, EngineError> {
        LocalEngine::open_with(path.as_ref(), || policy::build_state(seed))
    }

    fn open_with(
        path: &Path,
        first_state: impl FnOnce() -> Result<State, EngineError>,
    ) -> Result<Self, EngineError> {
        let (mut store, stored) = Store::open(path)?;
        let (state, sessions) = match stored {
            Some(stored) => stored,
            None => {
                let state = first_state()?;
                store.initialize(&state, path)?;
                (state, Sessions::default())
            }
        };
        Ok(LocalEngine::from_state(state, sessions, Some(store)))
    }

    /// An in-memory copy of the state stored at `path` by [`LocalEngine::open`], read without
    /// writing anything: the file must exist and is never changed, and changes to the copy
    /// are not stored. For exports and inspection.
    pub fn read_store(path: impl AsRef<Path>) -> Result<Self, EngineError> {
        let (state, sessions) = Store::read(path.as_ref())?;
        Ok(LocalEngine::from_state(state, sessions, None))
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while writing cannot leave a half-applied change behind: the next change
        // rolls an unfinished journal back before it starts (`State::begin`), and until then
        // the poisoned lock only guards entities each valid on its own.
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one change: against memory, recording what it touches; then, with a store, the
    /// touched rows are committed in one transaction; only then is the change kept. A refused
    /// change or a failed commit is rolled back from the journal, so memory and disk are as
    /// they were. Readers wait on the lock meanwhile and never see an uncommitted change.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        state.begin();
        let result = change(&mut state).and_then(|value| {
            if let Some(store) = &self.inner.store {
                store
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .commit(&state)?;
            }
            Ok(value)
        });
        match &result {
            Ok(_) => {
                state.settle();
                self.inner.revision.fetch_add(1, Ordering::AcqRel);
            }
            Err(error) => {
                if let EngineError::Storage { message } = error {
                    tracing::error!(%message, "a change could not be committed and was not made");
                }
                state.rollback();
            }
        }
        result
    }

    /// A number that grows with every successful change: compare two readings to know
    /// whether anything changed in between.
    pub fn revision(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    // ----- policy files ---------------------------------------------------------------------

    /// An engine holding exactly `policy`, or the first entry that breaks a rule.
    pub fn from_policy(policy: &Policy) -> Result<Self, EngineError> {
        Ok(LocalEngine::from_state(
            policy::build_state(policy)?,
            Sessions::default(),
            None,
        ))
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
    /// built aside, written whole to the store (if any) in one transaction, and swapped in
    /// only then.
    pub fn replace_policy(&self, policy: &Policy) -> Result<(), EngineError> {
        let fresh = policy::build_state(policy)?;
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        state.begin();
        if let Some(store) = &self.inner.store {
            store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .replace_all(&fresh)?;
        }
        *state = fresh;
        self.inner.revision.fetch_add(1, Ordering::AcqRel);
        Ok(())
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

    fn accessible_resources<'a>(
        &'a self,
        request: &'a ListRequest,
        max_resources: usize,
    ) -> ListFuture<'a> {
        Box::pin(std::future::ready(
            self.list_accessible(request, max_resources),
        ))
    }

    fn effective_permissions<'a>(
        &'a self,
        request: &'a PermissionsRequest,
    ) -> PermissionsFuture<'a> {
        Box::pin(std::future::ready(Ok(self.permission_slugs(request))))
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
