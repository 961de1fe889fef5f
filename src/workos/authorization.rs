//! The Authorization API: roles, permissions, resources, role assignments and checks.

use serde::{Deserialize, Serialize};

use super::WorkOsClient;
use super::error::WorkOsError;
use super::organizations::{OrganizationMembership, RoleRef};
use super::pagination::{Page, PageStream, Pagination};
use super::transport::{ApiRequest, segment};
use crate::check::ResourceRef;

/// Whether a [`Role`] belongs to the environment or to one organization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[non_exhaustive]
pub enum RoleType {
    /// Defined for the whole environment, assignable in every organization.
    EnvironmentRole,
    /// Defined for one organization.
    OrganizationRole,
    /// A type this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// A role: a named set of permissions for one resource type.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// WorkOS's id (`role_...`).
    pub id: String,
    /// The immutable slug, unique in the environment or organization.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// What the role is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The permission slugs the role grants.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The resource type the role is assigned on (`organization` for organization-wide roles).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
    /// Environment or organization role.
    #[serde(rename = "type", default)]
    pub role_type: RoleType,
    /// ISO-8601 creation time.
    #[serde(default)]
    pub created_at: String,
    /// ISO-8601 time of the last change.
    #[serde(default)]
    pub updated_at: String,
}

/// The fields of a new role. Permissions are set afterwards with the `set_*_permissions`
/// methods, as WorkOS's SDKs do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateRole {
    /// The slug: required for environment roles; WorkOS derives one for organization roles
    /// when it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// The display name.
    pub name: String,
    /// What the role is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The resource type the role is assigned on (WorkOS's default: `organization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type_slug: Option<String>,
}

impl CreateRole {
    /// A role with this slug and name.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        CreateRole {
            slug: Some(slug.into()),
            name: name.into(),
            ..CreateRole::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the resource type the role is assigned on.
    pub fn resource_type_slug(mut self, resource_type_slug: impl Into<String>) -> Self {
        self.resource_type_slug = Some(resource_type_slug.into());
        self
    }
}

/// Changes to a role; unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateRole {
    /// The new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A permission: an action slug such as `projects:read`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Permission {
    /// WorkOS's id (`perm_...`).
    pub id: String,
    /// The immutable slug.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// What the permission allows.
    #[serde(default)]
    pub description: Option<String>,
    /// The resource type the permission applies to.
    #[serde(default)]
    pub resource_type_slug: Option<String>,
    /// Whether WorkOS manages it (system permissions cannot be changed).
    #[serde(default)]
    pub system: bool,
    /// ISO-8601 creation time.
    #[serde(default)]
    pub created_at: String,
    /// ISO-8601 time of the last change.
    #[serde(default)]
    pub updated_at: String,
}

/// The fields of a new permission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreatePermission {
    /// The slug: letters, digits and `-.:_*`.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// What the permission allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The resource type the permission applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type_slug: Option<String>,
}

impl CreatePermission {
    /// A permission with this slug and name.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        CreatePermission {
            slug: slug.into(),
            name: name.into(),
            ..CreatePermission::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the resource type.
    pub fn resource_type_slug(mut self, resource_type_slug: impl Into<String>) -> Self {
        self.resource_type_slug = Some(resource_type_slug.into());
        self
    }
}

/// Changes to a permission; unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdatePermission {
    /// The new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Which permissions to list.
pub type ListPermissions = Pagination;

/// A resource of the application, registered with WorkOS so roles can be assigned on it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// WorkOS's id (`authz_resource_...`).
    pub id: String,
    /// The application's id, unique per organization and type.
    #[serde(default)]
    pub external_id: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The resource type, for example `project`.
    #[serde(default)]
    pub resource_type_slug: String,
    /// The organization that owns it.
    #[serde(default)]
    pub organization_id: String,
    /// The parent resource; `None` under the organization itself.
    #[serde(default)]
    pub parent_resource_id: Option<String>,
    /// ISO-8601 creation time, when given.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO-8601 time of the last change, when given.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// The fields of a new resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateResource {
    /// The organization that owns it.
    pub organization_id: String,
    /// The resource type, for example `project`.
    pub resource_type_slug: String,
    /// The application's id, unique per organization and type.
    pub external_id: String,
    /// The display name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// The parent; the organization itself when `None`.
    pub parent: Option<ResourceRef>,
}

