//! The model itself: plain data, and the primitives that change it. [`super::LocalEngine`]
//! wraps it in a lock; the rules live with their concept (`roles`, `organizations`,
//! `resources`, `assignments`, `decisions`), and every rule validates all of its input before
//! it changes anything, so a refused operation leaves the state as it was.

use std::collections::{HashMap, HashSet};

use super::model::{Membership, Organization, Permission, Resource, Role, RoleAssignment, User};

/// The environment role every environment starts with, the default until another is chosen.
pub(crate) const SEEDED_DEFAULT_ROLE: &str = "member";
/// The resource type of organizations' root resources; reserved.
pub(crate) const ORGANIZATION_TYPE: &str = "organization";

/// An item and its creation sequence number, which orders lists (and pagination) the way
/// they were created, even for ids chosen by a policy file.
#[derive(Clone, Debug)]
pub(super) struct Entry<T> {
    pub(super) seq: u64,
    pub(super) item: T,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(super) multiple_roles: bool,
    pub(super) default_role: String,
    /// Environment role slugs, highest priority first.
    pub(super) priority: Vec<String>,
    pub(super) next_seq: u64,
    pub(super) permissions: HashMap<String, Entry<Permission>>,
    pub(super) environment_roles: HashMap<String, Entry<Role>>,
    /// organization id -> slug -> role.
    pub(super) organization_roles: HashMap<String, HashMap<String, Entry<Role>>>,
    pub(super) organizations: HashMap<String, Entry<Organization>>,
    pub(super) memberships: HashMap<String, Entry<Membership>>,
    /// user id -> organization id -> membership id: one membership per user and organization.
    pub(super) membership_index: HashMap<String, HashMap<String, String>>,
    pub(super) resources: HashMap<String, Entry<Resource>>,
    /// organization id -> type -> external id -> resource id; nested so lookups borrow `&str`.
    pub(super) external_index: HashMap<String, HashMap<String, HashMap<String, String>>>,
    /// parent id -> child ids; a set, so a child leaves its parent in constant time however
    /// many siblings it has.
    pub(super) children: HashMap<String, HashSet<String>>,
    pub(super) assignments: HashMap<String, Entry<RoleAssignment>>,
    /// membership id -> resource id -> role slugs assigned there: the check hot path.
    pub(super) grants: HashMap<String, HashMap<String, Vec<String>>>,
    pub(super) assignments_by_resource: HashMap<String, Vec<String>>,
    /// AuthKit's users, by id.
    pub(super) users: HashMap<String, Entry<User>>,
    /// ASCII-lowercased email -> user id: one user per email address.
    pub(super) user_emails: HashMap<String, String>,
    journal: Journal,
}

/// Items in creation order.
pub(super) fn sorted_refs<'a, T: Clone + 'a>(
    entries: impl Iterator<Item = &'a Entry<T>>,
) -> Vec<T> {
    let mut entries: Vec<&Entry<T>> = entries.collect();
    entries.sort_by_key(|entry| entry.seq);
    entries
        .into_iter()
        .map(|entry| entry.item.clone())
        .collect()
}

impl State {
    /// An environment with nothing in it but the seeded default role.
    pub(crate) fn new() -> Self {
        let mut state = State::empty();
        state.seed_default_role();
        state.settle();
        state
    }

    /// An environment without even the seeded role: the start of a policy load.
    pub(crate) fn empty() -> Self {
        State {
            default_role: SEEDED_DEFAULT_ROLE.to_owned(),
            ..State::default()
        }
    }

    pub(super) fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// One row of the durable store: what a change touched, named by the entity's key. The store
/// writes each touched row as it now is in memory (or deletes it when the entity is gone), so a
/// write costs what it changes, whatever the size of the state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Touched {
    /// `multiple_roles`, `default_role` and the priority order.
    Settings,
    /// A permission, by slug.
    Permission(String),
    /// A role, by owning organization (`None` for environment roles) and slug.
    Role(Option<String>, String),
    /// An organization, by id.
    Organization(String),
    /// A membership, by id.
    Membership(String),
    /// A resource, by id.
    Resource(String),
    /// A role assignment, by id.
    Assignment(String),
    /// A user, by id.
    User(String),
}

