//! The policy file: the whole state of an engine as one serde document (JSON or TOML), with
//! WorkOS's field names. Loading replays it through the same rules as the API, so a file is
//! held to every rule a sequence of API calls is; the first broken rule names its entry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::ids::Meta;
use super::model::{
    Membership, MembershipStatus, NewPermission, NewResource, NewRole, NewUser, Permission,
    Resource, ResourceFilter, Role, RoleAssignment, User,
};
use super::state::{SEEDED_DEFAULT_ROLE, State};
use crate::check::ResourceRef;

/// A whole engine: settings, permissions, roles, organizations, users, memberships, resources
/// and role assignments. See `docs/local-engine.md` for the format with a full example.
///
/// Ids and timestamps are optional when loading (they are generated) and always present in a
/// dump, so that a dumped policy loads back to the same state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Environment settings.
    #[serde(default)]
    pub settings: PolicySettings,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<PolicyPermission>,
    /// Environment roles, highest priority first.
    #[serde(default)]
    pub roles: Vec<PolicyRole>,
    /// Organizations, each with its own roles.
    #[serde(default)]
    pub organizations: Vec<PolicyOrganization>,
    /// AuthKit's users (who can sign in to the emulator); absent from files that have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<PolicyUser>,
    /// Organization memberships.
    #[serde(default)]
    pub organization_memberships: Vec<PolicyMembership>,
    /// Resources other than organizations' roots; a parent before its children.
    #[serde(default)]
    pub resources: Vec<PolicyResource>,
    /// Role assignments on resources.
    #[serde(default)]
    pub role_assignments: Vec<PolicyRoleAssignment>,
}

/// Environment settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Whether a membership may hold several organization-level roles. Off by default.
    #[serde(default)]
    pub multiple_roles: bool,
    /// The role of memberships created without one; `member` by default.
    #[serde(default = "seeded_default_role")]
    pub default_role: String,
}

fn seeded_default_role() -> String {
    SEEDED_DEFAULT_ROLE.to_owned()
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            multiple_roles: false,
            default_role: seeded_default_role(),
        }
    }
}

