//! [`MembershipCache`]: remembers which organization membership a user has in an organization,
//! so that sessions whose token lacks `organization_membership_id` cost one lookup per TTL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::{AuthorizerError, MembershipResolver};
use crate::single_flight::{DEFAULT_UPSTREAM_TIMEOUT, FlightError, SingleFlight};

type UserInOrganization = (String, String);

/// A TTL cache in front of a [`MembershipResolver`], under the rule of every remote call on
/// the request path: concurrent lookups of one (user, organization) make one call, run in a
/// spawned task (a client that disconnects cancels nothing) and bounded by the upstream
/// timeout (default 2 s); errors are never cached, and a lookup that overlapped an
/// invalidation is answered but not cached. "No membership" is cached like an answer.
#[derive(Clone)]
pub struct MembershipCache {
    resolver: Arc<dyn MembershipResolver>,
    memberships: Cache<UserInOrganization, Option<String>>,
    lookups: SingleFlight<UserInOrganization, Option<String>, AuthorizerError>,
}

impl fmt::Debug for MembershipCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MembershipCache")
            .field("entries", &self.memberships.entry_count())
            .field("timeout", &self.lookups.timeout())
            .field("errors", &self.lookups.errors())
            .finish_non_exhaustive()
    }
}

impl MembershipCache {
    /// Caches `resolver`'s answers for `ttl` (the guards use 5 minutes: memberships change
    /// rarely, and the `organization_membership.*` events invalidate them).
    pub fn new(resolver: impl MembershipResolver, ttl: Duration) -> Self {
        MembershipCache::from_arc(Arc::new(resolver), ttl)
    }

    pub(crate) fn from_arc(resolver: Arc<dyn MembershipResolver>, ttl: Duration) -> Self {
        let memberships = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .build();
        MembershipCache {
            resolver,
            memberships,
            lookups: SingleFlight::new("membership lookup", DEFAULT_UPSTREAM_TIMEOUT),
        }
    }

    /// How long a lookup may take before it fails (default 2 s).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.set_timeout(timeout);
        self
    }

    /// Lookups that failed, timed out or ended without an answer.
    pub fn errors(&self) -> u64 {
        self.lookups.errors()
    }

    /// The active membership id of `user_id` in `organization_id`, or `None`.
    pub async fn resolve(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<String>, AuthorizerError> {
        let key = (user_id.to_owned(), organization_id.to_owned());
        if let Some(membership) = self.memberships.get(&key) {
            return Ok(membership);
        }
        let resolver = self.resolver.clone();
        let (memberships, stored_key) = (self.memberships.clone(), key.clone());
        let lookup = key.clone();
        let (_, answer) = self
            .lookups
            .run(
                key.clone(),
                || self.memberships.get(&key),
                move || async move {
                    let (user_id, organization_id) = lookup;
                    let answer = resolver.resolve(&user_id, &organization_id).await;
                    if let Err(error) = &answer {
                        tracing::warn!(%error, "membership lookup failed");
                    }
                    answer
                },
                move |membership| memberships.insert(stored_key, membership.clone()),
            )
            .await;
        answer.map_err(|error| match error {
            FlightError::Failed(error) => error,
            FlightError::Timeout(timeout) => AuthorizerError::Timeout(timeout),
            FlightError::Abandoned => {
                AuthorizerError::unavailable("the membership lookup ended without an answer")
            }
        })
    }

    /// Forgets the memberships of one user.
    pub fn invalidate_user(&self, user_id: &str) {
        let user_id = user_id.to_owned();
        self.invalidate_if(move |(user, _)| *user == user_id);
    }

    /// Forgets the memberships in one organization.
    pub fn invalidate_organization(&self, organization_id: &str) {
        let organization_id = organization_id.to_owned();
        self.invalidate_if(move |(_, organization)| *organization == organization_id);
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        self.lookups
            .invalidate(|| self.memberships.invalidate_all());
    }

    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.lookups.set_timeout(timeout);
    }

    fn invalidate_if(
        &self,
        predicate: impl Fn(&UserInOrganization) -> bool + Send + Sync + 'static,
    ) {
        let memberships = &self.memberships;
        self.lookups.invalidate(|| {
            if memberships
                .invalidate_entries_if(move |key, _| predicate(key))
                .is_err()
            {
                memberships.invalidate_all();
            }
        });
    }
}
