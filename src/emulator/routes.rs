//! One handler per WorkOS endpoint: read the request, call the engine, shape the answer.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::State;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::json;

use super::Emulator;
use super::api::{
    ApiError, ApiResult, Body, Page, Params, Reached, Segments, assignment_json, created,
    membership_json, no_content, ok, organization_json, permission_json, required, resource_json,
    resource_ref, role_json, role_list, user_json,
};
use super::tokens::{session_claims, sign};
use crate::check::ResourceRef;
use crate::local::{
    AssignmentKind, Changes, Membership, MembershipStatus, NewPermission, NewResource, NewRole,
    NewUser, ResourceFilter,
};

type Emu = State<Emulator>;

/// A membership as WorkOS shows it: with its organization's name.
fn membership_out(emulator: &Emulator, membership: &Membership) -> serde_json::Value {
    let organization_name = emulator
        .engine
        .get_organization(&membership.organization_id)
        .map(|organization| organization.name)
        .unwrap_or_default();
    membership_json(membership, &organization_name)
}

// ----- roles --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreateRole {
    slug: Option<String>,
    name: Option<String>,
    description: Option<String>,
    resource_type_slug: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

impl CreateRole {
    fn into_new_role(self, slug_required: bool) -> Result<NewRole, ApiError> {
        let slug = if slug_required {
            required(&self.slug, "slug")?.to_owned()
        } else {
            self.slug.unwrap_or_default()
        };
        Ok(NewRole {
            slug,
            name: required(&self.name, "name")?.to_owned(),
            description: self.description,
            resource_type_slug: self.resource_type_slug,
            permissions: self.permissions,
        })
    }
}

