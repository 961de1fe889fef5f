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

mod error;
mod model;
mod policy;
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
    Authorizer, CheckFuture, CheckRequest, Decision, MembershipResolver, ResolveFuture, ResourceRef,
};
use state::{Meta, State};

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

fn owned(slugs: &[impl AsRef<str>]) -> Vec<String> {
    slugs.iter().map(|s| s.as_ref().to_owned()).collect()
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

    // ----- settings -------------------------------------------------------------------------

    /// Whether memberships may hold several organization-level roles (off by default).
    pub fn multiple_roles(&self) -> bool {
        self.read().multiple_roles()
    }

    /// Turns multiple roles on or off. Turning it off keeps, on every membership, only its
    /// highest-priority role.
    pub fn set_multiple_roles(&self, enabled: bool) {
        let _ = self.write(|state| {
            state.set_multiple_roles(enabled);
            Ok(())
        });
    }

    /// The slug of the default role, given to memberships created without a role.
    pub fn default_role(&self) -> String {
        self.read().default_role().to_owned()
    }

    /// Makes the environment role `slug` the default.
    pub fn set_default_role(&self, slug: &str) -> Result<(), EngineError> {
        self.write(|state| state.set_default_role(slug))
    }

    /// Environment role slugs, highest priority first.
    pub fn role_priority(&self) -> Vec<String> {
        self.read().role_priority()
    }

    /// Sets the priority order; `slugs` must list every environment role exactly once.
    pub fn set_role_priority(&self, slugs: &[&str]) -> Result<(), EngineError> {
        self.write(|state| state.set_role_priority(slugs))
    }

    // ----- permissions ----------------------------------------------------------------------

    /// Creates a permission; its slug must be new.
    pub fn create_permission(&self, new: NewPermission) -> Result<Permission, EngineError> {
        self.write(|state| state.create_permission(new, Meta::default()))
    }

    /// The permission `slug`.
    pub fn get_permission(&self, slug: &str) -> Result<Permission, EngineError> {
        self.read().permission(slug)
    }

    /// Every permission, in creation order.
    pub fn list_permissions(&self) -> Vec<Permission> {
        self.read().list_permissions()
    }

    /// Changes a permission's name or description (its slug never changes).
    pub fn update_permission(
        &self,
        slug: &str,
        changes: Changes,
    ) -> Result<Permission, EngineError> {
        self.write(|state| state.update_permission(slug, changes))
    }

    /// Deletes a permission and takes it out of every role.
    pub fn delete_permission(&self, slug: &str) -> Result<(), EngineError> {
        self.write(|state| state.delete_permission(slug))
    }

    // ----- environment roles ----------------------------------------------------------------

    /// Creates an environment role at the bottom of the priority order.
    pub fn create_environment_role(&self, new: NewRole) -> Result<Role, EngineError> {
        self.write(|state| state.create_environment_role(new, Meta::default()))
    }

    /// The environment role `slug`.
    pub fn get_environment_role(&self, slug: &str) -> Result<Role, EngineError> {
        self.read().environment_role(slug)
    }

    /// Environment roles in priority order.
    pub fn list_environment_roles(&self) -> Vec<Role> {
        self.read().list_environment_roles()
    }

    /// Changes an environment role's name or description.
    pub fn update_environment_role(
        &self,
        slug: &str,
        changes: Changes,
    ) -> Result<Role, EngineError> {
        self.write(|state| state.update_role(None, slug, changes))
    }

    /// Deletes an environment role (never the default role). Single-role mode gives its
    /// memberships the default role; multiple-roles mode removes it from each membership and
    /// keeps their other roles. Its resource assignments are removed.
    pub fn delete_environment_role(&self, slug: &str) -> Result<(), EngineError> {
        self.write(|state| state.delete_environment_role(slug))
    }

    /// Replaces an environment role's permissions.
    pub fn set_environment_role_permissions(
        &self,
        slug: &str,
        permissions: &[impl AsRef<str>],
    ) -> Result<Role, EngineError> {
        let permissions = owned(permissions);
        self.write(|state| state.set_role_permissions(None, slug, &permissions))
    }

    /// Adds one permission to an environment role (nothing changes if it is already there).
    pub fn add_environment_role_permission(
        &self,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.write(|state| state.add_role_permission(None, slug, permission))
    }

    // ----- organization roles ---------------------------------------------------------------

    /// Creates a role of one organization. An empty slug is derived from the name.
    pub fn create_organization_role(
        &self,
        organization_id: &str,
        new: NewRole,
    ) -> Result<Role, EngineError> {
        self.write(|state| state.create_organization_role(organization_id, new, Meta::default()))
    }

    /// The organization role `slug` of `organization_id`.
    pub fn get_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<Role, EngineError> {
        self.read().organization_role(organization_id, slug)
    }

    /// The roles that apply in an organization: environment roles in priority order, then the
    /// organization's own roles in creation order.
    pub fn list_organization_roles(&self, organization_id: &str) -> Result<Vec<Role>, EngineError> {
        self.read().list_organization_roles(organization_id)
    }

    /// Changes an organization role's name or description.
    pub fn update_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
        changes: Changes,
    ) -> Result<Role, EngineError> {
        self.write(|state| state.update_role(Some(organization_id), slug, changes))
    }

    /// Deletes an organization role, with the same effect on memberships as
    /// [`LocalEngine::delete_environment_role`].
    pub fn delete_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<(), EngineError> {
        self.write(|state| state.delete_organization_role(organization_id, slug))
    }

    /// Replaces an organization role's permissions.
    pub fn set_organization_role_permissions(
        &self,
        organization_id: &str,
        slug: &str,
        permissions: &[impl AsRef<str>],
    ) -> Result<Role, EngineError> {
        let permissions = owned(permissions);
        self.write(|state| state.set_role_permissions(Some(organization_id), slug, &permissions))
    }

    /// Adds one permission to an organization role.
    pub fn add_organization_role_permission(
        &self,
        organization_id: &str,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.write(|state| state.add_role_permission(Some(organization_id), slug, permission))
    }

    /// Removes one permission from an organization role (only organization roles allow it).
    pub fn remove_organization_role_permission(
        &self,
        organization_id: &str,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.write(|state| {
            state.remove_organization_role_permission(organization_id, slug, permission)
        })
    }

    // ----- organizations --------------------------------------------------------------------

    /// Creates an organization (`org_...`) and its root resource.
    pub fn create_organization(&self, name: &str) -> Result<Organization, EngineError> {
        self.write(|state| state.create_organization(name, Meta::default(), None))
    }

    /// Creates an organization with a chosen id, for example `org_acme`.
    pub fn create_organization_with_id(
        &self,
        id: &str,
        name: &str,
    ) -> Result<Organization, EngineError> {
        let meta = Meta {
            id: Some(id.to_owned()),
            ..Meta::default()
        };
        self.write(|state| state.create_organization(name, meta, None))
    }

    /// The organization `id`.
    pub fn get_organization(&self, id: &str) -> Result<Organization, EngineError> {
        self.read().organization(id)
    }

    /// Every organization, in creation order.
    pub fn list_organizations(&self) -> Vec<Organization> {
        self.read().list_organizations()
    }

    /// The root resource of an organization (type `organization`, external id = its id).
    pub fn root_resource(&self, organization_id: &str) -> Result<Resource, EngineError> {
        let state = self.read();
        let organization = state.organization(organization_id)?;
        state.resource(&organization.root_resource_id).cloned()
    }

    // ----- organization memberships ---------------------------------------------------------

    /// Creates an active membership (`om_...`) of a user in an organization, with the given
    /// organization-level roles, or the default role when `role_slugs` is empty.
    pub fn create_membership(
        &self,
        user_id: &str,
        organization_id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        self.create_membership_with_status(
            user_id,
            organization_id,
            role_slugs,
            MembershipStatus::Active,
        )
    }

    /// Like [`LocalEngine::create_membership`], with a status.
    pub fn create_membership_with_status(
        &self,
        user_id: &str,
        organization_id: &str,
        role_slugs: &[&str],
        status: MembershipStatus,
    ) -> Result<Membership, EngineError> {
        self.write(|state| {
            state.create_membership(
                user_id,
                organization_id,
                role_slugs,
                status,
                Meta::default(),
            )
        })
    }

    /// The membership `id`.
    pub fn get_membership(&self, id: &str) -> Result<Membership, EngineError> {
        self.read().membership(id).cloned()
    }

    /// Memberships in creation order, optionally of one user and/or one organization.
    pub fn list_memberships(
        &self,
        user_id: Option<&str>,
        organization_id: Option<&str>,
    ) -> Vec<Membership> {
        self.read().list_memberships(user_id, organization_id)
    }

    /// The active membership of a user in an organization.
    pub fn active_membership(&self, user_id: &str, organization_id: &str) -> Option<Membership> {
        self.read()
            .membership_of(user_id, organization_id)
            .filter(|m| m.status == MembershipStatus::Active)
            .cloned()
    }

    /// Sets a membership's status.
    pub fn set_membership_status(
        &self,
        id: &str,
        status: MembershipStatus,
    ) -> Result<Membership, EngineError> {
        self.write(|state| state.set_membership_status(id, status))
    }

    /// Replaces a membership's organization-level roles (the default role when empty).
    pub fn set_membership_roles(
        &self,
        id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        self.write(|state| state.set_membership_roles(id, role_slugs))
    }

    /// Deletes a membership and its role assignments.
    pub fn delete_membership(&self, id: &str) -> Result<(), EngineError> {
        self.write(|state| state.delete_membership(id))
    }

    // ----- resources ------------------------------------------------------------------------

    /// Creates a resource (`authz_resource_...`) under its parent (the organization's root
    /// when none is given).
    pub fn create_resource(&self, new: NewResource) -> Result<Resource, EngineError> {
        self.write(|state| state.create_resource(new, Meta::default()))
    }

    /// The resource `id`.
    pub fn get_resource(&self, id: &str) -> Result<Resource, EngineError> {
        self.read().resource(id).cloned()
    }

    /// The resource of `resource_type_slug` with `external_id` in an organization.
    pub fn get_resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
    ) -> Result<Resource, EngineError> {
        self.read()
            .resource_by_external_id(organization_id, resource_type_slug, external_id)
            .cloned()
    }

    /// The resource `resource` names inside `organization_id`; `None` when there is none
    /// there, including when an id names a resource of another organization.
    pub fn find_resource(&self, organization_id: &str, resource: &ResourceRef) -> Option<Resource> {
        self.read()
            .find_resource(organization_id, resource)
            .cloned()
    }

    /// Resources in creation order, filtered.
    pub fn list_resources(&self, filter: &ResourceFilter) -> Vec<Resource> {
        self.read().list_resources(filter)
    }

    /// Changes a resource's name or description. Roots cannot be changed.
    pub fn update_resource(&self, id: &str, changes: Changes) -> Result<Resource, EngineError> {
        self.write(|state| state.update_resource(id, changes))
    }

    /// Deletes a resource. With children it refuses unless `cascade`, which deletes the
    /// subtree. Role assignments on deleted resources go with them. Roots cannot be deleted.
    pub fn delete_resource(&self, id: &str, cascade: bool) -> Result<(), EngineError> {
        self.write(|state| state.delete_resource(id, cascade))
    }

    // ----- role assignments -----------------------------------------------------------------

    /// Assigns a role to a membership on a resource of its organization.
    pub fn assign_role(
        &self,
        membership_id: &str,
        role_slug: &str,
        resource: &ResourceRef,
    ) -> Result<RoleAssignment, EngineError> {
        self.write(|state| state.assign_role(membership_id, role_slug, resource, Meta::default()))
    }

    /// A membership's role assignments, in creation order.
    pub fn list_role_assignments(
        &self,
        membership_id: &str,
    ) -> Result<Vec<RoleAssignment>, EngineError> {
        self.read().list_role_assignments(membership_id)
    }

    /// The role assignments on one resource, in creation order.
    pub fn list_role_assignments_for_resource(
        &self,
        resource_id: &str,
    ) -> Result<Vec<RoleAssignment>, EngineError> {
        self.read().list_role_assignments_for_resource(resource_id)
    }

    /// Removes the assignment of `role_slug` to a membership on a resource.
    pub fn remove_role(
        &self,
        membership_id: &str,
        role_slug: &str,
        resource: &ResourceRef,
    ) -> Result<(), EngineError> {
        self.write(|state| state.remove_role(membership_id, role_slug, resource))
    }

    /// Removes one of a membership's role assignments by its id.
    pub fn remove_role_assignment(
        &self,
        membership_id: &str,
        assignment_id: &str,
    ) -> Result<(), EngineError> {
        self.write(|state| state.remove_role_assignment(membership_id, assignment_id))
    }

    // ----- checks and queries ---------------------------------------------------------------

    /// May the membership use `permission` on `resource` (looked up in the membership's
    /// organization)? See the module docs for the rule. Errors when the membership or the
    /// resource does not exist; a resource of another organization is `Ok(false)`.
    pub fn check(
        &self,
        membership_id: &str,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<bool, EngineError> {
        self.read().check(membership_id, permission, resource)
    }

    /// Resources of the membership's organization on which it may use `permission`, in
    /// creation order; with `parent`, only the parent's descendants.
    pub fn resources_for_membership(
        &self,
        membership_id: &str,
        permission: &str,
        parent: Option<&ResourceRef>,
    ) -> Result<Vec<Resource>, EngineError> {
        self.read()
            .resources_for_membership(membership_id, permission, parent)
    }

    /// Memberships that may use `permission` on the resource, directly or in any way.
    pub fn memberships_for_resource(
        &self,
        resource_id: &str,
        permission: &str,
        assignment: AssignmentKind,
    ) -> Result<Vec<Membership>, EngineError> {
        self.read()
            .memberships_for_resource(resource_id, permission, assignment)
    }

    /// Every permission the membership holds on the resource, sorted by slug (none when the
    /// membership is not active).
    pub fn effective_permissions(
        &self,
        membership_id: &str,
        resource: &ResourceRef,
    ) -> Result<Vec<Permission>, EngineError> {
        self.read().effective_permissions(membership_id, resource)
    }

    /// The permissions of the membership's organization-level roles, sorted: what a session
    /// token's `permissions` claim carries.
    pub fn organization_permissions(
        &self,
        membership_id: &str,
    ) -> Result<Vec<String>, EngineError> {
        self.read().organization_permissions(membership_id)
    }

    /// The [`Authorizer`] answer, synchronously: the membership must belong to
    /// `request.organization_id` and the resource is looked up there; anything missing is
    /// [`Decision::Deny`].
    pub fn decide(&self, request: &CheckRequest) -> Decision {
        let state = self.read();
        let Ok(membership) = state.membership(&request.organization_membership_id) else {
            return Decision::Deny;
        };
        if membership.organization_id != request.organization_id {
            return Decision::Deny;
        }
        let Some(resource) = state.find_resource(&request.organization_id, &request.resource)
        else {
            return Decision::Deny;
        };
        Decision::from_authorized(state.is_authorized(membership, &request.permission, resource))
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
