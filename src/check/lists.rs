//! The list and permission-set questions through [`CachedAuthorizer`]: under the same rule as
//! a check (one call per key through the single flight, bounded by the same deadline, errors
//! never cached, an answer that overlapped an invalidation not stored), and dropped by the
//! same invalidations as decisions.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::cache::{CachedAuthorizer, Inner, Timed};
use super::{
    AuthorizerError, CheckRequest, Decision, EffectivePermissions, ListRequest, PermissionsRequest,
    ResourceSet,
};
use crate::single_flight::FlightError;

impl CachedAuthorizer {
    /// The resources `request` asks for, complete: from a fresh list (allow TTL), or from the
    /// authority, read to the end and stored.
    ///
    /// The authority's whole walk (every page) is one call under the upstream timeout; more
    /// than [`max_listed_resources`](super::CachedAuthorizerBuilder::max_listed_resources) is
    /// [`AuthorizerError::ListTooLong`], and nothing is stored.
    pub async fn accessible_resources(
        &self,
        request: &ListRequest,
    ) -> Result<ResourceSet, AuthorizerError> {
        let inner = &self.inner;
        if let Some(set) = inner.fresh_list(request) {
            return Ok(set);
        }
        let call = (
            inner.upstream.clone(),
            request.clone(),
            inner.max_listed_resources,
        );
        let store = (self.inner.clone(), request.clone());
        let (_, answer) = inner
            .list_calls
            .run(
                request.clone(),
                || inner.fresh_list(request),
                move || async move {
                    let (upstream, request, max) = call;
                    let answer = upstream
                        .accessible_resources(&request, max)
                        .await
                        .and_then(|resources| {
                            // A custom authority that ignores the bound is held to it here.
                            if resources.len() > max {
                                return Err(AuthorizerError::ListTooLong { limit: max });
                            }
                            Ok(ResourceSet::new(resources))
                        });
                    if let Err(error) = &answer {
                        tracing::warn!(%error, permission = %request.permission, resource_type = %request.resource_type, "listing accessible resources failed");
                    }
                    answer
                },
                move |set| store.0.remember_list(store.1, set.clone()),
            )
            .await;
        answer.map_err(|error| authorizer_error(error, "the list of accessible resources"))
    }

    /// Every permission the membership holds on `request.resource`: from a fresh set (deny
    /// TTL: a new grant shows as soon as a new decision would), or from the authority.
    ///
    /// A stored set answers later checks of the same membership on the same resource (named
    /// the same way) without a call: each permission it holds is stored as an allow with the
    /// allow TTL, and a permission it omits is a deny for as long as the set is fresh
    /// ([`EffectivePermissions::decides`] says which omissions count). An allow cached before
    /// the set is not shortened by it: it ends within the allow TTL, like any.
    pub async fn effective_permissions(
        &self,
        request: &PermissionsRequest,
    ) -> Result<EffectivePermissions, AuthorizerError> {
        let inner = &self.inner;
        if let Some(set) = inner.fresh_set(request) {
            return Ok(set);
        }
        let call = (inner.upstream.clone(), request.clone());
        let store = (self.inner.clone(), request.clone());
        let (_, answer) = inner
            .set_calls
            .run(
                request.clone(),
                || inner.fresh_set(request),
                move || async move {
                    let (upstream, request) = call;
                    let answer = upstream
                        .effective_permissions(&request)
                        .await
                        .map(|slugs| EffectivePermissions::new(request.resource.clone(), slugs));
                    if let Err(error) = &answer {
                        tracing::warn!(%error, resource = %request.resource, "effective permissions failed");
                    }
                    answer
                },
                move |set| store.0.remember_set(store.1, set),
            )
            .await;
        answer.map_err(|error| authorizer_error(error, "the effective permissions"))
    }

    /// The fresh decision for `request`, if the cache holds one (directly or through a
    /// permission set); never calls the authority.
    pub fn cached_decision(&self, request: &CheckRequest) -> Option<Decision> {
        self.inner.fresh(request)
    }

    /// The most resources one list may hold.
    pub fn max_listed_resources(&self) -> usize {
        self.inner.max_listed_resources
    }
}

impl Inner {
    fn fresh_list(&self, request: &ListRequest) -> Option<ResourceSet> {
        self.lists.get(request)?.fresh()
    }

    fn fresh_set(&self, request: &PermissionsRequest) -> Option<EffectivePermissions> {
        self.sets.get(request)?.fresh()
    }

    fn remember_list(&self, request: ListRequest, set: ResourceSet) {
        let fresh_until = Instant::now() + self.ttl_for(Decision::Allow);
        self.lists.insert(
            request,
            Timed {
                value: set,
                fresh_until,
            },
        );
    }

    /// Stores the set, and each permission it holds as an allow.
    fn remember_set(&self, request: PermissionsRequest, set: &EffectivePermissions) {
        for permission in set.slugs() {
            self.remember(
                CheckRequest {
                    organization_id: request.organization_id.clone(),
                    organization_membership_id: request.organization_membership_id.clone(),
                    permission: permission.clone(),
                    resource: request.resource.clone(),
                },
                Decision::Allow,
            );
        }
        let fresh_until = Instant::now() + self.ttl_for(Decision::Deny);
        self.sets.insert(
            request,
            Timed {
                value: set.clone(),
                fresh_until,
            },
        );
        self.sets_used.store(true, Ordering::Relaxed);
    }
}

fn authorizer_error(error: FlightError<AuthorizerError>, what: &str) -> AuthorizerError {
    match error {
        FlightError::Failed(error) => error,
        FlightError::Timeout(timeout) => AuthorizerError::Timeout(timeout),
        FlightError::Abandoned => {
            AuthorizerError::unavailable(format!("{what} ended without an answer"))
        }
    }
}