/// A PATCH body. `description` absent leaves it; `description: null` (which the Node SDK
/// sends for `{ description: null }`) removes it.
#[derive(Deserialize)]
pub(crate) struct Update {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl From<Update> for Changes {
    fn from(update: Update) -> Self {
        Changes {
            name: update.name,
            // The engine reads an empty description as "no description".
            description: update.description.map(Option::unwrap_or_default),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct SetPermissions {
    permissions: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub(crate) struct AddPermission {
    slug: Option<String>,
}

pub(crate) async fn create_environment_role(
    State(emulator): Emu,
    Body(body): Body<CreateRole>,
) -> ApiResult {
    let new = body.into_new_role(true)?;
    created(role_json(&emulator.engine.create_environment_role(new)?))
}

pub(crate) async fn list_environment_roles(State(emulator): Emu) -> ApiResult {
    role_list(&emulator.engine.list_environment_roles())
}

pub(crate) async fn get_environment_role(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
) -> ApiResult {
    ok(role_json(&emulator.engine.get_environment_role(&slug)?))
}

pub(crate) async fn update_environment_role(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
    Body(body): Body<Update>,
) -> ApiResult {
    ok(role_json(
        &emulator
            .engine
            .update_environment_role(&slug, body.into())?,
    ))
}

pub(crate) async fn delete_environment_role(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
) -> ApiResult {
    emulator.engine.delete_environment_role(&slug)?;
    no_content()
}

pub(crate) async fn set_environment_role_permissions(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
    Body(body): Body<SetPermissions>,
) -> ApiResult {
    let permissions = body
        .permissions
        .ok_or_else(|| ApiError::invalid("permissions", "required", "permissions is required"))?;
    ok(role_json(
        &emulator
            .engine
            .set_environment_role_permissions(&slug, &permissions)?,
    ))
}

pub(crate) async fn add_environment_role_permission(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
    Body(body): Body<AddPermission>,
) -> ApiResult {
    let permission = required(&body.slug, "slug")?;
    ok(role_json(
        &emulator
            .engine
            .add_environment_role_permission(&slug, permission)?,
    ))
}

pub(crate) async fn create_organization_role(
    State(emulator): Emu,
    Segments(organization_id): Segments<String>,
    Body(body): Body<CreateRole>,
) -> ApiResult {
    let new = body.into_new_role(false)?;
    created(role_json(
        &emulator
            .engine
            .create_organization_role(&organization_id, new)?,
    ))
}

pub(crate) async fn list_organization_roles(
    State(emulator): Emu,
    Segments(organization_id): Segments<String>,
) -> ApiResult {
    role_list(&emulator.engine.list_organization_roles(&organization_id)?)
}

pub(crate) async fn get_organization_role(
    State(emulator): Emu,
    Segments((organization_id, slug)): Segments<(String, String)>,
) -> ApiResult {
    ok(role_json(
        &emulator
            .engine
            .get_organization_role(&organization_id, &slug)?,
    ))
}

pub(crate) async fn update_organization_role(
    State(emulator): Emu,
    Segments((organization_id, slug)): Segments<(String, String)>,
    Body(body): Body<Update>,
) -> ApiResult {
    ok(role_json(&emulator.engine.update_organization_role(
        &organization_id,
        &slug,
        body.into(),
    )?))
}

pub(crate) async fn delete_organization_role(
    State(emulator): Emu,
    Segments((organization_id, slug)): Segments<(String, String)>,
) -> ApiResult {
    emulator
        .engine
        .delete_organization_role(&organization_id, &slug)?;
    no_content()
}

pub(crate) async fn set_organization_role_permissions(
    State(emulator): Emu,
    Segments((organization_id, slug)): Segments<(String, String)>,
    Body(body): Body<SetPermissions>,
) -> ApiResult {
    let permissions = body
        .permissions
        .ok_or_else(|| ApiError::invalid("permissions", "required", "permissions is required"))?;
    ok(role_json(
        &emulator.engine.set_organization_role_permissions(
            &organization_id,
            &slug,
            &permissions,
        )?,
    ))
}

pub(crate) async fn add_organization_role_permission(
    State(emulator): Emu,
    Segments((organization_id, slug)): Segments<(String, String)>,
    Body(body): Body<AddPermission>,
) -> ApiResult {
    let permission = required(&body.slug, "slug")?;
    ok(role_json(
        &emulator
            .engine
            .add_organization_role_permission(&organization_id, &slug, permission)?,
    ))
}

pub(crate) async fn remove_organization_role_permission(
    State(emulator): Emu,
    Segments((organization_id, slug, permission)): Segments<(String, String, String)>,
) -> ApiResult {
    emulator
        .engine
        .remove_organization_role_permission(&organization_id, &slug, &permission)?;
    no_content()
}

// ----- permissions --------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreatePermission {
    slug: Option<String>,
    name: Option<String>,
    description: Option<String>,
    resource_type_slug: Option<String>,
}

pub(crate) async fn create_permission(
    State(emulator): Emu,
    Body(body): Body<CreatePermission>,
) -> ApiResult {
    let new = NewPermission {
        slug: required(&body.slug, "slug")?.to_owned(),
        name: required(&body.name, "name")?.to_owned(),
        description: body.description,
        resource_type_slug: body.resource_type_slug,
    };
    created(permission_json(&emulator.engine.create_permission(new)?))
}

pub(crate) async fn list_permissions(State(emulator): Emu, params: Params) -> ApiResult {
    let page = Page::from_params(&params)?;
    let mut permissions = emulator.engine.list_permissions();
    if let Some(resource_type) = params.get("resource_type_slug") {
        permissions.retain(|p| p.resource_type_slug == resource_type);
    }
    page.list(permissions, |p| &p.id, permission_json)
}

pub(crate) async fn get_permission(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
) -> ApiResult {
    ok(permission_json(&emulator.engine.get_permission(&slug)?))
}

pub(crate) async fn update_permission(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
    Body(body): Body<Update>,
) -> ApiResult {
    ok(permission_json(
        &emulator.engine.update_permission(&slug, body.into())?,
    ))
}

pub(crate) async fn delete_permission(
    State(emulator): Emu,
    Segments(slug): Segments<String>,
) -> ApiResult {
    emulator.engine.delete_permission(&slug)?;
    no_content()
}

// ----- resources ----------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreateResource {
    organization_id: Option<String>,
    resource_type_slug: Option<String>,
    external_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    parent_resource_id: Option<String>,
    parent_resource_external_id: Option<String>,
    parent_resource_type_slug: Option<String>,
}

pub(crate) async fn create_resource(
    State(emulator): Emu,
    Body(body): Body<CreateResource>,
) -> ApiResult {
    let parent = resource_ref(
        body.parent_resource_id.as_deref(),
        body.parent_resource_external_id.as_deref(),
        body.parent_resource_type_slug.as_deref(),
        (
            "parent_resource_id",
            "parent_resource_external_id",
            "parent_resource_type_slug",
        ),
    )?;
    let new = NewResource {
        organization_id: required(&body.organization_id, "organization_id")?.to_owned(),
        resource_type_slug: required(&body.resource_type_slug, "resource_type_slug")?.to_owned(),
        external_id: required(&body.external_id, "external_id")?.to_owned(),
        name: required(&body.name, "name")?.to_owned(),
        description: body.description,
        parent,
    };
    created(resource_json(&emulator.engine.create_resource(new)?))
}

pub(crate) async fn list_resources(State(emulator): Emu, params: Params) -> ApiResult {
    let page = Page::from_params(&params)?;
    let organization_id = params.get("organization_id").map(str::to_owned);
    let parent = resource_ref(
        params.get("parent_resource_id"),
        params.get("parent_external_id"),
        params.get("parent_resource_type_slug"),
        (
            "parent_resource_id",
            "parent_external_id",
            "parent_resource_type_slug",
        ),
    )?;
    let parent_resource_id = match parent {
        None => None,
        Some(ResourceRef::Id(id)) => Some(id),
        Some(external) => {
            let organization = organization_id.as_deref().ok_or_else(|| {
                ApiError::invalid(
                    "organization_id",
                    "required",
                    "organization_id is required to name the parent by external id",
                )
            })?;
            // An unknown parent has no children: an empty list, not an error.
            Some(
                emulator
                    .engine
                    .find_resource(organization, &external)
                    .map_or_else(String::new, |r| r.id),
            )
        }
    };
    let resources = emulator.engine.list_resources(&ResourceFilter {
        organization_id,
        resource_type_slug: params.get("resource_type_slug").map(str::to_owned),
        parent_resource_id,
    });
    page.list(resources, |r| &r.id, resource_json)
}

pub(crate) async fn get_resource(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    ok(resource_json(&emulator.engine.get_resource(&id)?))
}

pub(crate) async fn update_resource(
    State(emulator): Emu,
    Segments(id): Segments<String>,
    Body(body): Body<Update>,
) -> ApiResult {
    ok(resource_json(
        &emulator.engine.update_resource(&id, body.into())?,
    ))
}

fn cascade(params: &Params) -> Result<bool, ApiError> {
    match params.get("cascade_delete") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            "cascade_delete",
            "invalid_boolean",
            format!("cascade_delete must be true or false, not {other:?}"),
        )),
    }
}