impl CreateResource {
    /// A resource of `organization_id` directly under the organization.
    pub fn new(
        organization_id: impl Into<String>,
        resource_type_slug: impl Into<String>,
        external_id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        CreateResource {
            organization_id: organization_id.into(),
            resource_type_slug: resource_type_slug.into(),
            external_id: external_id.into(),
            name: name.into(),
            description: None,
            parent: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Places the resource under `parent`.
    pub fn parent(mut self, parent: ResourceRef) -> Self {
        self.parent = Some(parent);
        self
    }
}

/// Changes to a resource; unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateResource {
    /// The new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Which resources to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResources {
    /// Only resources of this organization.
    pub organization_id: Option<String>,
    /// Only resources of this type.
    pub resource_type_slug: Option<String>,
    /// Only direct children of this resource.
    pub parent: Option<ResourceRef>,
    /// Which page.
    pub pagination: Pagination,
}

/// The resource a role is assigned on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AssignedResource {
    /// WorkOS's id.
    pub id: String,
    /// The application's id.
    #[serde(default)]
    pub external_id: String,
    /// The resource type.
    #[serde(default)]
    pub resource_type_slug: String,
}

/// Where a role assignment comes from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AssignmentSource {
    /// `direct`, or the kind of group the role was inherited from.
    #[serde(rename = "type", default)]
    pub source_type: String,
    /// The group role assignment it comes from, when it does.
    #[serde(default)]
    pub group_role_assignment_id: Option<String>,
}

/// A role given to an organization membership on a resource.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RoleAssignment {
    /// WorkOS's id (`ra_...`).
    pub id: String,
    /// The membership that holds the role.
    #[serde(default)]
    pub organization_membership_id: Option<String>,
    /// The role.
    pub role: RoleRef,
    /// The resource the role is held on.
    pub resource: AssignedResource,
    /// Where the assignment comes from.
    #[serde(default)]
    pub source: Option<AssignmentSource>,
    /// ISO-8601 creation time, when given.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO-8601 time of the last change, when given.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A role to assign; see [`WorkOsClient::assign_role`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignRole {
    /// The role slug.
    pub role_slug: String,
    /// The resource the role is given on.
    pub resource: ResourceRef,
}

/// A role assignment to remove by role and resource; see [`WorkOsClient::remove_role`].
pub type RemoveRole = AssignRole;

/// Which resources of a membership to list: those under `parent` on which it holds
/// `permission_slug`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResourcesForMembership {
    /// The permission the membership must hold.
    pub permission_slug: String,
    /// The resource whose descendants are listed (the organization itself is
    /// `ResourceRef::external("organization", org_id)`).
    pub parent: ResourceRef,
    /// Which page.
    pub pagination: Pagination,
}

/// How a membership's access to a resource may come about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipAssignment {
    /// Only through a role assigned on the resource itself.
    Direct,
    /// Through any path: a role on the resource, on an ancestor, or an organization role
    /// (WorkOS's default).
    Indirect,
}

impl MembershipAssignment {
    fn as_str(self) -> &'static str {
        match self {
            MembershipAssignment::Direct => "direct",
            MembershipAssignment::Indirect => "indirect",
        }
    }
}

/// Which memberships of a resource to list: those holding `permission_slug` on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListMembershipsForResource {
    /// The permission the memberships must hold.
    pub permission_slug: String,
    /// Only direct access, or access through any path; WorkOS's default (`indirect`) when
    /// `None`.
    pub assignment: Option<MembershipAssignment>,
    /// Which page.
    pub pagination: Pagination,
}

