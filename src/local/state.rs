//! The model itself: plain data, and the primitives that change it. [`super::LocalEngine`]
//! wraps it in a lock; the rules live with their concept (`roles`, `organizations`,
//! `resources`, `assignments`, `decisions`), and every rule validates all of its input before
//! it changes anything, so a refused operation leaves the state as it was.

use std::collections::HashMap;

use super::model::{Membership, Organization, Permission, Resource, Role, RoleAssignment};

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
    pub(super) children: HashMap<String, Vec<String>>,
    pub(super) assignments: HashMap<String, Entry<RoleAssignment>>,
    /// membership id -> resource id -> role slugs assigned there: the check hot path.
    pub(super) grants: HashMap<String, HashMap<String, Vec<String>>>,
    pub(super) assignments_by_resource: HashMap<String, Vec<String>>,
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
