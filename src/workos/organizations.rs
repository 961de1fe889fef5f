//! Organizations and organization memberships (User Management API).

use serde::{Deserialize, Serialize};

use super::WorkOsClient;
use super::error::WorkOsError;
use super::pagination::{Page, PageStream, Pagination};
use super::transport::{ApiRequest, segment};

/// A role's slug, as role assignments and memberships name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[non_exhaustive]
pub struct RoleRef {
    /// The role slug.
    pub slug: String,
}

/// The state of an organization membership.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MembershipStatus {
    /// The user is a member.
    Active,
    /// The membership was deactivated.
    Inactive,
    /// The user was invited and has not accepted yet.
    Pending,
    /// A status this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl MembershipStatus {
    /// The status as WorkOS writes it, for `statuses=` filters.
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "active",
            MembershipStatus::Inactive => "inactive",
            MembershipStatus::Pending => "pending",
            MembershipStatus::Unknown => "unknown",
        }
    }
}

/// A user's membership in an organization (`om_...`): what role assignments and checks are
/// about.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OrganizationMembership {
    /// WorkOS's id (`om_...`).
    pub id: String,
    /// The user (`user_...`).
    #[serde(default)]
    pub user_id: String,
    /// The organization (`org_...`).
    #[serde(default)]
    pub organization_id: String,
    /// The organization's name, when given.
    #[serde(default)]
    pub organization_name: Option<String>,
    /// The membership's state.
    #[serde(default)]
    pub status: MembershipStatus,
    /// The organization-level role (the highest-priority one with multiple roles).
    #[serde(default)]
    pub role: Option<RoleRef>,
    /// Every organization-level role, when multiple roles are enabled.
    #[serde(default)]
    pub roles: Option<Vec<RoleRef>>,
    /// ISO-8601 creation time, when given.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO-8601 time of the last change, when given.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Which memberships to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOrganizationMemberships {
    /// Only memberships of this user.
    pub user_id: Option<String>,
    /// Only memberships in this organization.
    pub organization_id: Option<String>,
    /// Only memberships in these states (sent comma-separated); all when empty.
    pub statuses: Vec<MembershipStatus>,
    /// Which page.
    pub pagination: Pagination,
}

impl ListOrganizationMemberships {
    /// The active memberships of `user_id` in `organization_id`.
    pub fn active(user_id: impl Into<String>, organization_id: impl Into<String>) -> Self {
        ListOrganizationMemberships {
            user_id: Some(user_id.into()),
            organization_id: Some(organization_id.into()),
            statuses: vec![MembershipStatus::Active],
            pagination: Pagination::default(),
        }
    }

    fn request(&self, pagination: &Pagination) -> ApiRequest {
        let statuses = (!self.statuses.is_empty()).then(|| {
            self.statuses
                .iter()
                .map(|status| status.as_str())
                .collect::<Vec<_>>()
                .join(",")
        });
        let request = ApiRequest::get(MEMBERSHIPS_PATH.to_owned())
            .query_opt("user_id", self.user_id.clone())
            .query_opt("organization_id", self.organization_id.clone())
            .query_opt("statuses", statuses);
        pagination.apply(request)
    }
}

/// A new membership of a user in an organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateOrganizationMembership {
    /// The organization.
    pub organization_id: String,
    /// The user.
    pub user_id: String,
    /// The role; the environment's default role when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_slug: Option<String>,
    /// Several roles, when multiple roles are enabled (instead of `role_slug`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_slugs: Option<Vec<String>>,
}

impl CreateOrganizationMembership {
    /// `user_id` joins `organization_id` with the default role.
    pub fn new(organization_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        CreateOrganizationMembership {
            organization_id: organization_id.into(),
            user_id: user_id.into(),
            ..CreateOrganizationMembership::default()
        }
    }

    /// Joins with this role.
    pub fn role_slug(mut self, role_slug: impl Into<String>) -> Self {
        self.role_slug = Some(role_slug.into());
        self
    }
}

/// An organization (a tenant).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Organization {
    /// WorkOS's id (`org_...`).
    pub id: String,
    /// The display name.
    pub name: String,
    /// The organization's domains, as WorkOS returns them.
    #[serde(default)]
    pub domains: Vec<serde_json::Value>,
    /// The application's id for the organization, when set.
    #[serde(default)]
    pub external_id: Option<String>,
    /// ISO-8601 creation time, when given.
    #[serde(default)]
    pub created_at: Option<String>,
    /// ISO-8601 time of the last change, when given.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A new organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CreateOrganization {
    /// The display name.
    pub name: String,
    /// The application's id for the organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl CreateOrganization {
    /// An organization with this name.
    pub fn new(name: impl Into<String>) -> Self {
        CreateOrganization {
            name: name.into(),
            external_id: None,
        }
    }
}

const MEMBERSHIPS_PATH: &str = "/user_management/organization_memberships";

/// Organizations and organization memberships.
impl WorkOsClient {
    /// Lists one page of organization memberships.
    pub async fn list_organization_memberships(
        &self,
        options: &ListOrganizationMemberships,
    ) -> Result<Page<OrganizationMembership>, WorkOsError> {
        self.send_json(options.request(&options.pagination)).await
    }

    /// Every organization membership matching `options`, page after page.
    pub fn stream_organization_memberships(
        &self,
        options: &ListOrganizationMemberships,
    ) -> PageStream<OrganizationMembership> {
        let options = options.clone();
        PageStream::new(self, options.pagination.after.clone(), move |after| {
            Ok(options.request(&options.pagination.for_stream(after)))
        })
    }

    /// Gets an organization membership by id.
    pub async fn get_organization_membership(
        &self,
        organization_membership_id: &str,
    ) -> Result<OrganizationMembership, WorkOsError> {
        self.send_json(ApiRequest::get(format!(
            "{MEMBERSHIPS_PATH}/{}",
            segment(organization_membership_id)
        )))
        .await
    }

    /// Makes a user a member of an organization.
    pub async fn create_organization_membership(
        &self,
        membership: &CreateOrganizationMembership,
    ) -> Result<OrganizationMembership, WorkOsError> {
        let request = ApiRequest::post(MEMBERSHIPS_PATH.to_owned()).json(membership)?;
        self.send_json(request).await
    }

    /// Creates an organization.
    pub async fn create_organization(
        &self,
        organization: &CreateOrganization,
    ) -> Result<Organization, WorkOsError> {
        let request = ApiRequest::post("/organizations".to_owned()).json(organization)?;
        self.send_json(request).await
    }

    /// Gets an organization by id.
    pub async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Organization, WorkOsError> {
        self.send_json(ApiRequest::get(format!(
            "/organizations/{}",
            segment(organization_id)
        )))
        .await
    }
}
