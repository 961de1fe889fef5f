//! The entities of WorkOS's authorization model, with WorkOS's field names.

use serde::{Deserialize, Serialize};

/// An organization: the tenant that owns memberships, organization roles and resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `org_...`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The id (`authz_resource_...`) of the organization's root resource, the default parent of
    /// its resources. It exists as long as the organization does.
    pub root_resource_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The status of an organization membership. Only `active` memberships are ever authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MembershipStatus {
    /// The user is a member.
    Active,
    /// The membership is suspended.
    Inactive,
    /// The user was invited and has not accepted yet.
    Pending,
}

impl MembershipStatus {
    /// `active`, `inactive` or `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "active",
            MembershipStatus::Inactive => "inactive",
            MembershipStatus::Pending => "pending",
        }
    }

    /// Parses `active`, `inactive` or `pending`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(MembershipStatus::Active),
            "inactive" => Some(MembershipStatus::Inactive),
            "pending" => Some(MembershipStatus::Pending),
            _ => None,
        }
    }
}

/// A user's membership in an organization (`om_...`), with its organization-level role(s).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// `om_...`.
    pub id: String,
    /// The user (`user_...`).
    pub user_id: String,
    /// The organization (`org_...`).
    pub organization_id: String,
    /// Whether the membership may be authorized at all.
    pub status: MembershipStatus,
    /// The organization-level role slugs, highest priority first. Never empty: a membership
    /// without an explicit role has the default role. One slug unless multiple roles are on.
    pub role_slugs: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// Whether a role belongs to the whole environment or to one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoleType {
    /// Defined once for every organization.
    EnvironmentRole,
    /// Defined by and for one organization.
    OrganizationRole,
}

/// A role: a named set of permissions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// `role_...`.
    pub id: String,
    /// Immutable; lowercase letters, digits, `-` and `_`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What the role is for.
    pub description: Option<String>,
    /// Permission slugs, sorted and without duplicates.
    pub permissions: Vec<String>,
    /// The type of resource the role is meant for; `organization` by default.
    pub resource_type_slug: String,
    /// Environment or organization role.
    #[serde(rename = "type")]
    pub role_type: RoleType,
    /// The owning organization of an organization role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl Role {
    /// Whether the role carries `permission` (a binary search: `permissions` is sorted).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions
            .binary_search_by(|held| held.as_str().cmp(permission))
            .is_ok()
    }
}

/// A permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// `perm_...`.
    pub id: String,
    /// Immutable; letters, digits and `- . : _ *`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What the permission allows.
    pub description: Option<String>,
    /// The type of resource the permission is about; `organization` by default.
    pub resource_type_slug: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// An authorization resource: something of the application's that roles are assigned on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// `authz_resource_...`.
    pub id: String,
    /// The application's id, unique per (organization, type).
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// What the resource is.
    pub description: Option<String>,
    /// The resource type, for example `project`; `organization` for an organization's root.
    pub resource_type_slug: String,
    /// The owning organization.
    pub organization_id: String,
    /// The parent resource; `None` only for an organization's root resource.
    pub parent_resource_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A role given to a membership on a resource (and, by inheritance, on its descendants).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// `ra_...`.
    pub id: String,
    /// The membership that holds the role.
    pub organization_membership_id: String,
    /// The role.
    pub role_slug: String,
    /// The resource the role is held on.
    pub resource_id: String,
    /// That resource's external id.
    pub resource_external_id: String,
    /// That resource's type.
    pub resource_type_slug: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A new environment or organization role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRole {
    /// The slug; for an organization role it may be empty, and is then derived from the name
    /// (`org-` + the name in lowercase with `-` for other characters).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What the role is for.
    pub description: Option<String>,
    /// Defaults to `organization`.
    pub resource_type_slug: Option<String>,
    /// Permission slugs; each must exist.
    pub permissions: Vec<String>,
}

impl NewRole {
    /// A role with a slug and a name, no description and no permissions.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        NewRole {
            slug: slug.into(),
            name: name.into(),
            ..NewRole::default()
        }
    }

    /// Sets the permissions.
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        permissions: I,
    ) -> Self {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the resource type.
    pub fn resource_type(mut self, resource_type_slug: impl Into<String>) -> Self {
        self.resource_type_slug = Some(resource_type_slug.into());
        self
    }
}

