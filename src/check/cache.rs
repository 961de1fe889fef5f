//! [`CachedAuthorizer`]: a TTL cache in front of an [`Authorizer`], with one upstream call per
//! key however many requests miss at once. It keeps decisions, and (`lists.rs`) the lists of
//! accessible resources and the permission sets of list and detail pages, which one
//! invalidation drops together.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::{
    Authorizer, AuthorizerError, CheckFuture, CheckRequest, Decision, EffectivePermissions,
    ListFuture, ListRequest, PermissionsFuture, PermissionsRequest, ResourceRef, ResourceSet,
};
use crate::single_flight::{DEFAULT_UPSTREAM_TIMEOUT, FlightError, Joined, SingleFlight};

/// How many resources a list may hold by default: 100 pages of WorkOS's largest page.
pub(super) const DEFAULT_MAX_LISTED_RESOURCES: usize = 10_000;

/// Where a decision came from, for audit logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionSource {
    /// A fresh cached decision.
    Cache,
    /// The upstream authority, called for this request.
    Upstream,
    /// The upstream authority, called for a concurrent request with the same key.
    Coalesced,
    /// A cached decision past its TTL, reused because the upstream failed
    /// ([`CachedAuthorizerBuilder::stale_if_error`]).
    Stale,
}

impl DecisionSource {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Cache => "cache",
            DecisionSource::Upstream => "upstream",
            DecisionSource::Coalesced => "coalesced",
            DecisionSource::Stale => "stale",
        }
    }
}

/// Counters of a [`CachedAuthorizer`] since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Checks answered from a fresh cached decision.
    pub hits: u64,
    /// Checks that started an upstream call.
    pub misses: u64,
    /// Checks that waited for an upstream call another check had started.
    pub coalesced: u64,
    /// Upstream calls that failed or timed out.
    pub errors: u64,
    /// Checks answered with a stale decision because the upstream failed.
    pub stale_served: u64,
}

/// A cached decision. Kept past its freshness only when `stale_if_error` is on.
#[derive(Clone, Copy, Debug)]
struct Entry {
    decision: Decision,
    decided_at: Instant,
    fresh_until: Instant,
}

/// A cached list or permission set, dropped from the cache once it is no longer fresh.
#[derive(Clone, Debug)]
pub(super) struct Timed<V> {
    pub(super) value: V,
    pub(super) fresh_until: Instant,
}

impl<V: Clone> Timed<V> {
    pub(super) fn fresh(&self) -> Option<V> {
        (self.fresh_until > Instant::now()).then(|| self.value.clone())
    }
}

/// The lifetime of a [`Timed`] entry: its freshness.
struct UntilStale;

impl<K, V> moka::Expiry<K, Timed<V>> for UntilStale {
    fn expire_after_create(&self, _: &K, entry: &Timed<V>, now: Instant) -> Option<Duration> {
        Some(entry.fresh_until.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &K,
        entry: &Timed<V>,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.fresh_until.saturating_duration_since(now))
    }
}

/// What an invalidation drops, in each of the three caches.
pub(super) enum Scope {
    Membership(String),
    Organization(String),
    Resource(ResourceRef),
}

impl Scope {
    fn check(&self, key: &CheckRequest) -> bool {
        match self {
            Scope::Membership(id) => key.organization_membership_id == *id,
            Scope::Organization(id) => key.organization_id == *id,
            Scope::Resource(resource) => key.resource == *resource,
        }
    }

    fn set(&self, key: &PermissionsRequest) -> bool {
        match self {
            Scope::Membership(id) => key.organization_membership_id == *id,
            Scope::Organization(id) => key.organization_id == *id,
            Scope::Resource(resource) => key.resource == *resource,
        }
    }

    /// A resource invalidates the lists under it and the lists that hold it.
    fn list(&self, key: &ListRequest, set: &ResourceSet) -> bool {
        match self {
            Scope::Membership(id) => key.organization_membership_id == *id,
            Scope::Organization(id) => key.organization_id == *id,
            Scope::Resource(resource) => {
                key.parent.as_ref() == Some(resource)
                    || match resource {
                        ResourceRef::Id(id) => set.contains_id(id),
                        ResourceRef::External {
                            resource_type,
                            external_id,
                        } => *resource_type == key.resource_type && set.contains(external_id),
                    }
            }
        }
    }
}

