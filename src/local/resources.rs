//! Resources: one tree per organization under its root resource, external ids unique per
//! (organization, type), cascading deletes.

use super::LocalEngine;
use super::error::EngineError;
use super::ids::{
    Meta, validate_description, validate_external_id, validate_name, validate_resource_type,
};
use super::model::{Changes, NewResource, Resource, ResourceFilter};
use super::state::{Entry, ORGANIZATION_TYPE, State, sorted_refs};
use crate::check::ResourceRef;
use crate::limits::NAME_MAX;

impl State {
    // ----- resources ------------------------------------------------------------------------

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
    pub(super) fn resolve_resource(
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
        validate_resource_type("resource_type_slug", &new.resource_type_slug)?;
        if new.resource_type_slug == ORGANIZATION_TYPE {
            return Err(EngineError::validation(
                "resource_type_slug",
                "reserved_resource_type",
                "the type 'organization' is reserved for organizations' root resources",
            ));
        }
        validate_external_id("external_id", &new.external_id)?;
        validate_name("name", &new.name, NAME_MAX)?;
        validate_description("description", new.description.as_deref())?;
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
        let seq = self.seq_for(stamp.seq);
        self.put_resource(Entry {
            seq,
            item: resource.clone(),
        });
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

    pub(super) fn refuse_root(&self, resource: &Resource) -> Result<(), EngineError> {
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
        let resource = self
            .resource_mut(id)
            .ok_or_else(|| EngineError::not_found("resource", id))?;
        changes.apply(
            &mut resource.name,
            &mut resource.description,
            &mut resource.updated_at,
        );
        Ok(resource.clone())
    }

    /// Deletes a resource; with children, only when `cascade` is set, and then the whole
    /// subtree and every role assignment on it go too.
    pub(crate) fn delete_resource(&mut self, id: &str, cascade: bool) -> Result<(), EngineError> {
        self.refuse_root(self.resource(id)?)?;
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
        // Leaves first, so every step leaves a consistent tree behind.
        for doomed in subtree.iter().rev() {
            let assignments = self
                .assignments_by_resource
                .get(doomed)
                .cloned()
                .unwrap_or_default();
            for assignment_id in assignments {
                self.remove_assignment(&assignment_id);
            }
            self.remove_resource(doomed);
        }
        Ok(())
    }

    /// `resource`, then its parent, and so on up to its organization's root. Parents cannot
    /// form cycles (a parent exists before its child and never changes); the bound is a guard,
    /// not a limit anyone reaches. No allocation: this is on the check hot path.
    pub(super) fn ancestors<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        std::iter::successors(Some(resource), |node| {
            node.parent_resource_id
                .as_deref()
                .and_then(|parent| self.resources.get(parent))
                .map(|entry| &entry.item)
        })
        .take(self.resources.len() + 1)
    }

    /// Whether `ancestor_id` is a strict ancestor of `resource`.
    pub(super) fn is_descendant(&self, resource: &Resource, ancestor_id: &str) -> bool {
        self.ancestors(resource)
            .skip(1)
            .any(|node| node.id == ancestor_id)
    }
}

impl LocalEngine {
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
}