/// A new permission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewPermission {
    /// The slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    pub description: Option<String>,
    /// Defaults to `organization`.
    pub resource_type_slug: Option<String>,
}

impl NewPermission {
    /// A permission with a slug and a name.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        NewPermission {
            slug: slug.into(),
            name: name.into(),
            ..NewPermission::default()
        }
    }
}

/// Changes to a role or a permission; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// A new display name.
    pub name: Option<String>,
    /// A new description; an empty one removes the description (WorkOS's `description: null`).
    pub description: Option<String>,
}

/// A new resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewResource {
    /// The owning organization.
    pub organization_id: String,
    /// The type, for example `project`. Any slug except `organization` (reserved for roots).
    pub resource_type_slug: String,
    /// The application's id, unique per (organization, type).
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// What the resource is.
    pub description: Option<String>,
    /// The parent, looked up in the same organization; the organization's root when `None`.
    pub parent: Option<crate::check::ResourceRef>,
}

impl NewResource {
    /// A resource of `resource_type_slug` with `external_id`, named `name`, under the root.
    pub fn new(
        organization_id: impl Into<String>,
        resource_type_slug: impl Into<String>,
        external_id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        NewResource {
            organization_id: organization_id.into(),
            resource_type_slug: resource_type_slug.into(),
            external_id: external_id.into(),
            name: name.into(),
            description: None,
            parent: None,
        }
    }

    /// Sets the parent.
    pub fn parent(mut self, parent: crate::check::ResourceRef) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Filters for [`LocalEngine::list_resources`](super::LocalEngine::list_resources).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    /// Only resources of this organization.
    pub organization_id: Option<String>,
    /// Only resources of this type.
    pub resource_type_slug: Option<String>,
    /// Only direct children of this resource.
    pub parent_resource_id: Option<String>,
}

/// Which memberships [`LocalEngine::memberships_for_resource`](super::LocalEngine::memberships_for_resource) lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignmentKind {
    /// Memberships with a role carrying the permission assigned on the resource itself.
    Direct,
    /// Every membership that can act on the resource: direct assignments, assignments on an
    /// ancestor, and organization-level roles.
    Indirect,
}

/// A user (`user_...`) of the environment, as AuthKit keeps them: who can sign in to the
/// emulator's AuthKit. Memberships name users by id; an id without a user is still a valid
/// membership's user (the engine never required users), it just cannot sign in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `user_...`.
    pub id: String,
    /// The email address, unique in the environment (compared without regard to ASCII case).
    pub email: String,
    /// The first name, when known.
    pub first_name: Option<String>,
    /// The last name, when known.
    pub last_name: Option<String>,
    /// Whether the email address was verified.
    pub email_verified: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl User {
    /// `First Last`, whichever of the two is known, or the email address when neither is.
    pub fn display_name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.email.clone()
        } else {
            name
        }
    }
}

/// A new user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewUser {
    /// The email address: `local@domain`, at most 320 characters, no spaces or control
    /// characters; unique in the environment.
    pub email: String,
    /// The first name (at most 255 characters).
    pub first_name: Option<String>,
    /// The last name (at most 255 characters).
    pub last_name: Option<String>,
    /// Whether the email address was verified; `false` by default, as at WorkOS.
    pub email_verified: bool,
}

impl NewUser {
    /// A user with this email address and nothing else.
    pub fn new(email: impl Into<String>) -> Self {
        NewUser {
            email: email.into(),
            ..NewUser::default()
        }
    }

    /// Sets the first name.
    pub fn first_name(mut self, first_name: impl Into<String>) -> Self {
        self.first_name = Some(first_name.into());
        self
    }

    /// Sets the last name.
    pub fn last_name(mut self, last_name: impl Into<String>) -> Self {
        self.last_name = Some(last_name.into());
        self
    }

    /// Sets whether the email address is verified.
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = verified;
        self
    }
}