/// A moka TTL cache in front of an [`Authorizer`].
///
/// - Key: the whole [`CheckRequest`] (organization, membership, permission, resource), so a
///   decision made for one organization is never served to another.
/// - Allow and deny have their own TTL (defaults 30 s and 5 s: a revoked grant ends within half
///   a minute without webhooks, a new grant shows within seconds), both shortened by a random
///   jitter (default up to 10%) so entries made together do not expire together.
/// - Errors are never cached. Concurrent misses for one key make one upstream call, run in a
///   spawned task: a client that disconnects does not cancel it for the others.
/// - An upstream that does not answer within the timeout (default 2 s) is an error (503).
/// - It also keeps the answers of list and detail pages under the same rules
///   ([`CachedAuthorizer::accessible_resources`], allow TTL;
///   [`CachedAuthorizer::effective_permissions`], deny TTL, whose sets answer later checks),
///   and every `invalidate_*` drops them with the decisions.
///
/// ```
/// use std::time::Duration;
/// use workos_authz::check::{Authorizer, CachedAuthorizer, CheckFuture, CheckRequest, Decision, ResourceRef};
///
/// struct Everyone;
/// impl Authorizer for Everyone {
///     fn check<'a>(&'a self, _: &'a CheckRequest) -> CheckFuture<'a> {
///         Box::pin(async { Ok(Decision::Allow) })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let cached = CachedAuthorizer::builder(Everyone).allow_ttl(Duration::from_secs(60)).build();
/// let request = CheckRequest {
///     organization_id: "org_1".into(),
///     organization_membership_id: "om_1".into(),
///     permission: "projects:read".into(),
///     resource: ResourceRef::external("project", "proj_1"),
/// };
/// assert_eq!(cached.check(&request).await.unwrap(), Decision::Allow);
/// assert_eq!(cached.check(&request).await.unwrap(), Decision::Allow);
/// assert_eq!((cached.stats().misses, cached.stats().hits), (1, 1));
/// # });
/// ```
#[derive(Clone)]
pub struct CachedAuthorizer {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) upstream: Arc<dyn Authorizer>,
    entries: Cache<CheckRequest, Entry>,
    // One upstream call per key; an answer that an invalidation overtook while it was in
    // flight is returned to its waiters but never cached.
    checks: SingleFlight<CheckRequest, Decision, AuthorizerError>,
    /// Lists of accessible resources, fresh for the allow TTL.
    pub(super) lists: Cache<ListRequest, Timed<ResourceSet>>,
    pub(super) list_calls: SingleFlight<ListRequest, ResourceSet, AuthorizerError>,
    /// Permission sets, fresh for the deny TTL (what a set omits is a deny); the allows they
    /// hold are stored as decisions with the allow TTL.
    pub(super) sets: Cache<PermissionsRequest, Timed<EffectivePermissions>>,
    pub(super) set_calls: SingleFlight<PermissionsRequest, EffectivePermissions, AuthorizerError>,
    /// Whether any permission set was ever stored: until one is, a decision miss costs no
    /// second lookup.
    pub(super) sets_used: AtomicBool,
    pub(super) max_listed_resources: usize,
    allow_ttl: Duration,
    deny_ttl: Duration,
    jitter: f64,
    stale_if_error: Option<Duration>,
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    stale_served: AtomicU64,
}