/// The value an entity had before the change in progress touched it (`None`: it did not exist).
#[derive(Debug)]
enum Undo {
    Settings {
        multiple_roles: bool,
        default_role: String,
        priority: Vec<String>,
    },
    Permission(String, Option<Entry<Permission>>),
    Role(Option<String>, String, Option<Entry<Role>>),
    Organization(String, Option<Entry<Organization>>),
    Membership(String, Option<Entry<Membership>>),
    Resource(String, Option<Entry<Resource>>),
    Assignment(String, Option<Entry<RoleAssignment>>),
    User(String, Option<Entry<User>>),
}

impl Undo {
    fn touched(&self) -> Touched {
        match self {
            Undo::Settings { .. } => Touched::Settings,
            Undo::Permission(slug, _) => Touched::Permission(slug.clone()),
            Undo::Role(organization, slug, _) => Touched::Role(organization.clone(), slug.clone()),
            Undo::Organization(id, _) => Touched::Organization(id.clone()),
            Undo::Membership(id, _) => Touched::Membership(id.clone()),
            Undo::Resource(id, _) => Touched::Resource(id.clone()),
            Undo::Assignment(id, _) => Touched::Assignment(id.clone()),
            Undo::User(id, _) => Touched::User(id.clone()),
        }
    }
}

/// The undo log of the change in progress: every primitive below records the value it
/// replaces before replacing it, so a change whose commit fails is taken back exactly, at the
/// cost of what it touched.
#[derive(Debug, Default)]
pub(super) struct Journal {
    undo: Vec<Undo>,
    /// `next_seq` when the change began.
    start_seq: u64,
}

/// The primitives every rule changes the state through: each keeps the indexes in step with
/// its entity and records the entity's previous value in the journal.
impl State {
    /// Starts a change: a fresh journal. An unfinished one (a change that panicked) is rolled
    /// back first, so a poisoned lock never leaves half a change behind.
    pub(crate) fn begin(&mut self) {
        if !self.journal.undo.is_empty() {
            self.rollback();
        }
        self.journal.start_seq = self.next_seq;
    }

    /// The rows the change in progress touched, each once, in the order first touched.
    pub(crate) fn touched(&self) -> Vec<Touched> {
        let mut seen = std::collections::HashSet::new();
        self.journal
            .undo
            .iter()
            .map(Undo::touched)
            .filter(|touched| seen.insert(touched.clone()))
            .collect()
    }

    /// Every row of the state, for a store written whole.
    pub(crate) fn every_row(&self) -> Vec<Touched> {
        let mut rows = vec![Touched::Settings];
        rows.extend(self.permissions.keys().cloned().map(Touched::Permission));
        rows.extend(
            self.environment_roles
                .keys()
                .map(|slug| Touched::Role(None, slug.clone())),
        );
        rows.extend(
            self.organization_roles
                .iter()
                .flat_map(|(organization, roles)| {
                    roles
                        .keys()
                        .map(|slug| Touched::Role(Some(organization.clone()), slug.clone()))
                }),
        );
        rows.extend(
            self.organizations
                .keys()
                .cloned()
                .map(Touched::Organization),
        );
        rows.extend(self.memberships.keys().cloned().map(Touched::Membership));
        rows.extend(self.resources.keys().cloned().map(Touched::Resource));
        rows.extend(self.assignments.keys().cloned().map(Touched::Assignment));
        rows.extend(self.users.keys().cloned().map(Touched::User));
        rows
    }

    /// Keeps the change in progress: it is committed.
    pub(crate) fn settle(&mut self) {
        self.journal.undo.clear();
    }