impl ListMembershipsForResource {
    /// Memberships holding `permission_slug`, first page.
    pub fn new(permission_slug: impl Into<String>) -> Self {
        ListMembershipsForResource {
            permission_slug: permission_slug.into(),
            assignment: None,
            pagination: Pagination::default(),
        }
    }
}

/// Wire bodies and query parameters naming a resource by id or by type and external id.
#[derive(Serialize)]
struct ResourceFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_external_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type_slug: Option<&'a str>,
}

impl<'a> ResourceFields<'a> {
    fn of(resource: &'a ResourceRef) -> Self {
        match resource {
            ResourceRef::Id(id) => ResourceFields {
                resource_id: Some(id),
                resource_external_id: None,
                resource_type_slug: None,
            },
            ResourceRef::External {
                resource_type,
                external_id,
            } => ResourceFields {
                resource_id: None,
                resource_external_id: Some(external_id),
                resource_type_slug: Some(resource_type),
            },
        }
    }
}

#[derive(Serialize)]
struct CreateResourceBody<'a> {
    organization_id: &'a str,
    resource_type_slug: &'a str,
    external_id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_resource_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_resource_external_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_resource_type_slug: Option<&'a str>,
}

#[derive(Serialize)]
struct RoleAssignmentBody<'a> {
    role_slug: &'a str,
    #[serde(flatten)]
    resource: ResourceFields<'a>,
}

#[derive(Serialize)]
struct CheckBody<'a> {
    permission_slug: &'a str,
    #[serde(flatten)]
    resource: ResourceFields<'a>,
}

#[derive(Deserialize)]
struct CheckAnswer {
    authorized: bool,
}

#[derive(Serialize)]
struct SetPermissionsBody {
    permissions: Vec<String>,
}

#[derive(Serialize)]
struct AddPermissionBody<'a> {
    slug: &'a str,
}

#[derive(Deserialize)]
struct RoleList {
    data: Vec<Role>,
}

fn environment_role_path(slug: &str) -> String {
    format!("/authorization/roles/{}", segment(slug))
}

fn organization_roles_path(organization_id: &str) -> String {
    format!(
        "/authorization/organizations/{}/roles",
        segment(organization_id)
    )
}

fn organization_role_path(organization_id: &str, slug: &str) -> String {
    format!(
        "{}/{}",
        organization_roles_path(organization_id),
        segment(slug)
    )
}

fn permission_path(slug: &str) -> String {
    format!("/authorization/permissions/{}", segment(slug))
}

fn resource_path(resource_id: &str) -> String {
    format!("/authorization/resources/{}", segment(resource_id))
}

fn external_resource_path(
    organization_id: &str,
    resource_type_slug: &str,
    external_id: &str,
) -> String {
    format!(
        "/authorization/organizations/{}/resources/{}/{}",
        segment(organization_id),
        segment(resource_type_slug),
        segment(external_id)
    )
}

fn membership_path(organization_membership_id: &str) -> String {
    format!(
        "/authorization/organization_memberships/{}",
        segment(organization_membership_id)
    )
}

fn permission_list(permissions: impl IntoIterator<Item = impl AsRef<str>>) -> SetPermissionsBody {
    SetPermissionsBody {
        permissions: permissions
            .into_iter()
            .map(|permission| permission.as_ref().to_owned())
            .collect(),
    }
}

fn with_parent_query(
    request: ApiRequest,
    parent: &ResourceRef,
    external_id_name: &'static str,
) -> ApiRequest {
    match parent {
        ResourceRef::Id(id) => request.query("parent_resource_id", id.clone()),
        ResourceRef::External {
            resource_type,
            external_id,
        } => request
            .query("parent_resource_type_slug", resource_type.clone())
            .query(external_id_name, external_id.clone()),
    }
}

