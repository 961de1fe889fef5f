//! Organizations and their memberships.

use super::LocalEngine;
use super::error::EngineError;
use super::ids::{Meta, validate_name};
use super::model::{Membership, MembershipStatus, Organization, Resource};
use super::state::{Entry, ORGANIZATION_TYPE, State, sorted_refs};
use super::time::now_rfc3339;
use crate::limits::{ORGANIZATION_NAME_MAX, USER_ID_MAX, quote};

impl State {
    /// Creates an organization and its root resource. `root` may pin the root's id (a policy
    /// file) or all of its metadata (the store); its timestamps default to the organization's.
    pub(crate) fn create_organization(
        &mut self,
        name: &str,
        meta: Meta,
        root: Meta,
    ) -> Result<Organization, EngineError> {
        validate_name("name", name, ORGANIZATION_NAME_MAX)?;
        let stamp = self.stamp("org", "organization", meta, |s, id| {
            s.organizations.contains_key(id)
        })?;
        let root_stamp = self
            .stamp(
                "authz_resource",
                "resource",
                Meta {
                    created_at: root.created_at.or_else(|| Some(stamp.created_at.clone())),
                    updated_at: root.updated_at.or_else(|| Some(stamp.created_at.clone())),
                    ..root
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
        let seq = self.seq_for(stamp.seq);
        self.put_organization(Entry {
            seq,
            item: organization.clone(),
        });
        let root_seq = self.seq_for(root_stamp.seq);
        self.put_resource(Entry {
            seq: root_seq,
            item: root,
        });
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
                    format!(
                        "role {} does not exist in this environment or organization",
                        quote(slug)
                    ),
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
        validate_name("user_id", user_id, USER_ID_MAX)?;
        if !self.organizations.contains_key(organization_id) {
            return Err(EngineError::not_found("organization", organization_id));
        }
        let role_slugs = self.checked_membership_roles(organization_id, role_slugs)?;
        if self.membership_of(user_id, organization_id).is_some() {
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
        let seq = self.seq_for(stamp.seq);
        self.put_membership(Entry {
            seq,
            item: membership.clone(),
        });
        Ok(membership)
    }

    /// WorkOS's `createOrganizationMembership`: a new active membership, or, when the user has
    /// an inactive one in the organization, that one active again with the role(s) given.
    pub(crate) fn activate_membership(
        &mut self,
        user_id: &str,
        organization_id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        let inactive = self
            .membership_of(user_id, organization_id)
            .filter(|membership| membership.status == MembershipStatus::Inactive)
            .map(|membership| membership.id.clone());
        match inactive {
            Some(id) => {
                self.set_membership_roles(&id, role_slugs)?;
                self.set_membership_status(&id, MembershipStatus::Active)
            }
            None => self.create_membership(
                user_id,
                organization_id,
                role_slugs,
                MembershipStatus::Active,
                Meta::default(),
            ),
        }
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

    fn existing_membership_mut(&mut self, id: &str) -> Result<&mut Membership, EngineError> {
        self.membership_mut(id)
            .ok_or_else(|| EngineError::not_found("organization_membership", id))
    }

    pub(crate) fn set_membership_status(
        &mut self,
        id: &str,
        status: MembershipStatus,
    ) -> Result<Membership, EngineError> {
        let membership = self.existing_membership_mut(id)?;
        membership.status = status;
        membership.updated_at = now_rfc3339();
        Ok(membership.clone())
    }

    pub(crate) fn set_membership_roles(
        &mut self,
        id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        let organization_id = self.membership(id)?.organization_id.clone();
        let role_slugs = self.checked_membership_roles(&organization_id, role_slugs)?;
        let membership = self.existing_membership_mut(id)?;
        membership.role_slugs = role_slugs;
        membership.updated_at = now_rfc3339();
        Ok(membership.clone())
    }

    /// Deletes a membership and its role assignments.
    pub(crate) fn delete_membership(&mut self, id: &str) -> Result<(), EngineError> {
        self.membership(id)?;
        // The grants index names the resources the membership holds roles on, so only its own
        // assignments are visited.
        let doomed: Vec<String> = self
            .grants
            .get(id)
            .into_iter()
            .flat_map(|by_resource| by_resource.keys())
            .flat_map(|resource_id| self.assignments_by_resource.get(resource_id))
            .flatten()
            .filter(|assignment_id| {
                self.assignments
                    .get(*assignment_id)
                    .is_some_and(|a| a.item.organization_membership_id == id)
            })
            .cloned()
            .collect();
        for assignment_id in doomed {
            self.remove_assignment(&assignment_id);
        }
        self.remove_membership(id);
        Ok(())
    }
}

impl LocalEngine {
    // ----- organizations --------------------------------------------------------------------

    /// Creates an organization (`org_...`) and its root resource.
    pub fn create_organization(&self, name: &str) -> Result<Organization, EngineError> {
        self.write(|state| state.create_organization(name, Meta::default(), Meta::default()))
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
        self.write(|state| state.create_organization(name, meta, Meta::default()))
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

    /// WorkOS's `createOrganizationMembership`: an active membership of the user in the
    /// organization with the given role(s), or the default role. When the user already has an
    /// inactive membership there, that one is activated again with those roles (one change).
    pub fn activate_membership(
        &self,
        user_id: &str,
        organization_id: &str,
        role_slugs: &[&str],
    ) -> Result<Membership, EngineError> {
        self.write(|state| state.activate_membership(user_id, organization_id, role_slugs))
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
}