    /// Takes back the change in progress, newest step first.
    pub(crate) fn rollback(&mut self) {
        while let Some(undo) = self.journal.undo.pop() {
            match undo {
                Undo::Settings {
                    multiple_roles,
                    default_role,
                    priority,
                } => {
                    self.multiple_roles = multiple_roles;
                    self.default_role = default_role;
                    self.priority = priority;
                }
                Undo::Permission(slug, old) => {
                    self.permissions.remove(&slug);
                    if let Some(old) = old {
                        self.permissions.insert(slug, old);
                    }
                }
                Undo::Role(organization, slug, old) => {
                    self.unlink_role(organization.as_deref(), &slug);
                    if let Some(old) = old {
                        self.link_role(organization, old);
                    }
                }
                Undo::Organization(id, old) => {
                    self.organizations.remove(&id);
                    if let Some(old) = old {
                        self.organizations.insert(id, old);
                    }
                }
                Undo::Membership(id, old) => {
                    self.unlink_membership(&id);
                    if let Some(old) = old {
                        self.link_membership(old);
                    }
                }
                Undo::Resource(id, old) => {
                    self.unlink_resource(&id);
                    if let Some(old) = old {
                        self.link_resource(old);
                    }
                }
                Undo::Assignment(id, old) => {
                    self.unlink_assignment(&id);
                    if let Some(old) = old {
                        self.link_assignment(old);
                    }
                }
                Undo::User(id, old) => {
                    self.unlink_user(&id);
                    if let Some(old) = old {
                        self.link_user(old);
                    }
                }
            }
        }
        self.next_seq = self.journal.start_seq;
    }

    /// The sequence number of a new entity: the one the store kept for it, or the next one.
    pub(super) fn seq_for(&mut self, kept: Option<u64>) -> u64 {
        match kept {
            Some(seq) => {
                self.next_seq = self.next_seq.max(seq);
                seq
            }
            None => self.take_seq(),
        }
    }

    // ----- settings -------------------------------------------------------------------------

    /// Records the settings before one of them changes.
    pub(super) fn touch_settings(&mut self) {
        self.journal.undo.push(Undo::Settings {
            multiple_roles: self.multiple_roles,
            default_role: self.default_role.clone(),
            priority: self.priority.clone(),
        });
    }

    // ----- permissions ----------------------------------------------------------------------

    pub(super) fn put_permission(&mut self, entry: Entry<Permission>) {
        let slug = entry.item.slug.clone();
        let old = self.permissions.insert(slug.clone(), entry);
        self.journal.undo.push(Undo::Permission(slug, old));
    }

    pub(super) fn remove_permission(&mut self, slug: &str) -> bool {
        let old = self.permissions.remove(slug);
        let found = old.is_some();
        self.journal
            .undo
            .push(Undo::Permission(slug.to_owned(), old));
        found
    }

    pub(super) fn permission_mut(&mut self, slug: &str) -> Option<&mut Permission> {
        let old = self.permissions.get(slug)?.clone();
        self.journal
            .undo
            .push(Undo::Permission(slug.to_owned(), Some(old)));
        self.permissions.get_mut(slug).map(|entry| &mut entry.item)
    }

    // ----- roles ----------------------------------------------------------------------------

    fn link_role(&mut self, organization: Option<String>, entry: Entry<Role>) {
        let slug = entry.item.slug.clone();
        match organization {
            None => {
                self.environment_roles.insert(slug, entry);
            }
            Some(organization) => {
                self.organization_roles
                    .entry(organization)
                    .or_default()
                    .insert(slug, entry);
            }
        }
    }

    fn unlink_role(&mut self, organization: Option<&str>, slug: &str) -> Option<Entry<Role>> {
        match organization {
            None => self.environment_roles.remove(slug),
            Some(organization) => {
                let roles = self.organization_roles.get_mut(organization)?;
                let removed = roles.remove(slug);
                if roles.is_empty() {
                    self.organization_roles.remove(organization);
                }
                removed
            }
        }
    }

    pub(super) fn role_entry(
        &self,
        organization: Option<&str>,
        slug: &str,
    ) -> Option<&Entry<Role>> {
        match organization {
            None => self.environment_roles.get(slug),
            Some(organization) => self.organization_roles.get(organization)?.get(slug),
        }
    }

