//! The client behind the [`crate::check`] traits.

use std::time::Instant;

use super::WorkOsClient;
use super::authorization::ListResourcesForMembership;
use super::error::{ErrorKind, WorkOsError};
use super::organizations::{ListOrganizationMemberships, MembershipStatus};
use super::pagination::{PageStream, Pagination};
use crate::check::{
    AccessibleResource, Authorizer, AuthorizerError, CheckFuture, CheckRequest, Decision,
    ListFuture, ListRequest, MembershipResolver, PermissionsFuture, PermissionsRequest,
    ResolveFuture, ResourceRef,
};

/// The most permissions one effective-permissions answer may hold (10 pages of 100): an
/// environment has a few dozen; a longer answer is an error, never a set cut short.
const MAX_EFFECTIVE_PERMISSIONS: usize = 1_000;

/// Answers checks with WorkOS's `check` endpoint, lists with
/// `GET /authorization/organization_memberships/{om}/resources`, and permission sets with
/// `GET .../organization_memberships/{om}/resources/{id or type/external_id}/permissions`.
///
/// Any failure (timeout, rate limit, server or transport error, a bare 404) becomes an
/// [`AuthorizerError`], never a decision or a shorter list: the guard fails closed. WorkOS's
/// 404 with an error code (the membership or resource does not exist in the membership's
/// organization) is an answer: a deny, an empty list, an empty set.
#[derive(Clone, Debug)]
pub struct WorkOsAuthorizer {
    client: WorkOsClient,
}

impl WorkOsAuthorizer {
    /// An authorizer that asks WorkOS through `client`.
    pub fn new(client: WorkOsClient) -> Self {
        WorkOsAuthorizer { client }
    }
}

impl Authorizer for WorkOsAuthorizer {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let answer = self
                .client
                .check(
                    &request.organization_membership_id,
                    &request.permission,
                    &request.resource,
                )
                .await;
            match answer {
                Ok(authorized) => Ok(Decision::from_authorized(authorized)),
                // WorkOS answers 404 with an error code when the resource (or membership) does
                // not exist in the membership's organization: an answer, not an outage, and the
                // same one the embedded engine gives. A bare 404 (a wrong base URL, a proxy) is
                // no answer at all and stays an error.
                Err(error) if error.kind() == ErrorKind::NotFound && error.code().is_some() => {
                    tracing::debug!(%error, resource = %request.resource, "check target not found: deny");
                    Ok(Decision::Deny)
                }
                Err(error) => Err(authorizer_error(error, started)),
            }
        })
    }

    /// Reads every page (`limit=100`, `after`) under the parent (the organization resource,
    /// type `organization` and the organization's id, when `None`), and keeps the resources
    /// of the requested type in the session's organization: WorkOS filters by permission and
    /// parent only.
    fn accessible_resources<'a>(
        &'a self,
        request: &'a ListRequest,
        max_resources: usize,
    ) -> ListFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let parent = request
                .parent
                .clone()
                .unwrap_or_else(|| ResourceRef::external("organization", &request.organization_id));
            let options = ListResourcesForMembership {
                permission_slug: request.permission.clone(),
                parent,
                pagination: Pagination::default(),
            };
            let stream = self
                .client
                .stream_resources_for_membership(&request.organization_membership_id, &options);
            let Some(read) = read_all(stream, max_resources, started).await? else {
                return Ok(Vec::new());
            };
            Ok(read
                .into_iter()
                .filter(|resource| {
                    resource.resource_type_slug == request.resource_type
                        && (resource.organization_id.is_empty()
                            || resource.organization_id == request.organization_id)
                })
                .map(|resource| {
                    AccessibleResource::new(resource.id, resource.external_id, resource.name)
                })
                .collect())
        })
    }

    fn effective_permissions<'a>(
        &'a self,
        request: &'a PermissionsRequest,
    ) -> PermissionsFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let stream = self.client.stream_effective_permissions(
                &request.organization_membership_id,
                &request.resource,
                &Pagination::default(),
            );
            let read = read_all(stream, MAX_EFFECTIVE_PERMISSIONS, started).await?;
            Ok(read
                .unwrap_or_default()
                .into_iter()
                .map(|permission| permission.slug)
                .collect())
        })
    }
}

/// Every item of `stream`, at most `max`; `None` when WorkOS answered that the membership or
/// the resource does not exist (a 404 with an error code, on the first page).
async fn read_all<T>(
    mut stream: PageStream<T>,
    max: usize,
    started: Instant,
) -> Result<Option<Vec<T>>, AuthorizerError> {
    let mut items = Vec::new();
    while let Some(item) = stream.next_item().await {
        match item {
            Ok(item) if items.len() < max => items.push(item),
            // One past the bound: the list is longer than allowed, and is not cut short.
            Ok(_) => return Err(AuthorizerError::ListTooLong { limit: max }),
            Err(error)
                if items.is_empty()
                    && stream.pages_fetched() == 0
                    && error.kind() == ErrorKind::NotFound
                    && error.code().is_some() =>
            {
                tracing::debug!(%error, "list target not found: nothing accessible");
                return Ok(None);
            }
            Err(error) => return Err(authorizer_error(error, started)),
        }
    }
    Ok(Some(items))
}

/// Finds a user's active membership in an organization with
/// `GET /user_management/organization_memberships?user_id=&organization_id=&statuses=active`.
#[derive(Clone, Debug)]
pub struct WorkOsMembershipResolver {
    client: WorkOsClient,
}

impl WorkOsMembershipResolver {
    /// A resolver that asks WorkOS through `client`.
    pub fn new(client: WorkOsClient) -> Self {
        WorkOsMembershipResolver { client }
    }
}

impl MembershipResolver for WorkOsMembershipResolver {
    fn resolve<'a>(&'a self, user_id: &'a str, organization_id: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let mut options = ListOrganizationMemberships::active(user_id, organization_id);
            // A user has at most one membership per organization; a small page is plenty.
            options.pagination = Pagination::limit(10);
            let page = self
                .client
                .list_organization_memberships(&options)
                .await
                .map_err(|error| authorizer_error(error, started))?;
            // The status is checked again in case a server ignores the `statuses` filter.
            Ok(page
                .data
                .into_iter()
                .find(|membership| {
                    membership.status == MembershipStatus::Active
                        && membership.user_id == user_id
                        && membership.organization_id == organization_id
                })
                .map(|membership| membership.id))
        })
    }
}

fn authorizer_error(error: WorkOsError, started: Instant) -> AuthorizerError {
    match error.kind() {
        ErrorKind::Timeout => AuthorizerError::Timeout(started.elapsed()),
        _ => AuthorizerError::caused_by(error),
    }
}