pub(crate) async fn delete_resource(
    State(emulator): Emu,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult {
    emulator.engine.delete_resource(&id, cascade(&params)?)?;
    no_content()
}

fn external_resource_id(
    emulator: &Emulator,
    (organization_id, resource_type, external_id): &(String, String, String),
) -> Result<String, ApiError> {
    Ok(emulator
        .engine
        .get_resource_by_external_id(organization_id, resource_type, external_id)?
        .id)
}

pub(crate) async fn get_resource_by_external_id(
    State(emulator): Emu,
    Segments(path): Segments<(String, String, String)>,
) -> ApiResult {
    let id = external_resource_id(&emulator, &path)?;
    ok(resource_json(&emulator.engine.get_resource(&id)?))
}

pub(crate) async fn update_resource_by_external_id(
    State(emulator): Emu,
    Segments(path): Segments<(String, String, String)>,
    Body(body): Body<Update>,
) -> ApiResult {
    let id = external_resource_id(&emulator, &path)?;
    ok(resource_json(
        &emulator.engine.update_resource(&id, body.into())?,
    ))
}

pub(crate) async fn delete_resource_by_external_id(
    State(emulator): Emu,
    Segments(path): Segments<(String, String, String)>,
    params: Params,
) -> ApiResult {
    let id = external_resource_id(&emulator, &path)?;
    emulator.engine.delete_resource(&id, cascade(&params)?)?;
    no_content()
}

/// The role assignments made on one resource, optionally only those of `role_slug`.
fn resource_role_assignments(emulator: &Emulator, resource_id: &str, params: &Params) -> ApiResult {
    let page = Page::from_params(params)?;
    let mut assignments = emulator
        .engine
        .list_role_assignments_for_resource(resource_id)?;
    if let Some(role) = params.get("role_slug") {
        assignments.retain(|a| a.role_slug == role);
    }
    page.list(assignments, |a| &a.id, assignment_json)
}

/// `GET /authorization/resources/{id}/role_assignments` (`listRoleAssignmentsForResource`).
pub(crate) async fn list_resource_role_assignments(
    State(emulator): Emu,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult {
    resource_role_assignments(&emulator, &id, &params)
}

/// `GET /authorization/organizations/{org}/resources/{type}/{external_id}/role_assignments`
/// (`listResourceRoleAssignments` in the Node SDK).
pub(crate) async fn list_resource_role_assignments_by_external_id(
    State(emulator): Emu,
    Segments(path): Segments<(String, String, String)>,
    params: Params,
) -> ApiResult {
    let id = external_resource_id(&emulator, &path)?;
    resource_role_assignments(&emulator, &id, &params)
}

fn memberships_for(emulator: &Emulator, resource_id: &str, params: &Params) -> ApiResult {
    let page = Page::from_params(params)?;
    let permission = params.required("permission_slug")?;
    let kind = match params.get("assignment") {
        None | Some("indirect") => AssignmentKind::Indirect,
        Some("direct") => AssignmentKind::Direct,
        Some(other) => {
            return Err(ApiError::invalid(
                "assignment",
                "invalid_assignment",
                format!("assignment must be 'direct' or 'indirect', not {other:?}"),
            ));
        }
    };
    let memberships = emulator
        .engine
        .memberships_for_resource(resource_id, permission, kind)?;
    page.list(memberships, |m| &m.id, |m| membership_out(emulator, m))
}

pub(crate) async fn list_memberships_for_resource(
    State(emulator): Emu,
    Segments(id): Segments<String>,
    params: Params,
) -> ApiResult {
    memberships_for(&emulator, &id, &params)
}

pub(crate) async fn list_memberships_for_resource_by_external_id(
    State(emulator): Emu,
    Segments(path): Segments<(String, String, String)>,
    params: Params,
) -> ApiResult {
    let id = external_resource_id(&emulator, &path)?;
    memberships_for(&emulator, &id, &params)
}

fn effective_permissions(
    emulator: &Emulator,
    membership_id: &str,
    resource: &ResourceRef,
    params: &Params,
) -> ApiResult {
    let page = Page::from_params(params)?;
    let permissions = emulator
        .engine
        .effective_permissions(membership_id, resource)?;
    page.list(permissions, |p| &p.id, permission_json)
}

/// `/authorization/resources/{resource_id}/organization_memberships/{om}/permissions`
pub(crate) async fn effective_permissions_by_resource(
    State(emulator): Emu,
    Segments((resource_id, membership_id)): Segments<(String, String)>,
    params: Params,
) -> ApiResult {
    effective_permissions(
        &emulator,
        &membership_id,
        &ResourceRef::id(resource_id),
        &params,
    )
}

/// `/authorization/organization_memberships/{om}/resources/{resource_id}/permissions`
pub(crate) async fn effective_permissions_by_membership(
    State(emulator): Emu,
    Segments((membership_id, resource_id)): Segments<(String, String)>,
    params: Params,
) -> ApiResult {
    effective_permissions(
        &emulator,
        &membership_id,
        &ResourceRef::id(resource_id),
        &params,
    )
}

/// `/authorization/organization_memberships/{om}/resources/{type}/{external_id}/permissions`
pub(crate) async fn effective_permissions_by_external_id(
    State(emulator): Emu,
    Segments((membership_id, resource_type, external_id)): Segments<(String, String, String)>,
    params: Params,
) -> ApiResult {
    effective_permissions(
        &emulator,
        &membership_id,
        &ResourceRef::external(resource_type, external_id),
        &params,
    )
}

// ----- checks, assignments and membership queries -------------------------------------------

#[derive(Deserialize)]
pub(crate) struct ResourceTarget {
    role_slug: Option<String>,
    permission_slug: Option<String>,
    resource_id: Option<String>,
    resource_external_id: Option<String>,
    resource_type_slug: Option<String>,
}

impl ResourceTarget {
    fn resource(&self) -> Result<ResourceRef, ApiError> {
        resource_ref(
            self.resource_id.as_deref(),
            self.resource_external_id.as_deref(),
            self.resource_type_slug.as_deref(),
            ("resource_id", "resource_external_id", "resource_type_slug"),
        )?
        .ok_or_else(|| {
            ApiError::invalid(
                "resource_id",
                "required",
                "resource_id, or resource_external_id and resource_type_slug, is required",
            )
        })
    }
}

pub(crate) async fn check(
    State(emulator): Emu,
    Segments(membership_id): Segments<String>,
    Body(body): Body<ResourceTarget>,
) -> ApiResult {
    let permission = required(&body.permission_slug, "permission_slug")?;
    let authorized = emulator
        .engine
        .check(&membership_id, permission, &body.resource()?)?;
    ok(json!({ "authorized": authorized }))
}

pub(crate) async fn assign_role(
    State(emulator): Emu,
    Segments(membership_id): Segments<String>,
    Body(body): Body<ResourceTarget>,
) -> ApiResult {
    let role = required(&body.role_slug, "role_slug")?;
    let assignment = emulator
        .engine
        .assign_role(&membership_id, role, &body.resource()?)?;
    created(assignment_json(&assignment))
}

pub(crate) async fn list_role_assignments(
    State(emulator): Emu,
    Segments(membership_id): Segments<String>,
    params: Params,
) -> ApiResult {
    let page = Page::from_params(&params)?;
    let resource = resource_ref(
        params.get("resource_id"),
        params.get("resource_external_id"),
        params.get("resource_type_slug"),
        ("resource_id", "resource_external_id", "resource_type_slug"),
    )?;
    let mut assignments = emulator.engine.list_role_assignments(&membership_id)?;
    match resource {
        None => {}
        Some(ResourceRef::Id(id)) => assignments.retain(|a| a.resource_id == id),
        Some(ResourceRef::External {
            resource_type,
            external_id,
        }) => assignments.retain(|a| {
            a.resource_type_slug == resource_type && a.resource_external_id == external_id
        }),
    }
    page.list(assignments, |a| &a.id, assignment_json)
}

pub(crate) async fn remove_role(
    State(emulator): Emu,
    Segments(membership_id): Segments<String>,
    Body(body): Body<ResourceTarget>,
) -> ApiResult {
    let role = required(&body.role_slug, "role_slug")?;
    emulator
        .engine
        .remove_role(&membership_id, role, &body.resource()?)?;
    no_content()
}

pub(crate) async fn remove_role_assignment(
    State(emulator): Emu,
    Segments((membership_id, assignment_id)): Segments<(String, String)>,
) -> ApiResult {
    emulator
        .engine
        .remove_role_assignment(&membership_id, &assignment_id)?;
    no_content()
}

pub(crate) async fn list_resources_for_membership(
    State(emulator): Emu,
    Segments(membership_id): Segments<String>,
    params: Params,
) -> ApiResult {
    let page = Page::from_params(&params)?;
    let permission = params.required("permission_slug")?;
    // WorkOS requires the parent (the organization itself is type `organization` with the
    // organization's id); the engine's own query also takes none.
    let parent = resource_ref(
        params.get("parent_resource_id"),
        params.get("parent_resource_external_id"),
        params.get("parent_resource_type_slug"),
        (
            "parent_resource_id",
            "parent_resource_external_id",
            "parent_resource_type_slug",
        ),
    )?
    .ok_or_else(|| {
        ApiError::invalid(
            "parent_resource_id",
            "required",
            "give parent_resource_id, or parent_resource_external_id and parent_resource_type_slug",
        )
    })?;
    let mut resources =
        emulator
            .engine
            .resources_for_membership(&membership_id, permission, Some(&parent))?;
    if let Some(resource_type) = params.get("resource_type_slug") {
        resources.retain(|r| r.resource_type_slug == resource_type);
    }
    page.list(resources, |r| &r.id, resource_json)
}

// ----- organizations and memberships ---------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreateOrganization {
    name: Option<String>,
}

pub(crate) async fn create_organization(
    State(emulator): Emu,
    Body(body): Body<CreateOrganization>,
) -> ApiResult {
    let name = required(&body.name, "name")?;
    created(organization_json(
        &emulator.engine.create_organization(name)?,
    ))
}

pub(crate) async fn get_organization(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    ok(organization_json(&emulator.engine.get_organization(&id)?))
}

#[derive(Deserialize)]
pub(crate) struct CreateMembership {
    organization_id: Option<String>,
    user_id: Option<String>,
    role_slug: Option<String>,
    role_slugs: Option<Vec<String>>,
}

impl CreateMembership {
    /// `role_slug` or `role_slugs`; none means the default role.
    fn roles(&self) -> Result<Vec<&str>, ApiError> {
        match (&self.role_slug, &self.role_slugs) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "role_slugs",
                "ambiguous_roles",
                "give role_slug or role_slugs, not both",
            )),
            (Some(slug), None) => Ok(vec![slug.as_str()]),
            (None, Some(slugs)) => Ok(slugs.iter().map(String::as_str).collect()),
            (None, None) => Ok(Vec::new()),
        }
    }
}