    pub(super) fn put_role(&mut self, organization: Option<&str>, entry: Entry<Role>) {
        let slug = entry.item.slug.clone();
        let old = self.unlink_role(organization, &slug);
        self.journal
            .undo
            .push(Undo::Role(organization.map(str::to_owned), slug, old));
        self.link_role(organization.map(str::to_owned), entry);
    }

    pub(super) fn remove_role_entry(&mut self, organization: Option<&str>, slug: &str) -> bool {
        let old = self.unlink_role(organization, slug);
        let found = old.is_some();
        self.journal.undo.push(Undo::Role(
            organization.map(str::to_owned),
            slug.to_owned(),
            old,
        ));
        found
    }

    pub(super) fn role_mut(&mut self, organization: Option<&str>, slug: &str) -> Option<&mut Role> {
        let old = self.role_entry(organization, slug)?.clone();
        self.journal.undo.push(Undo::Role(
            organization.map(str::to_owned),
            slug.to_owned(),
            Some(old),
        ));
        let entry = match organization {
            None => self.environment_roles.get_mut(slug),
            Some(organization) => self.organization_roles.get_mut(organization)?.get_mut(slug),
        };
        entry.map(|entry| &mut entry.item)
    }

    // ----- organizations --------------------------------------------------------------------

    pub(super) fn put_organization(&mut self, entry: Entry<Organization>) {
        let id = entry.item.id.clone();
        let old = self.organizations.insert(id.clone(), entry);
        self.journal.undo.push(Undo::Organization(id, old));
    }

    // ----- memberships ----------------------------------------------------------------------

    fn link_membership(&mut self, entry: Entry<Membership>) {
        let membership = &entry.item;
        self.membership_index
            .entry(membership.user_id.clone())
            .or_default()
            .insert(membership.organization_id.clone(), membership.id.clone());
        self.memberships.insert(membership.id.clone(), entry);
    }

    fn unlink_membership(&mut self, id: &str) -> Option<Entry<Membership>> {
        let entry = self.memberships.remove(id)?;
        if let Some(by_organization) = self.membership_index.get_mut(&entry.item.user_id) {
            by_organization.remove(&entry.item.organization_id);
            if by_organization.is_empty() {
                self.membership_index.remove(&entry.item.user_id);
            }
        }
        Some(entry)
    }

    pub(super) fn put_membership(&mut self, entry: Entry<Membership>) {
        let id = entry.item.id.clone();
        let old = self.unlink_membership(&id);
        self.journal.undo.push(Undo::Membership(id, old));
        self.link_membership(entry);
    }

    pub(super) fn remove_membership(&mut self, id: &str) -> Option<Membership> {
        let old = self.unlink_membership(id);
        let removed = old.as_ref().map(|entry| entry.item.clone());
        self.journal.undo.push(Undo::Membership(id.to_owned(), old));
        removed
    }

    pub(super) fn membership_mut(&mut self, id: &str) -> Option<&mut Membership> {
        let old = self.memberships.get(id)?.clone();
        self.journal
            .undo
            .push(Undo::Membership(id.to_owned(), Some(old)));
        self.memberships.get_mut(id).map(|entry| &mut entry.item)
    }

    // ----- resources ------------------------------------------------------------------------

    fn link_resource(&mut self, entry: Entry<Resource>) {
        let resource = &entry.item;
        self.external_index
            .entry(resource.organization_id.clone())
            .or_default()
            .entry(resource.resource_type_slug.clone())
            .or_default()
            .insert(resource.external_id.clone(), resource.id.clone());
        if let Some(parent) = &resource.parent_resource_id {
            self.children
                .entry(parent.clone())
                .or_default()
                .insert(resource.id.clone());
        }
        self.resources.insert(resource.id.clone(), entry);
    }