/// A permission entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyPermission {
    /// `perm_...`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The slug, for example `projects:read`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `organization` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_slug: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// An environment or organization role entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRole {
    /// `role_...`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The slug, for example `admin`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `organization` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_slug: Option<String>,
    /// Permission slugs; each must be listed under `permissions`.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// An organization entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOrganization {
    /// `org_...`; generated when absent (then nothing else in the file can name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// The id of the organization's root resource; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_resource_id: Option<String>,
    /// The organization's own roles, in creation order.
    #[serde(default)]
    pub roles: Vec<PolicyRole>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A user entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUser {
    /// `user_...`; generated when absent (then no membership in the file can name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The email address, unique in the environment.
    pub email: String,
    /// The first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Whether the email address was verified; `false` when absent.
    #[serde(default)]
    pub email_verified: bool,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// An organization membership entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMembership {
    /// `om_...`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user (`user_...`).
    pub user_id: String,
    /// The organization.
    pub organization_id: String,
    /// `active` when absent.
    #[serde(default = "active")]
    pub status: MembershipStatus,
    /// Organization-level roles; the default role when empty.
    #[serde(default)]
    pub role_slugs: Vec<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn active() -> MembershipStatus {
    MembershipStatus::Active
}

/// A resource entry. The parent is named by id or by external id and type (in the same
/// organization); the organization's root when neither is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyResource {
    /// `authz_resource_...`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The owning organization.
    pub organization_id: String,
    /// The type, for example `project`.
    pub resource_type_slug: String,
    /// The application's id.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// What the resource is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The parent's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_resource_id: Option<String>,
    /// The parent's external id (with `parent_resource_type_slug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_resource_external_id: Option<String>,
    /// The parent's type (with `parent_resource_external_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_resource_type_slug: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A role assignment entry: the resource by id, or by external id and type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRoleAssignment {
    /// `ra_...`; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The membership.
    pub organization_membership_id: String,
    /// The role.
    pub role_slug: String,
    /// The resource's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The resource's external id (with `resource_type_slug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_external_id: Option<String>,
    /// The resource's type (with `resource_external_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_slug: Option<String>,
    /// RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339; `created_at` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Policy {
    /// Parses a JSON policy.
    pub fn from_json(text: &str) -> Result<Self, EngineError> {
        serde_json::from_str(text).map_err(|e| EngineError::Parse {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Parses a TOML policy.
    pub fn from_toml(text: &str) -> Result<Self, EngineError> {
        toml::from_str(text).map_err(|e| EngineError::Parse {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// The policy as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, bools and vectors always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The policy as TOML.
    pub fn to_toml(&self) -> Result<String, EngineError> {
        toml::to_string(self).map_err(|e| EngineError::Parse {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// Reads a policy file: TOML when the name ends in `.toml`, JSON otherwise.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, EngineError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
        if is_toml(path) {
            Policy::from_toml(&text)
        } else {
            Policy::from_json(&text)
        }
    }

    /// Writes the policy to a file (TOML when the name ends in `.toml`, JSON otherwise)
    /// atomically: to a new temporary file beside it (a fresh random name, created
    /// exclusively, so never through a symlink or over another file), synced to disk, then
    /// renamed over `path`, so a reader or a crash never sees half a file.
    pub fn save_file(&self, path: impl AsRef<Path>) -> Result<(), EngineError> {
        use std::io::Write as _;
        let path = path.as_ref();
        let text = if is_toml(path) {
            self.to_toml()?
        } else {
            self.to_json()
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", crate::support::random_hex(8)));
        let temporary = PathBuf::from(temporary);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.sync_all()
            });
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(io_error(&temporary, &error));
        }
        if let Err(error) = std::fs::rename(&temporary, path) {
            let _ = std::fs::remove_file(&temporary);
            return Err(io_error(path, &error));
        }
        // The rename itself is durable once the directory is synced.
        if let Some(directory) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(directory) = std::fs::File::open(directory)
        {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"))
}

fn io_error(path: &Path, error: &std::io::Error) -> EngineError {
    EngineError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn meta(id: &Option<String>, created_at: &Option<String>, updated_at: &Option<String>) -> Meta {
    Meta {
        id: id.clone(),
        created_at: created_at.clone(),
        updated_at: updated_at.clone(),
        seq: None,
    }
}

fn new_role(role: &PolicyRole) -> NewRole {
    NewRole {
        slug: role.slug.clone(),
        name: role.name.clone(),
        description: role.description.clone(),
        resource_type_slug: role.resource_type_slug.clone(),
        permissions: role.permissions.clone(),
    }
}

/// A resource named by id, or by external id and type; `None` when neither is given.
fn reference(
    id: &Option<String>,
    external_id: &Option<String>,
    type_slug: &Option<String>,
    (external_field, type_field): (&str, &str),
) -> Result<Option<ResourceRef>, EngineError> {
    match (id, external_id, type_slug) {
        (Some(id), None, None) => Ok(Some(ResourceRef::id(id.clone()))),
        (None, Some(external_id), Some(type_slug)) => Ok(Some(ResourceRef::external(
            type_slug.clone(),
            external_id.clone(),
        ))),
        (None, None, None) => Ok(None),
        (Some(_), _, _) => Err(EngineError::validation(
            external_field,
            "ambiguous_resource",
            "give the resource by id or by external id and type, not both",
        )),
        (None, Some(_), None) => Err(EngineError::validation(
            type_field,
            "required",
            format!("required with {external_field}"),
        )),
        (None, None, Some(_)) => Err(EngineError::validation(
            external_field,
            "required",
            format!("required with {type_field}"),
        )),
    }
}

/// Builds a fresh state from a policy, or names the first entry that breaks a rule.
pub(crate) fn build_state(policy: &Policy) -> Result<State, EngineError> {
    let mut state = State::empty();
    for (index, entry) in policy.permissions.iter().enumerate() {
        let new = NewPermission {
            slug: entry.slug.clone(),
            name: entry.name.clone(),
            description: entry.description.clone(),
            resource_type_slug: entry.resource_type_slug.clone(),
        };
        state
            .create_permission(new, meta(&entry.id, &entry.created_at, &entry.updated_at))
            .map_err(|e| e.in_entry(&format!("permissions[{index}]")))?;
    }
    for (index, entry) in policy.roles.iter().enumerate() {
        state
            .create_environment_role(
                new_role(entry),
                meta(&entry.id, &entry.created_at, &entry.updated_at),
            )
            .map_err(|e| e.in_entry(&format!("roles[{index}]")))?;
    }
    if policy.settings.default_role == SEEDED_DEFAULT_ROLE {
        state.seed_default_role();
    }
    state
        .set_default_role(&policy.settings.default_role)
        .map_err(|e| e.in_entry("settings.default_role"))?;
    state.set_multiple_roles(policy.settings.multiple_roles);
    for (index, entry) in policy.organizations.iter().enumerate() {
        let organization = state
            .create_organization(
                &entry.name,
                meta(&entry.id, &entry.created_at, &entry.updated_at),
                Meta {
                    id: entry.root_resource_id.clone(),
                    ..Meta::default()
                },
            )
            .map_err(|e| e.in_entry(&format!("organizations[{index}]")))?;
        for (role_index, role) in entry.roles.iter().enumerate() {
            state
                .create_organization_role(
                    &organization.id,
                    new_role(role),
                    meta(&role.id, &role.created_at, &role.updated_at),
                )
                .map_err(|e| e.in_entry(&format!("organizations[{index}].roles[{role_index}]")))?;
        }
    }
    for (index, entry) in policy.users.iter().enumerate() {
        let new = NewUser {
            email: entry.email.clone(),
            first_name: entry.first_name.clone(),
            last_name: entry.last_name.clone(),
            email_verified: entry.email_verified,
        };
        state
            .create_user(new, meta(&entry.id, &entry.created_at, &entry.updated_at))
            .map_err(|e| e.in_entry(&format!("users[{index}]")))?;
    }
    for (index, entry) in policy.organization_memberships.iter().enumerate() {
        let roles: Vec<&str> = entry.role_slugs.iter().map(String::as_str).collect();
        state
            .create_membership(
                &entry.user_id,
                &entry.organization_id,
                &roles,
                entry.status,
                meta(&entry.id, &entry.created_at, &entry.updated_at),
            )
            .map_err(|e| e.in_entry(&format!("organization_memberships[{index}]")))?;
    }
    for (index, entry) in policy.resources.iter().enumerate() {
        let at = format!("resources[{index}]");
        let parent = reference(
            &entry.parent_resource_id,
            &entry.parent_resource_external_id,
            &entry.parent_resource_type_slug,
            ("parent_resource_external_id", "parent_resource_type_slug"),
        )
        .map_err(|e| e.in_entry(&at))?;
        let new = NewResource {
            organization_id: entry.organization_id.clone(),
            resource_type_slug: entry.resource_type_slug.clone(),
            external_id: entry.external_id.clone(),
            name: entry.name.clone(),
            description: entry.description.clone(),
            parent,
        };
        state
            .create_resource(new, meta(&entry.id, &entry.created_at, &entry.updated_at))
            .map_err(|e| e.in_entry(&at))?;
    }
    for (index, entry) in policy.role_assignments.iter().enumerate() {
        let at = format!("role_assignments[{index}]");
        let resource = reference(
            &entry.resource_id,
            &entry.resource_external_id,
            &entry.resource_type_slug,
            ("resource_external_id", "resource_type_slug"),
        )
        .map_err(|e| e.in_entry(&at))?
        .ok_or_else(|| {
            EngineError::validation(
                "resource_id",
                "required",
                "give resource_id, or resource_external_id and resource_type_slug",
            )
            .in_entry(&at)
        })?;
        state
            .assign_role(
                &entry.organization_membership_id,
                &entry.role_slug,
                &resource,
                meta(&entry.id, &entry.created_at, &entry.updated_at),
            )
            .map_err(|e| e.in_entry(&at))?;
    }
    state.settle();
    Ok(state)
}

fn policy_role(role: Role) -> PolicyRole {
    PolicyRole {
        id: Some(role.id),
        slug: role.slug,
        name: role.name,
        description: role.description,
        resource_type_slug: Some(role.resource_type_slug),
        permissions: role.permissions,
        created_at: Some(role.created_at),
        updated_at: Some(role.updated_at),
    }
}

fn policy_permission(permission: Permission) -> PolicyPermission {
    PolicyPermission {
        id: Some(permission.id),
        slug: permission.slug,
        name: permission.name,
        description: permission.description,
        resource_type_slug: Some(permission.resource_type_slug),
        created_at: Some(permission.created_at),
        updated_at: Some(permission.updated_at),
    }
}

fn policy_user(user: User) -> PolicyUser {
    PolicyUser {
        id: Some(user.id),
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
        email_verified: user.email_verified,
        created_at: Some(user.created_at),
        updated_at: Some(user.updated_at),
    }
}

fn policy_membership(membership: Membership) -> PolicyMembership {
    PolicyMembership {
        id: Some(membership.id),
        user_id: membership.user_id,
        organization_id: membership.organization_id,
        status: membership.status,
        role_slugs: membership.role_slugs,
        created_at: Some(membership.created_at),
        updated_at: Some(membership.updated_at),
    }
}

fn policy_resource(resource: Resource) -> PolicyResource {
    PolicyResource {
        id: Some(resource.id),
        organization_id: resource.organization_id,
        resource_type_slug: resource.resource_type_slug,
        external_id: resource.external_id,
        name: resource.name,
        description: resource.description,
        parent_resource_id: resource.parent_resource_id,
        parent_resource_external_id: None,
        parent_resource_type_slug: None,
        created_at: Some(resource.created_at),
        updated_at: Some(resource.updated_at),
    }
}

fn policy_assignment(assignment: RoleAssignment) -> PolicyRoleAssignment {
    PolicyRoleAssignment {
        id: Some(assignment.id),
        organization_membership_id: assignment.organization_membership_id,
        role_slug: assignment.role_slug,
        resource_id: Some(assignment.resource_id),
        resource_external_id: None,
        resource_type_slug: None,
        created_at: Some(assignment.created_at),
        updated_at: Some(assignment.updated_at),
    }
}

/// The whole state as a policy, every list in creation order (parents before children).
pub(crate) fn dump_state(state: &State) -> Policy {
    Policy {
        settings: PolicySettings {
            multiple_roles: state.multiple_roles(),
            default_role: state.default_role().to_owned(),
        },
        permissions: state
            .list_permissions()
            .into_iter()
            .map(policy_permission)
            .collect(),
        roles: state
            .list_environment_roles()
            .into_iter()
            .map(policy_role)
            .collect(),
        organizations: state
            .list_organizations()
            .into_iter()
            .map(|organization| PolicyOrganization {
                roles: state
                    .roles_of_organization(&organization.id)
                    .into_iter()
                    .map(policy_role)
                    .collect(),
                id: Some(organization.id),
                name: organization.name,
                root_resource_id: Some(organization.root_resource_id),
                created_at: Some(organization.created_at),
                updated_at: Some(organization.updated_at),
            })
            .collect(),
        users: state.list_users().into_iter().map(policy_user).collect(),
        organization_memberships: state
            .list_memberships(None, None)
            .into_iter()
            .map(policy_membership)
            .collect(),
        resources: state
            .list_resources(&ResourceFilter::default())
            .into_iter()
            .filter(|resource| resource.parent_resource_id.is_some())
            .map(policy_resource)
            .collect(),
        role_assignments: state
            .all_assignments()
            .into_iter()
            .map(policy_assignment)
            .collect(),
    }
}