fn list_resources_request(options: &ListResources, pagination: &Pagination) -> ApiRequest {
    let mut request = ApiRequest::get("/authorization/resources".to_owned())
        .query_opt("organization_id", options.organization_id.clone())
        .query_opt("resource_type_slug", options.resource_type_slug.clone());
    if let Some(parent) = &options.parent {
        // WorkOS names this filter `parent_external_id`, unlike everywhere else.
        request = with_parent_query(request, parent, "parent_external_id");
    }
    pagination.apply(request)
}

fn resources_for_membership_request(
    organization_membership_id: &str,
    options: &ListResourcesForMembership,
    pagination: &Pagination,
) -> ApiRequest {
    let request = ApiRequest::get(format!(
        "{}/resources",
        membership_path(organization_membership_id)
    ))
    .query("permission_slug", options.permission_slug.clone());
    let request = with_parent_query(request, &options.parent, "parent_resource_external_id");
    pagination.apply(request)
}

fn memberships_for_resource_request(
    path: String,
    options: &ListMembershipsForResource,
    pagination: &Pagination,
) -> ApiRequest {
    let request = ApiRequest::get(path)
        .query("permission_slug", options.permission_slug.clone())
        .query_opt(
            "assignment",
            options.assignment.map(MembershipAssignment::as_str),
        );
    pagination.apply(request)
}

fn effective_permissions_path(organization_membership_id: &str, resource: &ResourceRef) -> String {
    match resource {
        ResourceRef::Id(id) => format!(
            "{}/organization_memberships/{}/permissions",
            resource_path(id),
            segment(organization_membership_id)
        ),
        ResourceRef::External {
            resource_type,
            external_id,
        } => format!(
            "{}/resources/{}/{}/permissions",
            membership_path(organization_membership_id),
            segment(resource_type),
            segment(external_id)
        ),
    }
}

/// The Authorization API.
impl WorkOsClient {
    // ----- environment roles -----

    /// Creates an environment role (`POST /authorization/roles`).
    pub async fn create_environment_role(&self, role: &CreateRole) -> Result<Role, WorkOsError> {
        let request = ApiRequest::post("/authorization/roles".to_owned()).json(role)?;
        self.send_json(request).await
    }

    /// Lists the environment roles in priority order (`GET /authorization/roles`; unpaginated).
    pub async fn list_environment_roles(&self) -> Result<Vec<Role>, WorkOsError> {
        let list: RoleList = self
            .send_json(ApiRequest::get("/authorization/roles".to_owned()))
            .await?;
        Ok(list.data)
    }

    /// Gets an environment role by slug.
    pub async fn get_environment_role(&self, slug: &str) -> Result<Role, WorkOsError> {
        self.send_json(ApiRequest::get(environment_role_path(slug)))
            .await
    }

    /// Changes an environment role's name or description.
    pub async fn update_environment_role(
        &self,
        slug: &str,
        changes: &UpdateRole,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::patch(environment_role_path(slug)).json(changes)?;
        self.send_json(request).await
    }

    /// Replaces the permissions of an environment role.
    pub async fn set_environment_role_permissions(
        &self,
        slug: &str,
        permissions: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::put(format!("{}/permissions", environment_role_path(slug)))
            .json(&permission_list(permissions))?;
        self.send_json(request).await
    }

    /// Adds one permission to an environment role.
    pub async fn add_environment_role_permission(
        &self,
        slug: &str,
        permission_slug: &str,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::post(format!("{}/permissions", environment_role_path(slug)))
            .json(&AddPermissionBody {
                slug: permission_slug,
            })?;
        self.send_json(request).await
    }

    // ----- organization roles -----

    /// Creates a role in one organization.
    pub async fn create_organization_role(
        &self,
        organization_id: &str,
        role: &CreateRole,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::post(organization_roles_path(organization_id)).json(role)?;
        self.send_json(request).await
    }

    /// Lists the roles of an organization: its own and the environment's (unpaginated).
    pub async fn list_organization_roles(
        &self,
        organization_id: &str,
    ) -> Result<Vec<Role>, WorkOsError> {
        let list: RoleList = self
            .send_json(ApiRequest::get(organization_roles_path(organization_id)))
            .await?;
        Ok(list.data)
    }