    fn unlink_resource(&mut self, id: &str) -> Option<Entry<Resource>> {
        let entry = self.resources.remove(id)?;
        let resource = &entry.item;
        if let Some(by_type) = self.external_index.get_mut(&resource.organization_id)
            && let Some(by_external) = by_type.get_mut(&resource.resource_type_slug)
        {
            by_external.remove(&resource.external_id);
        }
        if let Some(parent) = &resource.parent_resource_id
            && let Some(siblings) = self.children.get_mut(parent)
        {
            siblings.remove(id);
            if siblings.is_empty() {
                self.children.remove(parent);
            }
        }
        Some(entry)
    }

    pub(super) fn put_resource(&mut self, entry: Entry<Resource>) {
        let id = entry.item.id.clone();
        let old = self.unlink_resource(&id);
        self.journal.undo.push(Undo::Resource(id, old));
        self.link_resource(entry);
    }

    pub(super) fn remove_resource(&mut self, id: &str) {
        let old = self.unlink_resource(id);
        self.journal.undo.push(Undo::Resource(id.to_owned(), old));
    }

    pub(super) fn resource_mut(&mut self, id: &str) -> Option<&mut Resource> {
        let old = self.resources.get(id)?.clone();
        self.journal
            .undo
            .push(Undo::Resource(id.to_owned(), Some(old)));
        self.resources.get_mut(id).map(|entry| &mut entry.item)
    }

    // ----- role assignments -----------------------------------------------------------------

    fn link_assignment(&mut self, entry: Entry<RoleAssignment>) {
        let assignment = &entry.item;
        self.grants
            .entry(assignment.organization_membership_id.clone())
            .or_default()
            .entry(assignment.resource_id.clone())
            .or_default()
            .push(assignment.role_slug.clone());
        self.assignments_by_resource
            .entry(assignment.resource_id.clone())
            .or_default()
            .push(assignment.id.clone());
        self.assignments.insert(assignment.id.clone(), entry);
    }

    fn unlink_assignment(&mut self, id: &str) -> Option<Entry<RoleAssignment>> {
        let entry = self.assignments.remove(id)?;
        let assignment = &entry.item;
        if let Some(by_resource) = self.grants.get_mut(&assignment.organization_membership_id) {
            if let Some(slugs) = by_resource.get_mut(&assignment.resource_id) {
                slugs.retain(|s| *s != assignment.role_slug);
                if slugs.is_empty() {
                    by_resource.remove(&assignment.resource_id);
                }
            }
            if by_resource.is_empty() {
                self.grants.remove(&assignment.organization_membership_id);
            }
        }
        if let Some(ids) = self
            .assignments_by_resource
            .get_mut(&assignment.resource_id)
        {
            ids.retain(|a| a != id);
            if ids.is_empty() {
                self.assignments_by_resource.remove(&assignment.resource_id);
            }
        }
        Some(entry)
    }

    pub(super) fn put_assignment(&mut self, entry: Entry<RoleAssignment>) {
        let id = entry.item.id.clone();
        let old = self.unlink_assignment(&id);
        self.journal.undo.push(Undo::Assignment(id, old));
        self.link_assignment(entry);
    }

    pub(super) fn remove_assignment(&mut self, id: &str) {
        let old = self.unlink_assignment(id);
        self.journal.undo.push(Undo::Assignment(id.to_owned(), old));
    }

    // ----- users ----------------------------------------------------------------------------

    fn link_user(&mut self, entry: Entry<User>) {
        self.user_emails
            .insert(entry.item.email.to_ascii_lowercase(), entry.item.id.clone());
        self.users.insert(entry.item.id.clone(), entry);
    }

    fn unlink_user(&mut self, id: &str) -> Option<Entry<User>> {
        let entry = self.users.remove(id)?;
        let email = entry.item.email.to_ascii_lowercase();
        if self
            .user_emails
            .get(&email)
            .is_some_and(|owner| owner == id)
        {
            self.user_emails.remove(&email);
        }
        Some(entry)
    }

    pub(super) fn put_user(&mut self, entry: Entry<User>) {
        let id = entry.item.id.clone();
        let old = self.unlink_user(&id);
        self.journal.undo.push(Undo::User(id, old));
        self.link_user(entry);
    }
}