pub(crate) async fn create_membership(
    State(emulator): Emu,
    Body(body): Body<CreateMembership>,
) -> ApiResult {
    let organization_id = required(&body.organization_id, "organization_id")?;
    let user_id = required(&body.user_id, "user_id")?;
    let roles = body.roles()?;
    // WorkOS: creating a membership that matches an inactive one activates it, with the
    // role(s) given (the default role when none is); one change either way.
    let membership = emulator
        .engine
        .activate_membership(user_id, organization_id, &roles)?;
    created(membership_out(&emulator, &membership))
}

pub(crate) async fn list_memberships(State(emulator): Emu, params: Params) -> ApiResult {
    let page = Page::from_params(&params)?;
    let mut statuses = Vec::new();
    for status in params.get("statuses").unwrap_or_default().split(',') {
        let status = status.trim();
        if status.is_empty() {
            continue;
        }
        statuses.push(MembershipStatus::parse(status).ok_or_else(|| {
            ApiError::invalid(
                "statuses",
                "invalid_status",
                format!("{status:?} is not one of active, inactive, pending"),
            )
        })?);
    }
    let mut memberships = emulator
        .engine
        .list_memberships(params.get("user_id"), params.get("organization_id"));
    // WorkOS: "By default only active memberships are returned."
    if statuses.is_empty() {
        statuses.push(MembershipStatus::Active);
    }
    memberships.retain(|m| statuses.contains(&m.status));
    page.list(memberships, |m| &m.id, |m| membership_out(&emulator, m))
}

