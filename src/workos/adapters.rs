//! The client behind the [`crate::check`] traits.

use std::time::Instant;

use super::WorkOsClient;
use super::error::{ErrorKind, WorkOsError};
use super::organizations::{ListOrganizationMemberships, MembershipStatus};
use super::pagination::Pagination;
use crate::check::{
    Authorizer, AuthorizerError, CheckFuture, CheckRequest, Decision, MembershipResolver,
    ResolveFuture,
};

/// Answers checks with WorkOS's `check` endpoint.
///
/// Any failure (timeout, rate limit, server or transport error, even a 404 for an unknown
/// membership) becomes an [`AuthorizerError`], never a decision: the guard fails closed.
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