impl fmt::Debug for CachedAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAuthorizer")
            .field("allow_ttl", &self.inner.allow_ttl)
            .field("deny_ttl", &self.inner.deny_ttl)
            .field("timeout", &self.inner.checks.timeout())
            .field("stale_if_error", &self.inner.stale_if_error)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl CachedAuthorizer {
    /// Starts configuring a cache in front of `upstream`.
    pub fn builder(upstream: impl Authorizer) -> CachedAuthorizerBuilder {
        CachedAuthorizerBuilder::new(Arc::new(upstream))
    }

    /// Answers `request`, and says where the answer came from.
    pub async fn decide(
        &self,
        request: &CheckRequest,
    ) -> Result<(Decision, DecisionSource), AuthorizerError> {
        let inner = &self.inner;
        if let Some(decision) = inner.fresh(request) {
            inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok((decision, DecisionSource::Cache));
        }
        let upstream = (inner.upstream.clone(), request.clone());
        let store = (self.inner.clone(), request.clone());
        let ticket = inner.checks.join(
                request.clone(),
                || inner.fresh(request),
                move || async move {
                    let (upstream, request) = upstream;
                    let answer = upstream.check(&request).await;
                    if let Err(error) = &answer {
                        tracing::warn!(%error, permission = %request.permission, resource = %request.resource, "upstream check failed");
                    }
                    answer
                },
            move |decision| store.0.remember(store.1, *decision),
        );
        let source = match ticket.joined() {
            Joined::Cached => {
                inner.hits.fetch_add(1, Ordering::Relaxed);
                DecisionSource::Cache
            }
            Joined::Led => {
                inner.misses.fetch_add(1, Ordering::Relaxed);
                DecisionSource::Upstream
            }
            Joined::Followed => {
                inner.coalesced.fetch_add(1, Ordering::Relaxed);
                DecisionSource::Coalesced
            }
        };
        let error = match ticket.answer().await {
            Ok(decision) => return Ok((decision, source)),
            Err(FlightError::Failed(error)) => error,
            Err(FlightError::Timeout(timeout)) => AuthorizerError::Timeout(timeout),
            Err(FlightError::Abandoned) => {
                AuthorizerError::unavailable("the check ended without an answer")
            }
        };
        match (inner.stale_if_error, inner.entries.get(request)) {
            (Some(max_age), Some(entry)) if entry.decided_at.elapsed() <= max_age => {
                inner.stale_served.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, age = ?entry.decided_at.elapsed(), "serving a stale decision");
                Ok((entry.decision, DecisionSource::Stale))
            }
            _ => Err(error),
        }
    }

    /// Answers `request` (see [`CachedAuthorizer::decide`]).
    pub async fn check(&self, request: &CheckRequest) -> Result<Decision, AuthorizerError> {
        self.decide(request).await.map(|(decision, _)| decision)
    }

    /// Forgets every decision, list and permission set of one organization membership.
    pub fn invalidate_membership(&self, organization_membership_id: &str) {
        self.invalidate_scope(Scope::Membership(organization_membership_id.to_owned()));
    }

    /// Forgets every decision, list and permission set made in one organization.
    pub fn invalidate_organization(&self, organization_id: &str) {
        self.invalidate_scope(Scope::Organization(organization_id.to_owned()));
    }

    /// Forgets every decision and permission set about one resource (by the reference routes
    /// use), and every list under it or holding it.
    pub fn invalidate_resource(&self, resource: &ResourceRef) {
        self.invalidate_scope(Scope::Resource(resource.clone()));
    }

    /// Forgets every decision, list and permission set.
    pub fn invalidate_all(&self) {
        let inner = &self.inner;
        inner.under_every_flight(|| {
            inner.entries.invalidate_all();
            inner.sets.invalidate_all();
            inner.lists.invalidate_all();
        });
    }

    fn invalidate_scope(&self, scope: Scope) {
        let inner = &self.inner;
        let scope = Arc::new(scope);
        inner.under_every_flight(|| {
            let (checks, sets, lists) = (scope.clone(), scope.clone(), scope.clone());
            // Only fails when closures are not enabled, and the builder always enables them.
            let refused = inner
                .entries
                .invalidate_entries_if(move |key, _| checks.check(key))
                .is_err()
                | inner
                    .sets
                    .invalidate_entries_if(move |key, _| sets.set(key))
                    .is_err()
                | inner
                    .lists
                    .invalidate_entries_if(move |key, entry| lists.list(key, &entry.value))
                    .is_err();
            if refused {
                tracing::error!("cache invalidation failed; clearing everything instead");
                inner.entries.invalidate_all();
                inner.sets.invalidate_all();
                inner.lists.invalidate_all();
            }
        });
    }

    /// How long an upstream call may take before the check fails with 503.
    pub fn timeout(&self) -> Duration {
        self.inner.checks.timeout()
    }

    /// Applies one deadline to the upstream calls started from now on.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.inner.checks.set_timeout(timeout);
        self.inner.list_calls.set_timeout(timeout);
        self.inner.set_calls.set_timeout(timeout);
    }

    /// The counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        CacheStats {
            hits: inner.hits.load(Ordering::Relaxed),
            misses: inner.misses.load(Ordering::Relaxed),
            coalesced: inner.coalesced.load(Ordering::Relaxed),
            errors: inner.checks.errors(),
            stale_served: inner.stale_served.load(Ordering::Relaxed),
        }
    }
}