pub(crate) async fn get_membership(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    ok(membership_out(
        &emulator,
        &emulator.engine.get_membership(&id)?,
    ))
}

/// `PUT /user_management/organization_memberships/{id}`: replaces the membership's roles.
pub(crate) async fn update_membership(
    State(emulator): Emu,
    Segments(id): Segments<String>,
    Body(body): Body<CreateMembership>,
) -> ApiResult {
    let roles = body.roles()?;
    ok(membership_out(
        &emulator,
        &emulator.engine.set_membership_roles(&id, &roles)?,
    ))
}

/// `DELETE /user_management/organization_memberships/{id}` (`deleteOrganizationMembership`).
pub(crate) async fn delete_membership(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    emulator.engine.delete_membership(&id)?;
    no_content()
}

pub(crate) async fn deactivate_membership(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    ok(membership_out(
        &emulator,
        &emulator
            .engine
            .set_membership_status(&id, MembershipStatus::Inactive)?,
    ))
}

pub(crate) async fn reactivate_membership(
    State(emulator): Emu,
    Segments(id): Segments<String>,
) -> ApiResult {
    ok(membership_out(
        &emulator,
        &emulator
            .engine
            .set_membership_status(&id, MembershipStatus::Active)?,
    ))
}

// ----- keys and development sessions ---------------------------------------------------------

