//! Decisions and queries: `check`, the hot path, and the resource and membership queries built
//! on the same rule.

use super::LocalEngine;
use super::error::EngineError;
use super::model::{AssignmentKind, Membership, MembershipStatus, Permission, Resource};
use super::state::{State, sorted_refs};
use crate::check::{
    AccessibleResource, AuthorizerError, CheckRequest, Decision, ListRequest, PermissionsRequest,
    ResourceRef,
};

impl State {
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
        self.ancestors(resource).any(|node| {
            by_resource.get(node.id.as_str()).is_some_and(|slugs| {
                slugs
                    .iter()
                    .any(|slug| self.role_grants(organization_id, slug, permission))
            })
        })
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
            for node in self.ancestors(resource) {
                for slug in by_resource.get(&node.id).into_iter().flatten() {
                    take(slug);
                }
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

    /// The [`Authorizer`](crate::check::Authorizer) list: the resources of the request's type
    /// under its parent (every one of the organization when `None`) on which the membership
    /// may use the permission. A membership of another organization, or a parent not in the
    /// organization, lists nothing: the same answer [`LocalEngine::decide`] gives a check.
    pub(crate) fn accessible(&self, request: &ListRequest) -> Vec<&Resource> {
        let organization_id = request.organization_id.as_str();
        let Ok(membership) = self.membership(&request.organization_membership_id) else {
            return Vec::new();
        };
        if membership.organization_id != organization_id {
            return Vec::new();
        }
        let parent_id = match &request.parent {
            None => None,
            Some(parent) => match self.find_resource(organization_id, parent) {
                Some(parent) => Some(parent.id.as_str()),
                None => return Vec::new(),
            },
        };
        let mut found: Vec<(u64, &Resource)> = self
            .resources
            .values()
            .filter(|entry| {
                let resource = &entry.item;
                resource.organization_id == organization_id
                    && resource.resource_type_slug == request.resource_type
                    && parent_id.is_none_or(|parent| self.is_descendant(resource, parent))
                    && self.is_authorized(membership, &request.permission, resource)
            })
            .map(|entry| (entry.seq, &entry.item))
            .collect();
        found.sort_unstable_by_key(|(seq, _)| *seq);
        found.into_iter().map(|(_, resource)| resource).collect()
    }

    /// The [`Authorizer`](crate::check::Authorizer) permission set: what
    /// [`State::effective_permissions`] answers, for a membership of the request's
    /// organization and a resource inside it; anything else holds nothing.
    pub(crate) fn permission_slugs(&self, request: &PermissionsRequest) -> Vec<String> {
        let in_organization = self
            .membership(&request.organization_membership_id)
            .is_ok_and(|membership| membership.organization_id == request.organization_id);
        if !in_organization {
            return Vec::new();
        }
        self.effective_permissions(&request.organization_membership_id, &request.resource)
            .map(|permissions| permissions.into_iter().map(|p| p.slug).collect())
            .unwrap_or_default()
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
}

impl LocalEngine {
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

    /// The [`Authorizer`](crate::check::Authorizer) list, synchronously: the resources of
    /// `request.resource_type` under `request.parent` (inheritance included) on which the
    /// membership may use `request.permission`, in creation order; more than `max_resources`
    /// is [`AuthorizerError::ListTooLong`].
    pub(crate) fn list_accessible(
        &self,
        request: &ListRequest,
        max_resources: usize,
    ) -> Result<Vec<AccessibleResource>, AuthorizerError> {
        let state = self.read();
        let found = state.accessible(request);
        if found.len() > max_resources {
            return Err(AuthorizerError::ListTooLong {
                limit: max_resources,
            });
        }
        Ok(found
            .into_iter()
            .map(|r| AccessibleResource::new(&r.id, &r.external_id, &r.name))
            .collect())
    }

    /// The [`Authorizer`](crate::check::Authorizer) permission set, synchronously: the slugs
    /// the membership holds on the resource, sorted; nothing for a membership of another
    /// organization or a resource outside it.
    pub(crate) fn permission_slugs(&self, request: &PermissionsRequest) -> Vec<String> {
        self.read().permission_slugs(request)
    }

    /// The [`Authorizer`](crate::check::Authorizer) answer, synchronously: the membership must
    /// belong to `request.organization_id` and the resource is looked up there; anything
    /// missing is [`Decision::Deny`].
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