impl Authorizer for CachedAuthorizer {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        Box::pin(CachedAuthorizer::check(self, request))
    }

    /// The cached list; `max_resources` is this cache's own maximum, not the caller's.
    fn accessible_resources<'a>(
        &'a self,
        request: &'a ListRequest,
        _max_resources: usize,
    ) -> ListFuture<'a> {
        Box::pin(async move {
            let set = CachedAuthorizer::accessible_resources(self, request).await?;
            Ok(set.iter().cloned().collect())
        })
    }

    fn effective_permissions<'a>(
        &'a self,
        request: &'a PermissionsRequest,
    ) -> PermissionsFuture<'a> {
        Box::pin(async move {
            let set = CachedAuthorizer::effective_permissions(self, request).await?;
            Ok(set.slugs().to_vec())
        })
    }

    fn resource_in_organization(
        &self,
        organization_id: &str,
        resource: &ResourceRef,
    ) -> Option<bool> {
        self.inner
            .upstream
            .resource_in_organization(organization_id, resource)
    }
}

impl Inner {
    /// A fresh decision: a cached one, or what a fresh permission set of the same membership
    /// and resource implies.
    pub(super) fn fresh(&self, request: &CheckRequest) -> Option<Decision> {
        let cached = self
            .entries
            .get(request)
            .filter(|entry| entry.fresh_until > Instant::now())
            .map(|entry| entry.decision);
        if cached.is_some() || !self.sets_used.load(Ordering::Relaxed) {
            return cached;
        }
        let set = self.sets.get(&PermissionsRequest::of(request))?.fresh()?;
        set.decides(&request.permission)
            .map(Decision::from_authorized)
    }

    /// Runs `forget` under the lock of every flight, in one fixed order (the only place that
    /// holds more than one), so that no answer in flight across it is stored.
    fn under_every_flight(&self, forget: impl FnOnce()) {
        self.checks.invalidate(|| {
            self.set_calls
                .invalidate(|| self.list_calls.invalidate(forget))
        });
    }

    pub(super) fn remember(&self, request: CheckRequest, decision: Decision) {
        let decided_at = Instant::now();
        let entry = Entry {
            decision,
            decided_at,
            fresh_until: decided_at + self.ttl_for(decision),
        };
        self.entries.insert(request, entry);
    }

    pub(super) fn ttl_for(&self, decision: Decision) -> Duration {
        let ttl = if decision.is_allowed() {
            self.allow_ttl
        } else {
            self.deny_ttl
        };
        ttl.mul_f64(1.0 - self.jitter * crate::support::random_fraction())
    }
}

/// How long an entry stays in the cache: its freshness, or longer when stale decisions may be
/// reused after an error.
struct EntryLifetime {
    stale_if_error: Option<Duration>,
}

impl moka::Expiry<CheckRequest, Entry> for EntryLifetime {
    fn expire_after_create(
        &self,
        _: &CheckRequest,
        entry: &Entry,
        now: Instant,
    ) -> Option<Duration> {
        let fresh = entry.fresh_until.saturating_duration_since(now);
        Some(
            self.stale_if_error
                .map_or(fresh, |max_age| fresh.max(max_age)),
        )
    }

    fn expire_after_update(
        &self,
        key: &CheckRequest,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, entry, now)
    }
}