pub(crate) async fn jwks(State(emulator): Emu) -> ApiResult {
    ok(emulator.signer.jwks())
}

#[derive(Deserialize)]
pub(crate) struct CreateSession {
    organization_membership_id: Option<String>,
}

/// How long a development token of `POST /_emulator/sessions` lives.
const DEVELOPMENT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Mints an access token like AuthKit's for an active membership: its organization-level
/// role(s) and their permissions, issued by this emulator (its base URL), valid for one hour.
/// The same claims as the token endpoint's, without a session behind them.
pub(crate) async fn create_session(
    State(emulator): Emu,
    parts: Parts,
    Body(body): Body<CreateSession>,
) -> ApiResult {
    let membership_id = required(
        &body.organization_membership_id,
        "organization_membership_id",
    )?;
    let membership = emulator.engine.get_membership(membership_id)?;
    if membership.status != MembershipStatus::Active {
        return Err(ApiError::invalid(
            "organization_membership_id",
            "membership_not_active",
            format!(
                "membership {membership_id} is {}: only active memberships get sessions",
                membership.status.as_str()
            ),
        ));
    }
    let reached = Reached::from_parts(&parts, emulator.settings.base_url.as_deref())?;
    let claims = session_claims(
        &emulator.engine,
        &membership.user_id,
        Some(&membership),
        &reached.base,
        DEVELOPMENT_TOKEN_LIFETIME,
    )?;
    ok(json!({ "access_token": sign(&emulator, &claims)? }))
}

