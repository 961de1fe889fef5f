//! The model itself: plain data and the rules that change it. [`super::LocalEngine`] wraps it
//! in a lock; every method here validates all of its input before it changes anything, so a
//! refused operation leaves the state as it was.

use std::collections::HashMap;

use super::error::EngineError;
use super::model::{
    AssignmentKind, Changes, Membership, MembershipStatus, NewPermission, NewResource, NewRole,
    Organization, Permission, Resource, ResourceFilter, Role, RoleAssignment, RoleType,
};
use super::time::{is_rfc3339, now_rfc3339};
use crate::check::ResourceRef;
use crate::slug::{is_valid_permission_slug, is_valid_role_slug};
use crate::support::{random_hex, unix_now};

/// The environment role every environment starts with, the default until another is chosen.
pub(crate) const SEEDED_DEFAULT_ROLE: &str = "member";
/// The resource type of organizations' root resources; reserved.
pub(crate) const ORGANIZATION_TYPE: &str = "organization";

/// An item and its creation sequence number, which orders lists (and pagination) the way
/// they were created, even for ids chosen by a policy file.
#[derive(Clone, Debug)]
struct Entry<T> {
    seq: u64,
    item: T,
}

/// Ids and timestamps a policy file may pin; `None` means "generate".
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub(crate) id: Option<String>,
    pub(crate) created_at: Option<String>,
    pub(crate) updated_at: Option<String>,
}

struct Stamp {
    id: String,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    multiple_roles: bool,
    default_role: String,
    /// Environment role slugs, highest priority first.
    priority: Vec<String>,
    next_seq: u64,
    permissions: HashMap<String, Entry<Permission>>,
    environment_roles: HashMap<String, Entry<Role>>,
    /// organization id -> slug -> role.
    organization_roles: HashMap<String, HashMap<String, Entry<Role>>>,
    organizations: HashMap<String, Entry<Organization>>,
    memberships: HashMap<String, Entry<Membership>>,
    /// user id -> organization id -> membership id: one membership per user and organization.
    membership_index: HashMap<String, HashMap<String, String>>,
    resources: HashMap<String, Entry<Resource>>,
    /// organization id -> type -> external id -> resource id; nested so lookups borrow `&str`.
    external_index: HashMap<String, HashMap<String, HashMap<String, String>>>,
    children: HashMap<String, Vec<String>>,
    assignments: HashMap<String, Entry<RoleAssignment>>,
    /// membership id -> resource id -> role slugs assigned there: the check hot path.
    grants: HashMap<String, HashMap<String, Vec<String>>>,
    assignments_by_resource: HashMap<String, Vec<String>>,
}

fn validate_role_slug(slug: &str) -> Result<(), EngineError> {
    if !is_valid_role_slug(slug) {
        return Err(EngineError::validation(
            "slug",
            "invalid_slug",
            format!(
                "role slug {slug:?} must be non-empty and contain only lowercase letters, digits, '-' and '_'"
            ),
        ));
    }
    Ok(())
}

fn validate_permission_slug(field: &str, slug: &str) -> Result<(), EngineError> {
    if !is_valid_permission_slug(slug) {
        return Err(EngineError::validation(
            field,
            "invalid_slug",
            format!(
                "permission slug {slug:?} must be non-empty and contain only letters, digits and '- . : _ *'"
            ),
        ));
    }
    Ok(())
}

fn require(field: &str, value: &str) -> Result<(), EngineError> {
    if value.trim().is_empty() {
        return Err(EngineError::validation(
            field,
            "required",
            "must not be empty",
        ));
    }
    Ok(())
}

impl Changes {
    fn validate(&self) -> Result<(), EngineError> {
        match &self.name {
            Some(name) => require("name", name),
            None => Ok(()),
        }
    }

    fn apply(self, name: &mut String, description: &mut Option<String>, updated_at: &mut String) {
        if let Some(new_name) = self.name {
            *name = new_name;
        }
        if let Some(new_description) = self.description {
            *description = (!new_description.is_empty()).then_some(new_description);
        }
        *updated_at = now_rfc3339();
    }
}

fn validate_id(prefix: &str, id: &str) -> Result<(), EngineError> {
    let valid = id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !valid {
        return Err(EngineError::validation(
            "id",
            "invalid_id",
            format!("id {id:?} must be '{prefix}_' followed by letters, digits, '-' or '_'"),
        ));
    }
    Ok(())
}

/// A ULID-shaped suffix: 48 bits of milliseconds then 80 random bits, in Crockford base 32,
/// so generated ids look like WorkOS's and sort roughly by creation time.
fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let random = u128::from_str_radix(&random_hex(10), 16).unwrap_or_default();
    let value = (u128::from(unix_now() * 1000) << 80) | random;
    (0..26)
        .rev()
        .map(|index| ALPHABET[((value >> (index * 5)) & 31) as usize] as char)
        .collect()
}

/// Lowercase, every run of other characters replaced by one `-`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