    /// Gets an organization role by slug.
    pub async fn get_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<Role, WorkOsError> {
        self.send_json(ApiRequest::get(organization_role_path(
            organization_id,
            slug,
        )))
        .await
    }

    /// Changes an organization role's name or description.
    pub async fn update_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
        changes: &UpdateRole,
    ) -> Result<Role, WorkOsError> {
        let request =
            ApiRequest::patch(organization_role_path(organization_id, slug)).json(changes)?;
        self.send_json(request).await
    }

    /// Deletes an organization role.
    pub async fn delete_organization_role(
        &self,
        organization_id: &str,
        slug: &str,
    ) -> Result<(), WorkOsError> {
        self.send_no_content(ApiRequest::delete(organization_role_path(
            organization_id,
            slug,
        )))
        .await
    }

    /// Replaces the permissions of an organization role.
    pub async fn set_organization_role_permissions(
        &self,
        organization_id: &str,
        slug: &str,
        permissions: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::put(format!(
            "{}/permissions",
            organization_role_path(organization_id, slug)
        ))
        .json(&permission_list(permissions))?;
        self.send_json(request).await
    }

    /// Adds one permission to an organization role.
    pub async fn add_organization_role_permission(
        &self,
        organization_id: &str,
        slug: &str,
        permission_slug: &str,
    ) -> Result<Role, WorkOsError> {
        let request = ApiRequest::post(format!(
            "{}/permissions",
            organization_role_path(organization_id, slug)
        ))
        .json(&AddPermissionBody {
            slug: permission_slug,
        })?;
        self.send_json(request).await
    }

    /// Removes one permission from an organization role.
    pub async fn remove_organization_role_permission(
        &self,
        organization_id: &str,
        slug: &str,
        permission_slug: &str,
    ) -> Result<(), WorkOsError> {
        self.send_no_content(ApiRequest::delete(format!(
            "{}/permissions/{}",
            organization_role_path(organization_id, slug),
            segment(permission_slug)
        )))
        .await
    }

    // ----- permissions -----

    /// Creates a permission.
    pub async fn create_permission(
        &self,
        permission: &CreatePermission,
    ) -> Result<Permission, WorkOsError> {
        let request = ApiRequest::post("/authorization/permissions".to_owned()).json(permission)?;
        self.send_json(request).await
    }

    /// Lists one page of permissions.
    pub async fn list_permissions(
        &self,
        pagination: &ListPermissions,
    ) -> Result<Page<Permission>, WorkOsError> {
        self.send_json(pagination.apply(ApiRequest::get("/authorization/permissions".to_owned())))
            .await
    }

    /// Every permission, page after page.
    pub fn stream_permissions(&self, pagination: &ListPermissions) -> PageStream<Permission> {
        let pagination = pagination.clone();
        PageStream::new(self, pagination.after.clone(), move |after| {
            Ok(pagination
                .for_stream(after)
                .apply(ApiRequest::get("/authorization/permissions".to_owned())))
        })
    }

    /// Gets a permission by slug.
    pub async fn get_permission(&self, slug: &str) -> Result<Permission, WorkOsError> {
        self.send_json(ApiRequest::get(permission_path(slug))).await
    }

    /// Changes a permission's name or description.
    pub async fn update_permission(
        &self,
        slug: &str,
        changes: &UpdatePermission,
    ) -> Result<Permission, WorkOsError> {
        let request = ApiRequest::patch(permission_path(slug)).json(changes)?;
        self.send_json(request).await
    }

    /// Deletes a permission.
    pub async fn delete_permission(&self, slug: &str) -> Result<(), WorkOsError> {
        self.send_no_content(ApiRequest::delete(permission_path(slug)))
            .await
    }

    // ----- resources -----

    /// Registers a resource.
    pub async fn create_resource(
        &self,
        resource: &CreateResource,
    ) -> Result<Resource, WorkOsError> {
        let (parent_resource_id, parent_resource_external_id, parent_resource_type_slug) =
            match &resource.parent {
                None => (None, None, None),
                Some(ResourceRef::Id(id)) => (Some(id.as_str()), None, None),
                Some(ResourceRef::External {
                    resource_type,
                    external_id,
                }) => (
                    None,
                    Some(external_id.as_str()),
                    Some(resource_type.as_str()),
                ),
            };
        let body = CreateResourceBody {
            organization_id: &resource.organization_id,
            resource_type_slug: &resource.resource_type_slug,
            external_id: &resource.external_id,
            name: &resource.name,
            description: resource.description.as_deref(),
            parent_resource_id,
            parent_resource_external_id,
            parent_resource_type_slug,
        };
        let request = ApiRequest::post("/authorization/resources".to_owned()).json(&body)?;
        self.send_json(request).await
    }

    /// Gets a resource by WorkOS id.
    pub async fn get_resource(&self, resource_id: &str) -> Result<Resource, WorkOsError> {
        self.send_json(ApiRequest::get(resource_path(resource_id)))
            .await
    }

    /// Gets a resource by organization, type and external id.
    pub async fn get_resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
    ) -> Result<Resource, WorkOsError> {
        self.send_json(ApiRequest::get(external_resource_path(
            organization_id,
            resource_type_slug,
            external_id,
        )))
        .await
    }

    /// Lists one page of resources.
    pub async fn list_resources(
        &self,
        options: &ListResources,
    ) -> Result<Page<Resource>, WorkOsError> {
        self.send_json(list_resources_request(options, &options.pagination))
            .await
    }

    /// Every resource matching `options`, page after page.
    pub fn stream_resources(&self, options: &ListResources) -> PageStream<Resource> {
        let options = options.clone();
        PageStream::new(self, options.pagination.after.clone(), move |after| {
            Ok(list_resources_request(
                &options,
                &options.pagination.for_stream(after),
            ))
        })
    }

    /// Changes a resource's name or description.
    pub async fn update_resource(
        &self,
        resource_id: &str,
        changes: &UpdateResource,
    ) -> Result<Resource, WorkOsError> {
        let request = ApiRequest::patch(resource_path(resource_id)).json(changes)?;
        self.send_json(request).await
    }

    /// Changes a resource named by organization, type and external id.
    pub async fn update_resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
        changes: &UpdateResource,
    ) -> Result<Resource, WorkOsError> {
        let request = ApiRequest::patch(external_resource_path(
            organization_id,
            resource_type_slug,
            external_id,
        ))
        .json(changes)?;
        self.send_json(request).await
    }

    /// Deletes a resource. `cascade_delete` (sent only when given) also deletes its
    /// descendants; without it WorkOS refuses to delete a resource that has children.
    pub async fn delete_resource(
        &self,
        resource_id: &str,
        cascade_delete: Option<bool>,
    ) -> Result<(), WorkOsError> {
        let request = ApiRequest::delete(resource_path(resource_id)).query_opt(
            "cascade_delete",
            cascade_delete.map(|cascade| cascade.to_string()),
        );
        self.send_no_content(request).await
    }

    /// Deletes a resource named by organization, type and external id.
    pub async fn delete_resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
        cascade_delete: Option<bool>,
    ) -> Result<(), WorkOsError> {
        let request = ApiRequest::delete(external_resource_path(
            organization_id,
            resource_type_slug,
            external_id,
        ))
        .query_opt(
            "cascade_delete",
            cascade_delete.map(|cascade| cascade.to_string()),
        );
        self.send_no_content(request).await
    }

    // ----- checks -----

    /// Whether the membership holds `permission_slug` on `resource`: through a role assigned
    /// on it or on an ancestor, or through an organization role.
    pub async fn check(
        &self,
        organization_membership_id: &str,
        permission_slug: &str,
        resource: &ResourceRef,
    ) -> Result<bool, WorkOsError> {
        let request = ApiRequest::post(format!(
            "{}/check",
            membership_path(organization_membership_id)
        ))
        .json(&CheckBody {
            permission_slug,
            resource: ResourceFields::of(resource),
        })?;
        let answer: CheckAnswer = self.send_json(request).await?;
        Ok(answer.authorized)
    }

    // ----- role assignments -----

    /// Gives the membership a role on a resource.
    pub async fn assign_role(
        &self,
        organization_membership_id: &str,
        assignment: &AssignRole,
    ) -> Result<RoleAssignment, WorkOsError> {
        let request = ApiRequest::post(format!(
            "{}/role_assignments",
            membership_path(organization_membership_id)
        ))
        .json(&RoleAssignmentBody {
            role_slug: &assignment.role_slug,
            resource: ResourceFields::of(&assignment.resource),
        })?;
        self.send_json(request).await
    }

    /// Lists one page of the membership's role assignments.
    pub async fn list_role_assignments(
        &self,
        organization_membership_id: &str,
        pagination: &Pagination,
    ) -> Result<Page<RoleAssignment>, WorkOsError> {
        self.send_json(pagination.apply(ApiRequest::get(format!(
            "{}/role_assignments",
            membership_path(organization_membership_id)
        ))))
        .await
    }

    /// Every role assignment of the membership, page after page.
    pub fn stream_role_assignments(
        &self,
        organization_membership_id: &str,
        pagination: &Pagination,
    ) -> PageStream<RoleAssignment> {
        let pagination = pagination.clone();
        let path = format!(
            "{}/role_assignments",
            membership_path(organization_membership_id)
        );
        PageStream::new(self, pagination.after.clone(), move |after| {
            Ok(pagination
                .for_stream(after)
                .apply(ApiRequest::get(path.clone())))
        })
    }

    /// Takes a role on a resource away from the membership (`DELETE` with a JSON body).
    pub async fn remove_role(
        &self,
        organization_membership_id: &str,
        assignment: &RemoveRole,
    ) -> Result<(), WorkOsError> {
        let request = ApiRequest::delete(format!(
            "{}/role_assignments",
            membership_path(organization_membership_id)
        ))
        .json(&RoleAssignmentBody {
            role_slug: &assignment.role_slug,
            resource: ResourceFields::of(&assignment.resource),
        })?;
        self.send_no_content(request).await
    }

    /// Removes one role assignment by id.
    pub async fn remove_role_assignment(
        &self,
        organization_membership_id: &str,
        role_assignment_id: &str,
    ) -> Result<(), WorkOsError> {
        self.send_no_content(ApiRequest::delete(format!(
            "{}/role_assignments/{}",
            membership_path(organization_membership_id),
            segment(role_assignment_id)
        )))
        .await
    }

    /// Lists one page of the role assignments made on a resource.
    pub async fn list_role_assignments_for_resource(
        &self,
        resource_id: &str,
        pagination: &Pagination,
    ) -> Result<Page<RoleAssignment>, WorkOsError> {
        self.send_json(pagination.apply(ApiRequest::get(format!(
            "{}/role_assignments",
            resource_path(resource_id)
        ))))
        .await
    }

    // ----- resource queries -----

    /// Lists one page of the resources under a parent on which the membership holds a
    /// permission.
    pub async fn list_resources_for_membership(
        &self,
        organization_membership_id: &str,
        options: &ListResourcesForMembership,
    ) -> Result<Page<Resource>, WorkOsError> {
        self.send_json(resources_for_membership_request(
            organization_membership_id,
            options,
            &options.pagination,
        ))
        .await
    }

    /// Every resource under a parent on which the membership holds a permission.
    pub fn stream_resources_for_membership(
        &self,
        organization_membership_id: &str,
        options: &ListResourcesForMembership,
    ) -> PageStream<Resource> {
        let options = options.clone();
        let membership = organization_membership_id.to_owned();
        PageStream::new(self, options.pagination.after.clone(), move |after| {
            Ok(resources_for_membership_request(
                &membership,
                &options,
                &options.pagination.for_stream(after),
            ))
        })
    }

    /// Lists one page of the memberships holding a permission on a resource.
    pub async fn list_memberships_for_resource(
        &self,
        resource_id: &str,
        options: &ListMembershipsForResource,
    ) -> Result<Page<OrganizationMembership>, WorkOsError> {
        let path = format!("{}/organization_memberships", resource_path(resource_id));
        self.send_json(memberships_for_resource_request(
            path,
            options,
            &options.pagination,
        ))
        .await
    }

    /// Every membership holding a permission on a resource.
    pub fn stream_memberships_for_resource(
        &self,
        resource_id: &str,
        options: &ListMembershipsForResource,
    ) -> PageStream<OrganizationMembership> {
        let options = options.clone();
        let path = format!("{}/organization_memberships", resource_path(resource_id));
        PageStream::new(self, options.pagination.after.clone(), move |after| {
            Ok(memberships_for_resource_request(
                path.clone(),
                &options,
                &options.pagination.for_stream(after),
            ))
        })
    }

    /// Lists one page of the memberships holding a permission on a resource named by
    /// organization, type and external id.
    pub async fn list_memberships_for_resource_by_external_id(
        &self,
        organization_id: &str,
        resource_type_slug: &str,
        external_id: &str,
        options: &ListMembershipsForResource,
    ) -> Result<Page<OrganizationMembership>, WorkOsError> {
        let path = format!(
            "{}/organization_memberships",
            external_resource_path(organization_id, resource_type_slug, external_id)
        );
        self.send_json(memberships_for_resource_request(
            path,
            options,
            &options.pagination,
        ))
        .await
    }

    /// Lists one page of the permissions the membership holds on a resource, from every
    /// source (direct roles, ancestors' roles, organization roles).
    pub async fn list_effective_permissions(
        &self,
        organization_membership_id: &str,
        resource: &ResourceRef,
        pagination: &Pagination,
    ) -> Result<Page<Permission>, WorkOsError> {
        let path = effective_permissions_path(organization_membership_id, resource);
        self.send_json(pagination.apply(ApiRequest::get(path)))
            .await
    }

    /// Every permission the membership holds on a resource, page after page (`limit=100`,
    /// each page after the previous one's `list_metadata.after`).
    pub fn stream_effective_permissions(
        &self,
        organization_membership_id: &str,
        resource: &ResourceRef,
        pagination: &Pagination,
    ) -> PageStream<Permission> {
        let pagination = pagination.clone();
        let path = effective_permissions_path(organization_membership_id, resource);
        PageStream::new(self, pagination.after.clone(), move |after| {
            Ok(pagination
                .for_stream(after)
                .apply(ApiRequest::get(path.clone())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_fields_name_the_resource_one_way_only() {
        let by_id = serde_json::to_value(CheckBody {
            permission_slug: "docs:read",
            resource: ResourceFields::of(&ResourceRef::id("authz_resource_1")),
        })
        .unwrap_or_default();
        assert_eq!(
            by_id,
            serde_json::json!({"permission_slug": "docs:read", "resource_id": "authz_resource_1"})
        );
        let by_external = serde_json::to_value(RoleAssignmentBody {
            role_slug: "editor",
            resource: ResourceFields::of(&ResourceRef::external("project", "p/1")),
        })
        .unwrap_or_default();
        assert_eq!(
            by_external,
            serde_json::json!({"role_slug": "editor", "resource_external_id": "p/1",
                "resource_type_slug": "project"})
        );
    }

    #[test]
    fn paths_escape_ids_but_keep_permission_colons() {
        assert_eq!(
            permission_path("docs:read"),
            "/authorization/permissions/docs:read"
        );
        assert_eq!(
            external_resource_path("org_1", "project", "a b/c"),
            "/authorization/organizations/org_1/resources/project/a%20b%2Fc"
        );
        assert_eq!(
            effective_permissions_path("om_1", &ResourceRef::id("r_1")),
            "/authorization/resources/r_1/organization_memberships/om_1/permissions"
        );
    }
}