// ----- users ---------------------------------------------------------------------------------

/// `POST /user_management/users`. `password` (and any other field) is accepted and ignored:
/// the emulator's sign-in asks for no password.
#[derive(Deserialize)]
pub(crate) struct CreateUser {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email_verified: Option<bool>,
}

pub(crate) async fn create_user(State(emulator): Emu, Body(body): Body<CreateUser>) -> ApiResult {
    let new = NewUser {
        email: required(&body.email, "email")?.to_owned(),
        first_name: body.first_name,
        last_name: body.last_name,
        email_verified: body.email_verified.unwrap_or(false),
    };
    created(user_json(&emulator.engine.create_user(new)?))
}

/// `GET /user_management/users`: WorkOS's list, filtered by `email` (without regard to case)
/// and by `organization_id` (users with a membership there, whatever its status).
pub(crate) async fn list_users(State(emulator): Emu, params: Params) -> ApiResult {
    let page = Page::from_params(&params)?;
    let mut users = emulator.engine.list_users();
    if let Some(email) = params.get("email") {
        users.retain(|user| user.email.eq_ignore_ascii_case(email));
    }
    if let Some(organization) = params.get("organization_id") {
        let members: HashSet<String> = emulator
            .engine
            .list_memberships(None, Some(organization))
            .into_iter()
            .map(|membership| membership.user_id)
            .collect();
        users.retain(|user| members.contains(&user.id));
    }
    page.list(users, |user| &user.id, user_json)
}

pub(crate) async fn get_user(State(emulator): Emu, Segments(id): Segments<String>) -> ApiResult {
    ok(user_json(&emulator.engine.get_user(&id)?))
}
