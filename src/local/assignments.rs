//! Role assignments: a role given to a membership on a resource.

use super::LocalEngine;
use super::error::EngineError;
use super::ids::Meta;
use super::model::RoleAssignment;
use super::state::{Entry, State, sorted_refs};
use crate::check::ResourceRef;

impl State {
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
        let seq = self.seq_for(stamp.seq);
        self.put_assignment(Entry {
            seq,
            item: assignment.clone(),
        });
        Ok(assignment)
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
        self.remove_assignment(&found);
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
        self.remove_assignment(assignment_id);
        Ok(())
    }

    // ----- dump -----------------------------------------------------------------------------

    pub(crate) fn all_assignments(&self) -> Vec<RoleAssignment> {
        sorted_refs(self.assignments.values())
    }
}

impl LocalEngine {
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
}
