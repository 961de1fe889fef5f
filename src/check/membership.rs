//! [`MembershipCache`]: remembers which organization membership a user has in an organization,
//! so that sessions whose token lacks `organization_membership_id` cost one lookup per TTL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{AuthorizerError, MembershipResolver};

/// A TTL cache in front of a [`MembershipResolver`]. Concurrent lookups of one (user,
/// organization) make one call (moka `try_get_with`); errors are not cached; "no membership"
/// is cached like an answer.
#[derive(Clone)]
pub struct MembershipCache {
    resolver: Arc<dyn MembershipResolver>,
    memberships: Cache<(String, String), Option<String>>,
}

impl fmt::Debug for MembershipCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MembershipCache")
            .field("entries", &self.memberships.entry_count())
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
        }
    }

    /// The active membership id of `user_id` in `organization_id`, or `None`.
    pub async fn resolve(
        &self,
        user_id: &str,
        organization_id: &str,
    ) -> Result<Option<String>, AuthorizerError> {
        let key = (user_id.to_owned(), organization_id.to_owned());
        self.memberships
            .try_get_with(key, self.resolver.resolve(user_id, organization_id))
            .await
            .map_err(|error| (*error).clone())
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
        self.memberships.invalidate_all();
    }

    fn invalidate_if(&self, predicate: impl Fn(&(String, String)) -> bool + Send + Sync + 'static) {
        if self
            .memberships
            .invalidate_entries_if(move |key, _| predicate(key))
            .is_err()
        {
            self.memberships.invalidate_all();
        }
    }
}