/// Configures a [`CachedAuthorizer`].
pub struct CachedAuthorizerBuilder {
    upstream: Arc<dyn Authorizer>,
    allow_ttl: Duration,
    deny_ttl: Duration,
    jitter: f64,
    max_capacity: u64,
    timeout: Duration,
    stale_if_error: Option<Duration>,
    max_listed_resources: usize,
}

impl fmt::Debug for CachedAuthorizerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAuthorizerBuilder")
            .field("allow_ttl", &self.allow_ttl)
            .field("deny_ttl", &self.deny_ttl)
            .field("jitter", &self.jitter)
            .field("max_capacity", &self.max_capacity)
            .field("timeout", &self.timeout)
            .field("stale_if_error", &self.stale_if_error)
            .field("max_listed_resources", &self.max_listed_resources)
            .finish_non_exhaustive()
    }
}

impl CachedAuthorizerBuilder {
    fn new(upstream: Arc<dyn Authorizer>) -> Self {
        CachedAuthorizerBuilder {
            upstream,
            allow_ttl: Duration::from_secs(30),
            deny_ttl: Duration::from_secs(5),
            jitter: 0.1,
            max_capacity: 100_000,
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
            stale_if_error: None,
            max_listed_resources: DEFAULT_MAX_LISTED_RESOURCES,
        }
    }

    /// The most resources a list of accessible resources may hold (default 10,000: 100 pages
    /// of 100). An authority that lists more answers [`AuthorizerError::ListTooLong`]
    /// (never a list cut short); raise it, or list under a narrower parent.
    pub fn max_listed_resources(mut self, max: usize) -> Self {
        self.max_listed_resources = max;
        self
    }

    /// How long an allow is reused (default 30 s): the longest a revoked grant keeps working
    /// when no webhook or event says so.
    pub fn allow_ttl(mut self, ttl: Duration) -> Self {
        self.allow_ttl = ttl;
        self
    }

    /// How long a deny is reused (default 5 s): how long a new grant may take to show.
    pub fn deny_ttl(mut self, ttl: Duration) -> Self {
        self.deny_ttl = ttl;
        self
    }

    /// The largest fraction (0 to 1) by which a TTL is randomly shortened (default 0.1).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// How many decisions are kept (default 100,000); lists and permission sets are bounded
    /// by the same number each.
    pub fn max_capacity(mut self, capacity: u64) -> Self {
        self.max_capacity = capacity;
        self
    }

    /// How long the upstream may take before the check fails with 503 (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When the upstream fails, reuse a cached decision no older than `max_age` (off by
    /// default: fail closed).
    pub fn stale_if_error(mut self, max_age: Duration) -> Self {
        self.stale_if_error = Some(max_age);
        self
    }

    /// Builds the cache.
    pub fn build(self) -> CachedAuthorizer {
        let entries = Cache::builder()
            .max_capacity(self.max_capacity)
            .expire_after(EntryLifetime {
                stale_if_error: self.stale_if_error,
            })
            .support_invalidation_closures()
            .build();
        let lists = Cache::builder()
            .max_capacity(self.max_capacity)
            // A list weighs what it holds: 10,000 lists of 10,000 resources would not fit.
            .weigher(|_: &ListRequest, entry: &Timed<ResourceSet>| {
                u32::try_from(entry.value.len().max(1)).unwrap_or(u32::MAX)
            })
            .expire_after(UntilStale)
            .support_invalidation_closures()
            .build();
        let sets = Cache::builder()
            .max_capacity(self.max_capacity)
            .expire_after(UntilStale)
            .support_invalidation_closures()
            .build();
        CachedAuthorizer {
            inner: Arc::new(Inner {
                upstream: self.upstream,
                entries,
                checks: SingleFlight::new("authorization check", self.timeout),
                lists,
                list_calls: SingleFlight::new("accessible resources list", self.timeout),
                sets,
                set_calls: SingleFlight::new("effective permissions", self.timeout),
                sets_used: AtomicBool::new(false),
                max_listed_resources: self.max_listed_resources,
                allow_ttl: self.allow_ttl,
                deny_ttl: self.deny_ttl,
                jitter: self.jitter,
                stale_if_error: self.stale_if_error,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                coalesced: AtomicU64::new(0),
                stale_served: AtomicU64::new(0),
            }),
        }
    }
}