fn sorted_refs<'a, T: Clone + 'a>(entries: impl Iterator<Item = &'a Entry<T>>) -> Vec<T> {
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

    pub(crate) fn seed_default_role(&mut self) {
        if self.environment_roles.contains_key(SEEDED_DEFAULT_ROLE) {
            return;
        }
        let seq = self.take_seq();
        let now = now_rfc3339();
        let role = Role {
            id: self.fresh_id("role", |s, id| s.role_id_taken(id)),
            slug: SEEDED_DEFAULT_ROLE.to_owned(),
            name: "Member".to_owned(),
            description: None,
            permissions: Vec::new(),
            resource_type_slug: ORGANIZATION_TYPE.to_owned(),
            role_type: RoleType::EnvironmentRole,
            organization_id: None,
            created_at: now.clone(),
            updated_at: now,
        };
        self.priority.insert(0, role.slug.clone());
        self.environment_roles
            .insert(role.slug.clone(), Entry { seq, item: role });
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn fresh_id(&self, prefix: &str, taken: impl Fn(&Self, &str) -> bool) -> String {
        let mut id = format!("{prefix}_{}", ulid());
        // Two ids in the same millisecond clash only if 80 random bits do; bounded anyway.
        for attempt in 0..16u32 {
            if !taken(self, &id) {
                break;
            }
            id = format!("{prefix}_{}{attempt}", ulid());
        }
        id
    }

    fn stamp(
        &self,
        prefix: &str,
        entity: &'static str,
        meta: Meta,
        taken: impl Fn(&Self, &str) -> bool,
    ) -> Result<Stamp, EngineError> {
        let id = match meta.id {
            Some(id) => {
                validate_id(prefix, &id)?;
                if taken(self, &id) {
                    return Err(EngineError::conflict(
                        entity,
                        format!("a {entity} with id {id} already exists"),
                    ));
                }
                id
            }
            None => self.fresh_id(prefix, &taken),
        };
        for (field, value) in [
            ("created_at", &meta.created_at),
            ("updated_at", &meta.updated_at),
        ] {
            if let Some(value) = value
                && !is_rfc3339(value)
            {
                return Err(EngineError::validation(
                    field,
                    "invalid_timestamp",
                    format!("{value:?} is not an RFC 3339 date-time"),
                ));
            }
        }
        let now = now_rfc3339();
        let created_at = meta.created_at.unwrap_or_else(|| now.clone());
        let updated_at = meta.updated_at.unwrap_or_else(|| created_at.clone());
        Ok(Stamp {
            id,
            created_at,
            updated_at,
        })
    }

    fn role_id_taken(&self, id: &str) -> bool {
        self.environment_roles.values().any(|r| r.item.id == id)
            || self
                .organization_roles
                .values()
                .flat_map(HashMap::values)
                .any(|r| r.item.id == id)
    }

    // ----- settings -------------------------------------------------------------------------

    pub(crate) fn multiple_roles(&self) -> bool {
        self.multiple_roles
    }

    /// Turning multiple roles off keeps, on each membership, its highest-priority role.
    pub(crate) fn set_multiple_roles(&mut self, enabled: bool) {
        self.multiple_roles = enabled;
        if enabled {
            return;
        }
        let now = now_rfc3339();
        for entry in self.memberships.values_mut() {
            if entry.item.role_slugs.len() > 1 {
                // role_slugs are kept highest priority first.
                entry.item.role_slugs.truncate(1);
                entry.item.updated_at = now.clone();
            }
        }
    }

    pub(crate) fn default_role(&self) -> &str {
        &self.default_role
    }

    pub(crate) fn set_default_role(&mut self, slug: &str) -> Result<(), EngineError> {
        if !self.environment_roles.contains_key(slug) {
            return Err(EngineError::not_found("role", slug));
        }
        self.default_role = slug.to_owned();
        Ok(())
    }

    pub(crate) fn role_priority(&self) -> Vec<String> {
        self.priority.clone()
    }

    pub(crate) fn set_role_priority(&mut self, slugs: &[&str]) -> Result<(), EngineError> {
        let mut seen = std::collections::HashSet::new();
        for (index, slug) in slugs.iter().enumerate() {
            if !self.environment_roles.contains_key(*slug) {
                return Err(EngineError::not_found("role", *slug));
            }
            if !seen.insert(*slug) {
                return Err(EngineError::validation(
                    format!("priority[{index}]"),
                    "duplicate_role",
                    format!("role {slug} is listed twice"),
                ));
            }
        }
        if seen.len() != self.environment_roles.len() {
            return Err(EngineError::validation(
                "priority",
                "incomplete_priority",
                "the priority order must list every environment role exactly once",
            ));
        }
        self.priority = slugs.iter().map(|s| (*s).to_owned()).collect();
        self.resort_membership_roles();
        Ok(())
    }

    /// The sort key of a role in the priority order: environment roles by their position,
    /// then organization roles in creation order.
    fn role_rank(&self, organization_id: &str, slug: &str) -> (usize, u64) {
        if let Some(position) = self.priority.iter().position(|s| s == slug) {
            return (0, position as u64);
        }
        let seq = self
            .organization_roles
            .get(organization_id)
            .and_then(|roles| roles.get(slug))
            .map_or(u64::MAX, |entry| entry.seq);
        (1, seq)
    }

    fn sort_by_priority(&self, organization_id: &str, slugs: &mut [String]) {
        slugs.sort_by_key(|slug| self.role_rank(organization_id, slug));
    }

    fn resort_membership_roles(&mut self) {
        let mut updates = Vec::new();
        for (id, entry) in &self.memberships {
            let mut slugs = entry.item.role_slugs.clone();
            self.sort_by_priority(&entry.item.organization_id, &mut slugs);
            if slugs != entry.item.role_slugs {
                updates.push((id.clone(), slugs));
            }
        }
        for (id, slugs) in updates {
            if let Some(entry) = self.memberships.get_mut(&id) {
                entry.item.role_slugs = slugs;
            }
        }
    }

    // ----- permissions ----------------------------------------------------------------------

    pub(crate) fn create_permission(
        &mut self,
        new: NewPermission,
        meta: Meta,
    ) -> Result<Permission, EngineError> {
        validate_permission_slug("slug", &new.slug)?;
        require("name", &new.name)?;
        if let Some(resource_type) = &new.resource_type_slug {
            require("resource_type_slug", resource_type)?;
        }
        if self.permissions.contains_key(&new.slug) {
            return Err(EngineError::conflict(
                "permission",
                format!("a permission with slug {} already exists", new.slug),
            ));
        }
        let stamp = self.stamp("perm", "permission", meta, |s, id| {
            s.permissions.values().any(|p| p.item.id == id)
        })?;
        let permission = Permission {
            id: stamp.id,
            slug: new.slug,
            name: new.name,
            description: new.description,
            resource_type_slug: new
                .resource_type_slug
                .unwrap_or_else(|| ORGANIZATION_TYPE.to_owned()),
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        let seq = self.take_seq();
        self.permissions.insert(
            permission.slug.clone(),
            Entry {
                seq,
                item: permission.clone(),
            },
        );
        Ok(permission)
    }

    pub(crate) fn permission(&self, slug: &str) -> Result<Permission, EngineError> {
        self.permissions
            .get(slug)
            .map(|entry| entry.item.clone())
            .ok_or_else(|| EngineError::not_found("permission", slug))
    }

    pub(crate) fn list_permissions(&self) -> Vec<Permission> {
        sorted_refs(self.permissions.values())
    }

    pub(crate) fn update_permission(
        &mut self,
        slug: &str,
        changes: Changes,
    ) -> Result<Permission, EngineError> {
        changes.validate()?;
        let entry = self
            .permissions
            .get_mut(slug)
            .ok_or_else(|| EngineError::not_found("permission", slug))?;
        changes.apply(
            &mut entry.item.name,
            &mut entry.item.description,
            &mut entry.item.updated_at,
        );
        Ok(entry.item.clone())
    }

    /// Deleting a permission takes it out of every role that carried it.
    pub(crate) fn delete_permission(&mut self, slug: &str) -> Result<(), EngineError> {
        if self.permissions.remove(slug).is_none() {
            return Err(EngineError::not_found("permission", slug));
        }
        let roles = self.environment_roles.values_mut().chain(
            self.organization_roles
                .values_mut()
                .flat_map(HashMap::values_mut),
        );
        for entry in roles {
            entry.item.permissions.retain(|held| held != slug);
        }
        Ok(())
    }

    fn checked_permission_set(&self, permissions: &[String]) -> Result<Vec<String>, EngineError> {
        for (index, slug) in permissions.iter().enumerate() {
            validate_permission_slug(&format!("permissions[{index}]"), slug)?;
            if !self.permissions.contains_key(slug) {
                return Err(EngineError::not_found("permission", slug.as_str()));
            }
        }
        let mut set = permissions.to_vec();
        set.sort_unstable();
        set.dedup();
        Ok(set)
    }

    // ----- roles ----------------------------------------------------------------------------

    fn slug_used_by_organization_role(&self, slug: &str) -> bool {
        self.organization_roles
            .values()
            .any(|roles| roles.contains_key(slug))
    }

    pub(crate) fn create_environment_role(
        &mut self,
        new: NewRole,
        meta: Meta,
    ) -> Result<Role, EngineError> {
        validate_role_slug(&new.slug)?;
        if self.environment_roles.contains_key(&new.slug)
            || self.slug_used_by_organization_role(&new.slug)
        {
            return Err(EngineError::conflict(
                "role",
                format!("a role with slug {} already exists", new.slug),
            ));
        }
        let role = self.build_role(new, meta, None)?;
        let seq = self.take_seq();
        self.priority.push(role.slug.clone());
        self.environment_roles.insert(
            role.slug.clone(),
            Entry {
                seq,
                item: role.clone(),
            },
        );
        Ok(role)
    }

    fn build_role(
        &self,
        new: NewRole,
        meta: Meta,
        organization_id: Option<&str>,
    ) -> Result<Role, EngineError> {
        require("name", &new.name)?;
        if let Some(resource_type) = &new.resource_type_slug {
            require("resource_type_slug", resource_type)?;
        }
        let permissions = self.checked_permission_set(&new.permissions)?;
        let stamp = self.stamp("role", "role", meta, |s, id| s.role_id_taken(id))?;
        Ok(Role {
            id: stamp.id,
            slug: new.slug,
            name: new.name,
            description: new.description,
            permissions,
            resource_type_slug: new
                .resource_type_slug
                .unwrap_or_else(|| ORGANIZATION_TYPE.to_owned()),
            role_type: if organization_id.is_some() {
                RoleType::OrganizationRole
            } else {
                RoleType::EnvironmentRole
            },
            organization_id: organization_id.map(str::to_owned),
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        })
    }

    pub(crate) fn environment_role(&self, slug: &str) -> Result<Role, EngineError> {
        self.environment_roles
            .get(slug)
            .map(|entry| entry.item.clone())
            .ok_or_else(|| EngineError::not_found("role", slug))
    }

    /// Environment roles in priority order.
    pub(crate) fn list_environment_roles(&self) -> Vec<Role> {
        self.priority
            .iter()
            .filter_map(|slug| self.environment_roles.get(slug))
            .map(|entry| entry.item.clone())
            .collect()
    }

    fn role_entry_mut(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
    ) -> Result<&mut Entry<Role>, EngineError> {
        let role = match organization_id {
            None => self.environment_roles.get_mut(slug),
            Some(org) => self
                .organization_roles
                .get_mut(org)
                .and_then(|roles| roles.get_mut(slug)),
        };
        role.ok_or_else(|| EngineError::not_found("role", slug))
    }

    pub(crate) fn update_role(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        changes: Changes,
    ) -> Result<Role, EngineError> {
        changes.validate()?;
        let entry = self.role_entry_mut(organization_id, slug)?;
        changes.apply(
            &mut entry.item.name,
            &mut entry.item.description,
            &mut entry.item.updated_at,
        );
        Ok(entry.item.clone())
    }

    pub(crate) fn set_role_permissions(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        permissions: &[String],
    ) -> Result<Role, EngineError> {
        self.role_entry_mut(organization_id, slug)?;
        let set = self.checked_permission_set(permissions)?;
        let entry = self.role_entry_mut(organization_id, slug)?;
        entry.item.permissions = set;
        entry.item.updated_at = now_rfc3339();
        Ok(entry.item.clone())
    }

    /// Adding a permission the role already carries changes nothing.
    pub(crate) fn add_role_permission(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.role_entry_mut(organization_id, slug)?;
        validate_permission_slug("slug", permission)?;
        if !self.permissions.contains_key(permission) {
            return Err(EngineError::not_found("permission", permission));
        }
        let entry = self.role_entry_mut(organization_id, slug)?;
        if let Err(position) = entry
            .item
            .permissions
            .binary_search_by(|held| held.as_str().cmp(permission))
        {
            entry
                .item
                .permissions
                .insert(position, permission.to_owned());
            entry.item.updated_at = now_rfc3339();
        }
        Ok(entry.item.clone())
    }

    pub(crate) fn remove_organization_role_permission(
        &mut self,
        organization_id: &str,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        let entry = self.role_entry_mut(Some(organization_id), slug)?;
        let position = entry
            .item
            .permissions
            .binary_search_by(|held| held.as_str().cmp(permission))
            .map_err(|_| EngineError::not_found("permission", permission))?;
        entry.item.permissions.remove(position);
        entry.item.updated_at = now_rfc3339();
        Ok(entry.item.clone())
    }

    /// Deletes an environment role; the default role cannot be deleted.
    pub(crate) fn delete_environment_role(&mut self, slug: &str) -> Result<(), EngineError> {
        if !self.environment_roles.contains_key(slug) {
            return Err(EngineError::not_found("role", slug));
        }
        if slug == self.default_role {
            return Err(EngineError::validation(
                "slug",
                "default_role_cannot_be_deleted",
                format!("{slug} is the default role; make another role the default first"),
            ));
        }
        self.environment_roles.remove(slug);
        self.priority.retain(|s| s != slug);
        self.withdraw_role(None, slug);
        Ok(())
    }

    pub(crate) fn create_organization_role(
        &mut self,
        organization_id: &str,
        mut new: NewRole,
        meta: Meta,
    ) -> Result<Role, EngineError> {
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        if new.slug.is_empty() {
            require("name", &new.name)?;
            new.slug = format!("org-{}", slugify(&new.name));
        }
        validate_role_slug(&new.slug)?;
        let taken_here = self
            .organization_roles
            .get(organization_id)
            .is_some_and(|roles| roles.contains_key(&new.slug));
        if taken_here || self.environment_roles.contains_key(&new.slug) {
            return Err(EngineError::conflict(
                "role",
                format!(
                    "a role with slug {} already exists for organization {organization_id}",
                    new.slug
                ),
            ));
        }
        let role = self.build_role(new, meta, Some(organization_id))?;
        let seq = self.take_seq();
        self.organization_roles
            .entry(organization_id.to_owned())
            .or_default()
            .insert(
                role.slug.clone(),
                Entry {
                    seq,
                    item: role.clone(),
                },
            );
        Ok(role)
    }

    pub(crate) fn organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<Role, EngineError> {
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        self.organization_roles
            .get(organization_id)
            .and_then(|roles| roles.get(slug))
            .map(|entry| entry.item.clone())
            .ok_or_else(|| EngineError::not_found("role", slug))
    }

    /// The roles that apply in an organization: environment roles in priority order, then
    /// the organization's own roles in creation order.
    pub(crate) fn list_organization_roles(
        &self,
        organization_id: &str,
    ) -> Result<Vec<Role>, EngineError> {
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        let mut roles = self.list_environment_roles();
        if let Some(own) = self.organization_roles.get(organization_id) {
            roles.extend(sorted_refs(own.values()));
        }
        Ok(roles)
    }

    pub(crate) fn delete_organization_role(
        &mut self,
        organization_id: &str,
        slug: &str,
    ) -> Result<(), EngineError> {
        let removed = self
            .organization_roles
            .get_mut(organization_id)
            .and_then(|roles| roles.remove(slug));
        if removed.is_none() {
            return Err(EngineError::not_found("role", slug));
        }
        self.withdraw_role(Some(organization_id), slug);
        Ok(())
    }

    /// After a role is deleted: in single-role mode its memberships get the default role; with
    /// multiple roles it is removed from each membership, which keeps its other roles (or gets
    /// the default role when none is left). Its resource assignments go too.
    fn withdraw_role(&mut self, organization_id: Option<&str>, slug: &str) {
        let now = now_rfc3339();
        let default_role = self.default_role.clone();
        let multiple_roles = self.multiple_roles;
        for entry in self.memberships.values_mut() {
            let membership = &mut entry.item;
            if organization_id.is_some_and(|org| org != membership.organization_id)
                || !membership.role_slugs.iter().any(|s| s == slug)
            {
                continue;
            }
            if multiple_roles {
                membership.role_slugs.retain(|s| s != slug);
            } else {
                membership.role_slugs.clear();
            }
            if membership.role_slugs.is_empty() {
                membership.role_slugs.push(default_role.clone());
            }
            membership.updated_at = now.clone();
        }
        let doomed: Vec<String> = self
            .assignments
            .values()
            .filter(|entry| entry.item.role_slug == slug)
            .filter(|entry| {
                organization_id.is_none_or(|org| {
                    self.memberships
                        .get(&entry.item.organization_membership_id)
                        .is_some_and(|m| m.item.organization_id == org)
                })
            })
            .map(|entry| entry.item.id.clone())
            .collect();
        for id in doomed {
            self.drop_assignment(&id);
        }
    }

    /// The role `slug` as seen from `organization_id`: its own role or an environment role.
    fn role_in(&self, organization_id: &str, slug: &str) -> Option<&Role> {
        self.organization_roles
            .get(organization_id)
            .and_then(|roles| roles.get(slug))
            .or_else(|| self.environment_roles.get(slug))
            .map(|entry| &entry.item)
    }

    fn role_grants(&self, organization_id: &str, slug: &str, permission: &str) -> bool {
        self.role_in(organization_id, slug)
            .is_some_and(|role| role.has_permission(permission))
    }

    // ----- organizations and memberships ----------------------------------------------------

    pub(crate) fn create_organization(
        &mut self,
        name: &str,
        meta: Meta,
        root_resource_id: Option<String>,
    ) -> Result<Organization, EngineError> {
        require("name", name)?;
        let stamp = self.stamp("org", "organization", meta, |s, id| {
            s.organizations.contains_key(id)
        })?;
        let root_stamp = self
            .stamp(
                "authz_resource",
                "resource",
                Meta {
                    id: root_resource_id,
                    created_at: Some(stamp.created_at.clone()),
                    updated_at: Some(stamp.created_at.clone()),
                },
                |s, id| s.resources.contains_key(id),
            )
            .map_err(|error| match error {
                EngineError::Validation { code, message, .. } => {
                    EngineError::validation("root_resource_id", code, message)
                }
                other => other,
            })?;
        let organization = Organization {
            id: stamp.id,
            name: name.to_owned(),
            root_resource_id: root_stamp.id,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        let root = Resource {
            id: organization.root_resource_id.clone(),
            external_id: organization.id.clone(),
            name: organization.name.clone(),
            description: None,
            resource_type_slug: ORGANIZATION_TYPE.to_owned(),
            organization_id: organization.id.clone(),
            parent_resource_id: None,
            created_at: root_stamp.created_at,
            updated_at: root_stamp.updated_at,
        };
        let seq = self.take_seq();
        self.organizations.insert(
            organization.id.clone(),
            Entry {
                seq,
                item: organization.clone(),
            },
        );
        self.insert_resource(root);
        Ok(organization)
    }

    pub(crate) fn organization(&self, id: &str) -> Result<Organization, EngineError> {
        self.organizations
            .get(id)
            .map(|entry| entry.item.clone())
            .ok_or_else(|| EngineError::not_found("organization", id))
    }

    pub(crate) fn list_organizations(&self) -> Vec<Organization> {
        sorted_refs(self.organizations.values())
    }

    /// Checks role slugs for a membership of `organization_id` and returns them deduplicated,
    /// highest priority first, or the default role when there are none.
    fn checked_membership_roles(
        &self,
        organization_id: &str,
        role_slugs: &[&str],
    ) -> Result<Vec<String>, EngineError> {
        let mut slugs: Vec<String> = Vec::with_capacity(role_slugs.len().max(1));
        for (index, slug) in role_slugs.iter().enumerate() {
            if self.role_in(organization_id, slug).is_none() {
                return Err(EngineError::validation(
                    format!("role_slugs[{index}]"),
                    "role_not_found",
                    format!("role {slug} does not exist in this environment or organization"),
                ));
            }
            if !slugs.iter().any(|s| s == slug) {
                slugs.push((*slug).to_owned());
            }
        }
        if slugs.len() > 1 && !self.multiple_roles {
            return Err(EngineError::validation(
                "role_slugs",
                "multiple_roles_disabled",
                "multiple roles are disabled in this environment: give at most one role",
            ));
        }
        if slugs.is_empty() {
            slugs.push(self.default_role.clone());
        }
        self.sort_by_priority(organization_id, &mut slugs);
        Ok(slugs)
    }

    pub(crate) fn create_membership(
        &mut self,
        user_id: &str,
        organization_id: &str,
        role_slugs: &[&str],
        status: MembershipStatus,
        meta: Meta,
    ) -> Result<Membership, EngineError> {
        require("user_id", user_id)?;
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        let role_slugs = self.checked_membership_roles(organization_id, role_slugs)?;
        if self
            .membership_index
            .get(user_id)
            .is_some_and(|by_org| by_org.contains_key(organization_id))
        {
            return Err(EngineError::conflict(
                "organization_membership",
                format!("user {user_id} is already a member of organization {organization_id}"),
            ));
        }
        let stamp = self.stamp("om", "organization_membership", meta, |s, id| {
            s.memberships.contains_key(id)
        })?;
        let membership = Membership {
            id: stamp.id,
            user_id: user_id.to_owned(),
            organization_id: organization_id.to_owned(),
            status,
            role_slugs,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        let seq = self.take_seq();
        self.membership_index
            .entry(membership.user_id.clone())
            .or_default()
            .insert(membership.organization_id.clone(), membership.id.clone());
        self.memberships.insert(
            membership.id.clone(),
            Entry {
                seq,
                item: membership.clone(),
            },
        );
        Ok(membership)
    }

    pub(crate) fn membership(&self, id: &str) -> Result<&Membership, EngineError> {
        self.memberships
            .get(id)
            .map(|entry| &entry.item)
            .ok_or_else(|| EngineError::not_found("organization_membership", id))
    }

    pub(crate) fn list_memberships(
        &self,
        user_id: Option<&str>,
        organization_id: Option<&str>,
    ) -> Vec<Membership> {
        sorted_refs(self.memberships.values().filter(|entry| {
            user_id.is_none_or(|user| entry.item.user_id == user)
                && organization_id.is_none_or(|org| entry.item.organization_id == org)
        }))
    }

    pub(crate) fn membership_of(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Option<&Membership> {
        let id = self.membership_index.get(user_id)?.get(organization_id)?;
        self.memberships.get(id).map(|entry| &entry.item)
    }

    pub(crate) fn set_membership_status(
        &mut self,
        id: &str,
        status: MembershipStatus,
    ) -> Result<Membership, EngineError> {
        let entry = self
            .memberships
            .get_mut(id)
            .ok_or_else(|| EngineError::not_found("organization_membership", id))?;
        entry.item.status = status;
        entry.item.updated_at = now_rfc3339();
        Ok(entry.item.clone())
    }

    pub(crate) fn set_membership_roles(
        &mut self,
        id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        let organization_id = self.membership(id)?.organization_id.clone();
        let role_slugs = self.checked_membership_roles(&organization_id, role_slugs)?;
        let entry = self
            .memberships
            .get_mut(id)
            .ok_or_else(|| EngineError::not_found("organization_membership", id))?;
        entry.item.role_slugs = role_slugs;
        entry.item.updated_at = now_rfc3339();
        Ok(entry.item.clone())
    }

    /// Deletes a membership and its role assignments.
    pub(crate) fn delete_membership(&mut self, id: &str) -> Result<(), EngineError> {
        let entry = self
            .memberships
            .remove(id)
            .ok_or_else(|| EngineError::not_found("organization_membership", id))?;
        if let Some(by_org) = self.membership_index.get_mut(&entry.item.user_id) {
            by_org.remove(&entry.item.organization_id);
        }
        let doomed: Vec<String> = self
            .assignments
            .values()
            .filter(|a| a.item.organization_membership_id == id)
            .map(|a| a.item.id.clone())
            .collect();
        for assignment_id in doomed {
            self.drop_assignment(&assignment_id);
        }
        self.grants.remove(id);
        Ok(())
    }

    // ----- resources ------------------------------------------------------------------------

    fn insert_resource(&mut self, resource: Resource) {
        let seq = self.take_seq();
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
                .push(resource.id.clone());
        }
        self.resources.insert(
            resource.id.clone(),
            Entry {
                seq,
                item: resource,
            },
        );
    }

    /// The resource `reference` names inside `organization_id`, if any.
    pub(crate) fn find_resource(
        &self,
        organization_id: &str,
        reference: &ResourceRef,
    ) -> Option<&Resource> {
        let id = match reference {
            ResourceRef::Id(id) => id,
            ResourceRef::External {
                resource_type,
                external_id,
            } => self
                .external_index
                .get(organization_id)?
                .get(resource_type.as_str())?
                .get(external_id.as_str())?,
        };
        self.resources
            .get(id.as_str())
            .map(|entry| &entry.item)
            .filter(|resource| resource.organization_id == organization_id)
    }

    /// Like [`Self::find_resource`], with errors: not found, or in another organization.
    fn resolve_resource(
        &self,
        organization_id: &str,
        reference: &ResourceRef,
        field: &str,
    ) -> Result<&Resource, EngineError> {
        if let Some(resource) = self.find_resource(organization_id, reference) {
            return Ok(resource);
        }
        if let ResourceRef::Id(id) = reference
            && self.resources.contains_key(id.as_str())
        {
            return Err(EngineError::validation(
                field,
                "resource_in_other_organization",
                format!("resource {id} does not belong to organization {organization_id}"),
            ));
        }
        Err(EngineError::not_found("resource", reference.to_string()))
    }

    pub(crate) fn create_resource(
        &mut self,
        new: NewResource,
        meta: Meta,
    ) -> Result<Resource, EngineError> {
        let organization = self.organization(&new.organization_id)?;
        require("resource_type_slug", &new.resource_type_slug)?;
        if new.resource_type_slug == ORGANIZATION_TYPE {
            return Err(EngineError::validation(
                "resource_type_slug",
                "reserved_resource_type",
                "the type 'organization' is reserved for organizations' root resources",
            ));
        }
        require("external_id", &new.external_id)?;
        require("name", &new.name)?;
        let parent_id = match &new.parent {
            None => organization.root_resource_id.clone(),
            Some(parent) => self
                .resolve_resource(&new.organization_id, parent, "parent_resource_id")?
                .id
                .clone(),
        };
        if self
            .find_resource(
                &new.organization_id,
                &ResourceRef::external(&new.resource_type_slug, &new.external_id),
            )
            .is_some()
        {
            return Err(EngineError::conflict(
                "resource",
                format!(
                    "a {} resource with external id {} already exists in organization {}",
                    new.resource_type_slug, new.external_id, new.organization_id
                ),
            ));
        }
        let stamp = self.stamp("authz_resource", "resource", meta, |s, id| {
            s.resources.contains_key(id)
        })?;
        let resource = Resource {
            id: stamp.id,
            external_id: new.external_id,
            name: new.name,
            description: new.description,
            resource_type_slug: new.resource_type_slug,
            organization_id: new.organization_id,
            parent_resource_id: Some(parent_id),
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        self.insert_resource(resource.clone());
        Ok(resource)
    }

    pub(crate) fn resource(&self, id: &str) -> Result<&Resource, EngineError> {
        self.resources
            .get(id)
            .map(|entry| &entry.item)
            .ok_or_else(|| EngineError::not_found("resource", id))
    }

    pub(crate) fn resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
    ) -> Result<&Resource, EngineError> {
        self.find_resource(
            organization_id,
            &ResourceRef::external(resource_type_slug, external_id),
        )
        .ok_or_else(|| {
            EngineError::not_found("resource", format!("{resource_type_slug}:{external_id}"))
        })
    }

    pub(crate) fn list_resources(&self, filter: &ResourceFilter) -> Vec<Resource> {
        sorted_refs(self.resources.values().filter(|entry| {
            let resource = &entry.item;
            filter
                .organization_id
                .as_deref()
                .is_none_or(|org| resource.organization_id == org)
                && filter
                    .resource_type_slug
                    .as_deref()
                    .is_none_or(|t| resource.resource_type_slug == t)
                && filter
                    .parent_resource_id
                    .as_deref()
                    .is_none_or(|p| resource.parent_resource_id.as_deref() == Some(p))
        }))
    }

    fn refuse_root(&self, resource: &Resource) -> Result<(), EngineError> {
        if resource.parent_resource_id.is_none() {
            return Err(EngineError::validation(
                "resource_id",
                "organization_resource_immutable",
                format!(
                    "{} is the root resource of organization {}: it cannot be changed or deleted",
                    resource.id, resource.organization_id
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn update_resource(
        &mut self,
        id: &str,
        changes: Changes,
    ) -> Result<Resource, EngineError> {
        self.refuse_root(self.resource(id)?)?;
        changes.validate()?;
        let entry = self
            .resources
            .get_mut(id)
            .ok_or_else(|| EngineError::not_found("resource", id))?;
        changes.apply(
            &mut entry.item.name,
            &mut entry.item.description,
            &mut entry.item.updated_at,
        );
        Ok(entry.item.clone())
    }

    /// Deletes a resource; with children, only when `cascade` is set, and then the whole
    /// subtree and every role assignment on it go too.
    pub(crate) fn delete_resource(&mut self, id: &str, cascade: bool) -> Result<(), EngineError> {
        let resource = self.resource(id)?;
        self.refuse_root(resource)?;
        let parent = resource.parent_resource_id.clone();
        let has_children = self.children.get(id).is_some_and(|c| !c.is_empty());
        if has_children && !cascade {
            return Err(EngineError::conflict(
                "resource",
                format!(
                    "resource {id} has child resources; delete with cascade to remove them too"
                ),
            ));
        }
        let mut subtree = vec![id.to_owned()];
        let mut next = 0;
        while next < subtree.len() {
            if let Some(children) = self.children.get(&subtree[next]) {
                subtree.extend(children.iter().cloned());
            }
            next += 1;
        }
        for doomed in &subtree {
            if let Some(entry) = self.resources.remove(doomed) {
                let resource = entry.item;
                if let Some(by_type) = self.external_index.get_mut(&resource.organization_id)
                    && let Some(by_external) = by_type.get_mut(&resource.resource_type_slug)
                {
                    by_external.remove(&resource.external_id);
                }
            }
            self.children.remove(doomed);
            for assignment_id in self
                .assignments_by_resource
                .remove(doomed)
                .unwrap_or_default()
            {
                self.drop_assignment(&assignment_id);
            }
        }
        if let Some(siblings) = parent.and_then(|p| self.children.get_mut(&p)) {
            siblings.retain(|child| child != id);
        }
        Ok(())
    }

    fn is_descendant(&self, resource: &Resource, ancestor_id: &str) -> bool {
        let mut current = resource.parent_resource_id.as_deref();
        for _ in 0..=self.resources.len() {
            match current {
                None => return false,
                Some(id) if id == ancestor_id => return true,
                Some(id) => {
                    current = self
                        .resources
                        .get(id)
                        .and_then(|entry| entry.item.parent_resource_id.as_deref());
                }
            }
        }
        false
    }

    // ----- role assignments -----------------------------------------------------------------

    pub(crate) fn assign_role(
        &mut self,
        membership_id: &str,
        role_slug: &str,
        resource: &ResourceRef,
        meta: Meta,
    ) -> Result<RoleAssignment, EngineError> {
        let membership = self.membership(membership_id)?;
        let organization_id = membership.organization_id.clone();
        if self.role_in(&organization_id, role_slug).is_none() {
            return Err(EngineError::not_found("role", role_slug));
        }
        let resource = self.resolve_resource(&organization_id, resource, "resource_id")?;
        let already = self
            .grants
            .get(membership_id)
            .and_then(|by_resource| by_resource.get(&resource.id))
            .is_some_and(|slugs| slugs.iter().any(|s| s == role_slug));
        if already {
            return Err(EngineError::conflict(
                "role_assignment",
                format!(
                    "membership {membership_id} already has role {role_slug} on resource {}",
                    resource.id
                ),
            ));
        }
        let (resource_id, external_id, resource_type) = (
            resource.id.clone(),
            resource.external_id.clone(),
            resource.resource_type_slug.clone(),
        );
        let stamp = self.stamp("ra", "role_assignment", meta, |s, id| {
            s.assignments.contains_key(id)
        })?;
        let assignment = RoleAssignment {
            id: stamp.id,
            organization_membership_id: membership_id.to_owned(),
            role_slug: role_slug.to_owned(),
            resource_id,
            resource_external_id: external_id,
            resource_type_slug: resource_type,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        let seq = self.take_seq();
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
        self.assignments.insert(
            assignment.id.clone(),
            Entry {
                seq,
                item: assignment.clone(),
            },
        );
        Ok(assignment)
    }

    fn drop_assignment(&mut self, id: &str) {
        let Some(entry) = self.assignments.remove(id) else {
            return;
        };
        let assignment = entry.item;
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
        }
    }

    pub(crate) fn list_role_assignments(
        &self,
        membership_id: &str,
    ) -> Result<Vec<RoleAssignment>, EngineError> {
        self.membership(membership_id)?;
        Ok(sorted_refs(self.assignments.values().filter(|entry| {
            entry.item.organization_membership_id == membership_id
        })))
    }

    pub(crate) fn list_role_assignments_for_resource(
        &self,
        resource_id: &str,
    ) -> Result<Vec<RoleAssignment>, EngineError> {
        self.resource(resource_id)?;
        let ids = self.assignments_by_resource.get(resource_id);
        Ok(sorted_refs(
            ids.into_iter()
                .flatten()
                .filter_map(|id| self.assignments.get(id)),
        ))
    }

    pub(crate) fn remove_role(
        &mut self,
        membership_id: &str,
        role_slug: &str,
        resource: &ResourceRef,
    ) -> Result<(), EngineError> {
        let organization_id = self.membership(membership_id)?.organization_id.clone();
        let resource_id = self
            .resolve_resource(&organization_id, resource, "resource_id")?
            .id
            .clone();
        let found = self
            .assignments_by_resource
            .get(&resource_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.assignments.get(id))
            .find(|entry| {
                entry.item.organization_membership_id == membership_id
                    && entry.item.role_slug == role_slug
            })
            .map(|entry| entry.item.id.clone())
            .ok_or_else(|| {
                EngineError::not_found(
                    "role_assignment",
                    format!("{membership_id}/{role_slug}/{resource_id}"),
                )
            })?;
        self.drop_assignment(&found);
        Ok(())
    }

    pub(crate) fn remove_role_assignment(
        &mut self,
        membership_id: &str,
        assignment_id: &str,
    ) -> Result<(), EngineError> {
        self.membership(membership_id)?;
        let belongs = self
            .assignments
            .get(assignment_id)
            .is_some_and(|entry| entry.item.organization_membership_id == membership_id);
        if !belongs {
            return Err(EngineError::not_found("role_assignment", assignment_id));
        }
        self.drop_assignment(assignment_id);
        Ok(())
    }

    // ----- decisions and queries ------------------------------------------------------------

    /// The hot path. No allocation: hash lookups by `&str` and a walk up the parents.
    pub(crate) fn is_authorized(
        &self,
        membership: &Membership,
        permission: &str,
        resource: &Resource,
    ) -> bool {
        let organization_id = membership.organization_id.as_str();
        if membership.status != MembershipStatus::Active
            || resource.organization_id != organization_id
        {
            return false;
        }
        if membership
            .role_slugs
            .iter()
            .any(|slug| self.role_grants(organization_id, slug, permission))
        {
            return true;
        }
        let Some(by_resource) = self.grants.get(membership.id.as_str()) else {
            return false;
        };
        let mut current = Some(resource);
        // Parents cannot form cycles (a parent exists before its child and never changes);
        // the bound is a guard, not a limit anyone reaches.
        for _ in 0..=self.resources.len() {
            let Some(node) = current else {
                return false;
            };
            if let Some(slugs) = by_resource.get(node.id.as_str())
                && slugs
                    .iter()
                    .any(|slug| self.role_grants(organization_id, slug, permission))
            {
                return true;
            }
            current = node
                .parent_resource_id
                .as_deref()
                .and_then(|parent| self.resources.get(parent))
                .map(|entry| &entry.item);
        }
        false
    }

    pub(crate) fn check(
        &self,
        membership_id: &str,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<bool, EngineError> {
        let membership = self.membership(membership_id)?;
        match self.resolve_resource(&membership.organization_id, resource, "resource_id") {
            Ok(resource) => Ok(self.is_authorized(membership, permission, resource)),
            Err(EngineError::Validation { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Resources of the membership's organization it may use `permission` on; with `parent`,
    /// only the parent's descendants (not the parent itself).
    pub(crate) fn resources_for_membership(
        &self,
        membership_id: &str,
        permission: &str,
        parent: Option<&ResourceRef>,
    ) -> Result<Vec<Resource>, EngineError> {
        let membership = self.membership(membership_id)?;
        let organization_id = membership.organization_id.as_str();
        let parent_id = match parent {
            Some(parent) => Some(
                self.resolve_resource(organization_id, parent, "parent_resource_id")?
                    .id
                    .as_str(),
            ),
            None => None,
        };
        Ok(sorted_refs(self.resources.values().filter(|entry| {
            let resource = &entry.item;
            resource.organization_id == organization_id
                && parent_id.is_none_or(|p| self.is_descendant(resource, p))
                && self.is_authorized(membership, permission, resource)
        })))
    }

    /// Memberships that may use `permission` on the resource: with [`AssignmentKind::Direct`]
    /// through a role assigned on the resource itself, with [`AssignmentKind::Indirect`] in any
    /// way (assignment on it or an ancestor, or an organization-level role).
    pub(crate) fn memberships_for_resource(
        &self,
        resource_id: &str,
        permission: &str,
        kind: AssignmentKind,
    ) -> Result<Vec<Membership>, EngineError> {
        let resource = self.resource(resource_id)?;
        let organization_id = resource.organization_id.as_str();
        Ok(sorted_refs(self.memberships.values().filter(|entry| {
            let membership = &entry.item;
            match kind {
                AssignmentKind::Indirect => self.is_authorized(membership, permission, resource),
                AssignmentKind::Direct => {
                    membership.status == MembershipStatus::Active
                        && membership.organization_id == organization_id
                        && self
                            .grants
                            .get(&membership.id)
                            .and_then(|by_resource| by_resource.get(resource_id))
                            .is_some_and(|slugs| {
                                slugs
                                    .iter()
                                    .any(|slug| self.role_grants(organization_id, slug, permission))
                            })
                }
            }
        })))
    }

    /// Every permission the membership holds on the resource, sorted by slug.
    pub(crate) fn effective_permissions(
        &self,
        membership_id: &str,
        resource: &ResourceRef,
    ) -> Result<Vec<Permission>, EngineError> {
        let membership = self.membership(membership_id)?;
        let organization_id = membership.organization_id.as_str();
        let resource = self.resolve_resource(organization_id, resource, "resource_id")?;
        if membership.status != MembershipStatus::Active {
            return Ok(Vec::new());
        }
        let mut slugs: Vec<&str> = Vec::new();
        let mut take = |role_slug: &str| {
            if let Some(role) = self.role_in(organization_id, role_slug) {
                slugs.extend(role.permissions.iter().map(String::as_str));
            }
        };
        for slug in &membership.role_slugs {
            take(slug);
        }
        if let Some(by_resource) = self.grants.get(membership_id) {
            let mut current = Some(resource);
            for _ in 0..=self.resources.len() {
                let Some(node) = current else { break };
                for slug in by_resource.get(&node.id).into_iter().flatten() {
                    take(slug);
                }
                current = node
                    .parent_resource_id
                    .as_deref()
                    .and_then(|parent| self.resources.get(parent))
                    .map(|entry| &entry.item);
            }
        }
        slugs.sort_unstable();
        slugs.dedup();
        Ok(slugs
            .into_iter()
            .filter_map(|slug| self.permissions.get(slug))
            .map(|entry| entry.item.clone())
            .collect())
    }

    /// The permissions of the membership's organization-level roles, sorted: what a session
    /// token's `permissions` claim carries.
    pub(crate) fn organization_permissions(
        &self,
        membership_id: &str,
    ) -> Result<Vec<String>, EngineError> {
        let membership = self.membership(membership_id)?;
        let mut slugs: Vec<String> = membership
            .role_slugs
            .iter()
            .filter_map(|slug| self.role_in(&membership.organization_id, slug))
            .flat_map(|role| role.permissions.iter().cloned())
            .collect();
        slugs.sort_unstable();
        slugs.dedup();
        Ok(slugs)
    }

    // ----- dump -----------------------------------------------------------------------------

    pub(crate) fn all_assignments(&self) -> Vec<RoleAssignment> {
        sorted_refs(self.assignments.values())
    }

    /// Only the organization's own roles, in creation order (for the policy dump).
    pub(crate) fn roles_of_organization(&self, organization_id: &str) -> Vec<Role> {
        self.organization_roles
            .get(organization_id)
            .map(|own| sorted_refs(own.values()))
            .unwrap_or_default()
    }
}
