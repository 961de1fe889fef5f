//! Roles and permissions: the environment's settings (default role, multiple roles, priority
//! order), permissions, environment roles and organization roles, and the deletion rules.

use std::collections::HashMap;

use super::LocalEngine;
use super::error::EngineError;
use super::ids::{
    Meta, slugify, validate_description, validate_name, validate_permission_slug,
    validate_resource_type, validate_role_slug,
};
use super::model::{Changes, NewPermission, NewRole, Permission, Role, RoleType};
use super::state::{Entry, ORGANIZATION_TYPE, SEEDED_DEFAULT_ROLE, State, sorted_refs};
use super::time::now_rfc3339;
use crate::limits::{NAME_MAX, SLUG_MAX};
use crate::support::random_hex;

fn owned(slugs: &[impl AsRef<str>]) -> Vec<String> {
    slugs.iter().map(|s| s.as_ref().to_owned()).collect()
}

impl State {
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
        self.touch_settings();
        self.priority.insert(0, role.slug.clone());
        self.put_role(None, Entry { seq, item: role });
    }

    pub(super) fn role_id_taken(&self, id: &str) -> bool {
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
        self.touch_settings();
        self.multiple_roles = enabled;
        if enabled {
            return;
        }
        let crowded: Vec<String> = self
            .memberships
            .values()
            .filter(|entry| entry.item.role_slugs.len() > 1)
            .map(|entry| entry.item.id.clone())
            .collect();
        let now = now_rfc3339();
        for id in crowded {
            if let Some(membership) = self.membership_mut(&id) {
                // role_slugs are kept highest priority first.
                membership.role_slugs.truncate(1);
                membership.updated_at = now.clone();
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
        self.touch_settings();
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
        self.touch_settings();
        self.priority = slugs.iter().map(|s| (*s).to_owned()).collect();
        self.resort_membership_roles();
        Ok(())
    }

    /// The sort key of a role in the priority order: environment roles by their position,
    /// then organization roles in creation order.
    pub(super) fn role_rank(&self, organization_id: &str, slug: &str) -> (usize, u64) {
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

    pub(super) fn sort_by_priority(&self, organization_id: &str, slugs: &mut [String]) {
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
            if let Some(membership) = self.membership_mut(&id) {
                membership.role_slugs = slugs;
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
        validate_name("name", &new.name, NAME_MAX)?;
        validate_description("description", new.description.as_deref())?;
        if let Some(resource_type) = &new.resource_type_slug {
            validate_resource_type("resource_type_slug", resource_type)?;
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
        let seq = self.seq_for(stamp.seq);
        self.put_permission(Entry {
            seq,
            item: permission.clone(),
        });
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
        let permission = self
            .permission_mut(slug)
            .ok_or_else(|| EngineError::not_found("permission", slug))?;
        changes.apply(
            &mut permission.name,
            &mut permission.description,
            &mut permission.updated_at,
        );
        Ok(permission.clone())
    }

    /// Deleting a permission takes it out of every role that carried it.
    pub(crate) fn delete_permission(&mut self, slug: &str) -> Result<(), EngineError> {
        if !self.remove_permission(slug) {
            return Err(EngineError::not_found("permission", slug));
        }
        let carriers: Vec<(Option<String>, String)> = self
            .environment_roles
            .values()
            .map(|entry| (None, &entry.item))
            .chain(
                self.organization_roles
                    .iter()
                    .flat_map(|(organization, roles)| {
                        roles
                            .values()
                            .map(move |entry| (Some(organization.clone()), &entry.item))
                    }),
            )
            .filter(|(_, role)| role.has_permission(slug))
            .map(|(organization, role)| (organization, role.slug.clone()))
            .collect();
        for (organization, role_slug) in carriers {
            if let Some(role) = self.role_mut(organization.as_deref(), &role_slug) {
                role.permissions.retain(|held| held != slug);
            }
        }
        Ok(())
    }

    pub(super) fn checked_permission_set(
        &self,
        permissions: &[String],
    ) -> Result<Vec<String>, EngineError> {
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
        validate_role_slug("slug", &new.slug)?;
        if self.environment_roles.contains_key(&new.slug)
            || self.slug_used_by_organization_role(&new.slug)
        {
            return Err(EngineError::conflict(
                "role",
                format!("a role with slug {} already exists", new.slug),
            ));
        }
        let (role, seq) = self.build_role(new, meta, None)?;
        self.touch_settings();
        self.priority.push(role.slug.clone());
        self.put_role(
            None,
            Entry {
                seq,
                item: role.clone(),
            },
        );
        Ok(role)
    }

    fn build_role(
        &mut self,
        new: NewRole,
        meta: Meta,
        organization_id: Option<&str>,
    ) -> Result<(Role, u64), EngineError> {
        validate_name("name", &new.name, NAME_MAX)?;
        validate_description("description", new.description.as_deref())?;
        if let Some(resource_type) = &new.resource_type_slug {
            validate_resource_type("resource_type_slug", resource_type)?;
        }
        let permissions = self.checked_permission_set(&new.permissions)?;
        let stamp = self.stamp("role", "role", meta, |s, id| s.role_id_taken(id))?;
        let role = Role {
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
        };
        Ok((role, self.seq_for(stamp.seq)))
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

    fn existing_role_mut(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
    ) -> Result<&mut Role, EngineError> {
        self.role_mut(organization_id, slug)
            .ok_or_else(|| EngineError::not_found("role", slug))
    }

    fn role_exists(&self, organization_id: Option<&str>, slug: &str) -> Result<(), EngineError> {
        let exists = match organization_id {
            None => self.environment_roles.contains_key(slug),
            Some(organization) => self
                .organization_roles
                .get(organization)
                .is_some_and(|roles| roles.contains_key(slug)),
        };
        if exists {
            Ok(())
        } else {
            Err(EngineError::not_found("role", slug))
        }
    }

    pub(crate) fn update_role(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        changes: Changes,
    ) -> Result<Role, EngineError> {
        changes.validate()?;
        let role = self.existing_role_mut(organization_id, slug)?;
        changes.apply(&mut role.name, &mut role.description, &mut role.updated_at);
        Ok(role.clone())
    }

    pub(crate) fn set_role_permissions(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        permissions: &[String],
    ) -> Result<Role, EngineError> {
        self.role_exists(organization_id, slug)?;
        let set = self.checked_permission_set(permissions)?;
        let role = self.existing_role_mut(organization_id, slug)?;
        role.permissions = set;
        role.updated_at = now_rfc3339();
        Ok(role.clone())
    }

    /// Adding a permission the role already carries changes nothing.
    pub(crate) fn add_role_permission(
        &mut self,
        organization_id: Option<&str>,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.role_exists(organization_id, slug)?;
        validate_permission_slug("slug", permission)?;
        if !self.permissions.contains_key(permission) {
            return Err(EngineError::not_found("permission", permission));
        }
        let held = self
            .role_entry(organization_id, slug)
            .is_some_and(|entry| entry.item.has_permission(permission));
        if held {
            return self
                .role_entry(organization_id, slug)
                .map(|entry| entry.item.clone())
                .ok_or_else(|| EngineError::not_found("role", slug));
        }
        let role = self.existing_role_mut(organization_id, slug)?;
        if let Err(position) = role
            .permissions
            .binary_search_by(|held| held.as_str().cmp(permission))
        {
            role.permissions.insert(position, permission.to_owned());
        }
        role.updated_at = now_rfc3339();
        Ok(role.clone())
    }

    pub(crate) fn remove_organization_role_permission(
        &mut self,
        organization_id: &str,
        slug: &str,
        permission: &str,
    ) -> Result<Role, EngineError> {
        self.role_exists(Some(organization_id), slug)?;
        let held = self
            .role_entry(Some(organization_id), slug)
            .is_some_and(|entry| entry.item.has_permission(permission));
        if !held {
            return Err(EngineError::not_found("permission", permission));
        }
        let role = self.existing_role_mut(Some(organization_id), slug)?;
        role.permissions.retain(|held| held != permission);
        role.updated_at = now_rfc3339();
        Ok(role.clone())
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
        self.remove_role_entry(None, slug);
        self.touch_settings();
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
            validate_name("name", &new.name, NAME_MAX)?;
            new.slug = self.derived_organization_role_slug(organization_id, &new.name);
        }
        validate_role_slug("slug", &new.slug)?;
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
        let (role, seq) = self.build_role(new, meta, Some(organization_id))?;
        self.put_role(
            Some(organization_id),
            Entry {
                seq,
                item: role.clone(),
            },
        );
        Ok(role)
    }

    /// WorkOS derives an omitted organization role slug from the name: `org-` and the name in
    /// lowercase with `-` between words, cut to the slug limit. A name with no letter or digit
    /// (only symbols) gives a random suffix instead of a bare `org-`.
    fn derived_organization_role_slug(&self, organization_id: &str, name: &str) -> String {
        let mut words = slugify(name);
        words.truncate(SLUG_MAX - "org-".len());
        let words = words.trim_end_matches('-');
        if !words.is_empty() {
            return format!("org-{words}");
        }
        let taken = |slug: &str| {
            self.environment_roles.contains_key(slug)
                || self
                    .organization_roles
                    .get(organization_id)
                    .is_some_and(|roles| roles.contains_key(slug))
        };
        let mut slug = format!("org-{}", random_hex(4));
        for _ in 0..16 {
            if !taken(&slug) {
                break;
            }
            slug = format!("org-{}", random_hex(4));
        }
        slug
    }

    /// The organization's own role `slug`, or, as WorkOS answers on the organization path, the
    /// environment role of that slug (every environment role applies in every organization).
    pub(crate) fn organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<Role, EngineError> {
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        self.role_in(organization_id, slug)
            .cloned()
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
        self.role_exists(Some(organization_id), slug)?;
        self.remove_role_entry(Some(organization_id), slug);
        self.withdraw_role(Some(organization_id), slug);
        Ok(())
    }

    /// After a role is deleted: in single-role mode its memberships get the default role; with
    /// multiple roles it is removed from each membership, which keeps its other roles (or gets
    /// the default role when none is left). Its resource assignments go too.
    fn withdraw_role(&mut self, organization_id: Option<&str>, slug: &str) {
        let holders: Vec<String> = self
            .memberships
            .values()
            .map(|entry| &entry.item)
            .filter(|membership| {
                organization_id.is_none_or(|org| org == membership.organization_id)
                    && membership.role_slugs.iter().any(|s| s == slug)
            })
            .map(|membership| membership.id.clone())
            .collect();
        let now = now_rfc3339();
        let default_role = self.default_role.clone();
        let multiple_roles = self.multiple_roles;
        for id in holders {
            let Some(membership) = self.membership_mut(&id) else {
                continue;
            };
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
            self.remove_assignment(&id);
        }
    }

    /// The role `slug` as seen from `organization_id`: its own role or an environment role.
    pub(super) fn role_in(&self, organization_id: &str, slug: &str) -> Option<&Role> {
        self.organization_roles
            .get(organization_id)
            .and_then(|roles| roles.get(slug))
            .or_else(|| self.environment_roles.get(slug))
            .map(|entry| &entry.item)
    }

    pub(super) fn role_grants(&self, organization_id: &str, slug: &str, permission: &str) -> bool {
        self.role_in(organization_id, slug)
            .is_some_and(|role| role.has_permission(permission))
    }

    /// Only the organization's own roles, in creation order (for the policy dump).
    pub(crate) fn roles_of_organization(&self, organization_id: &str) -> Vec<Role> {
        self.organization_roles
            .get(organization_id)
            .map(|own| sorted_refs(own.values()))
            .unwrap_or_default()
    }
}

impl LocalEngine {
    // ----- settings -------------------------------------------------------------------------

    /// Whether memberships may hold several organization-level roles (off by default).
    pub fn multiple_roles(&self) -> bool {
        self.read().multiple_roles()
    }

    /// Turns multiple roles on or off. Turning it off keeps, on every membership, only its
    /// highest-priority role.
    pub fn set_multiple_roles(&self, enabled: bool) -> Result<(), EngineError> {
        self.write(|state| {
            state.set_multiple_roles(enabled);
            Ok(())
        })
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
}
