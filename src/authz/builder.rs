//! [`AuthzBuilder`]: configuring an [`Authz`] by hand.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::handle::{Authority, Authz, AuthzInner};
use super::pages::DEFAULT_CHECK_MANY_CONCURRENCY;
use super::setup::Mode;
use crate::check::{Authorizer, CachedAuthorizer, MembershipCache, MembershipResolver};
use crate::rejection::{ProblemJson, Responder};
use crate::session::{SessionVerifier, SignError, TokenSources, VerifierConfigError};

/// Why an [`Authz`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable is set to something unusable, or set without its partner.
    #[error("{variable}: {problem}")]
    Environment {
        /// The variable at fault.
        variable: &'static str,
        /// What is wrong with it.
        problem: String,
        /// The error behind it, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The verifier could not be built.
    #[error(transparent)]
    Verifier(#[from] VerifierConfigError),
    /// The embedded signing key could not be generated.
    #[error(transparent)]
    Signer(#[from] SignError),
}

impl ConfigError {
    pub(super) fn environment(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Environment {
            variable,
            problem: problem.into(),
            source: None,
        }
    }
}

/// Configures an [`Authz`].
pub struct AuthzBuilder {
    verifier: Option<SessionVerifier>,
    sources: Option<TokenSources>,
    responder: Option<Arc<dyn Responder>>,
    decisions: Option<CachedAuthorizer>,
    memberships: Option<Arc<dyn MembershipResolver>>,
    membership_ttl: Duration,
    claims_shortcut: bool,
    upstream_timeout: Option<Duration>,
    check_many_concurrency: usize,
    sign_in_page: Option<String>,
}

impl fmt::Debug for AuthzBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzBuilder")
            .field("verifier", &self.verifier)
            .field("sources", &self.sources)
            .field("decisions", &self.decisions)
            .field("membership_resolver", &self.memberships.is_some())
            .field("membership_ttl", &self.membership_ttl)
            .field("claims_shortcut", &self.claims_shortcut)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("check_many_concurrency", &self.check_many_concurrency)
            .finish_non_exhaustive()
    }
}

impl Default for AuthzBuilder {
    fn default() -> Self {
        AuthzBuilder {
            verifier: None,
            sources: None,
            responder: None,
            decisions: None,
            memberships: None,
            membership_ttl: Duration::from_secs(300),
            claims_shortcut: true,
            upstream_timeout: None,
            check_many_concurrency: DEFAULT_CHECK_MANY_CONCURRENCY,
            sign_in_page: None,
        }
    }
}

impl Authz {
    /// Starts configuring an [`Authz`] by hand.
    pub fn builder() -> AuthzBuilder {
        AuthzBuilder::default()
    }
}

impl AuthzBuilder {
    /// The verifier for session tokens (required).
    pub fn verifier(mut self, verifier: SessionVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Where tokens are looked for, in order (default: `Authorization: Bearer`).
    pub fn token_sources(mut self, sources: impl Into<TokenSources>) -> Self {
        self.sources = Some(sources.into());
        self
    }

    /// How refusals are rendered (default: [`ProblemJson`] with realm `workos-authz`).
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// The authority resource-scoped guards ask, behind a [`CachedAuthorizer`] with its
    /// defaults (use [`AuthzBuilder::cached_authorizer`] to tune the cache).
    pub fn authorizer(self, authorizer: impl Authorizer) -> Self {
        self.cached_authorizer(CachedAuthorizer::builder(authorizer).build())
    }

    /// The authority resource-scoped guards ask, with a cache configured by hand.
    pub fn cached_authorizer(mut self, decisions: CachedAuthorizer) -> Self {
        self.decisions = Some(decisions);
        self
    }

    /// Finds membership ids for tokens without the `organization_membership_id` claim.
    pub fn membership_resolver(mut self, resolver: impl MembershipResolver) -> Self {
        self.memberships = Some(Arc::new(resolver));
        self
    }

    /// How long a resolved membership id is reused (default 5 minutes).
    pub fn membership_ttl(mut self, ttl: Duration) -> Self {
        self.membership_ttl = ttl;
        self
    }

    /// Whether a permission in the token's own `permissions` allows a resource-scoped route
    /// without asking the authority (default on). WorkOS puts the organization-level role's
    /// permissions in the token, and those apply to every resource of the organization; the
    /// resource is still looked up only inside the session's organization.
    pub fn claims_shortcut(mut self, enabled: bool) -> Self {
        self.claims_shortcut = enabled;
        self
    }

    /// The one deadline of every remote call on the request path: the JWKS refetch, the
    /// membership lookup, the resource check, the walk of a list of accessible resources and
    /// the effective-permissions call (default 2 s each). A request waiting for
    /// one gets 503 by then; the call runs in its own task, shared by every request that
    /// needs the same answer, and its failure is never cached. Set here, it overrides the
    /// timeouts configured on the verifier and the decision cache.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = Some(timeout);
        self
    }

    /// How many of its cache misses one [`Authz::check_many`] asks the authority at once
    /// (default 8; at least 1): a dashboard of a hundred cold pairs does not open a hundred
    /// calls.
    pub fn check_many_concurrency(mut self, concurrency: usize) -> Self {
        self.check_many_concurrency = concurrency.max(1);
        self
    }

    /// Sends page navigations (a browser's `GET` with `Sec-Fetch-Mode: navigate`, or an
    /// `Accept` naming `text/html`) that have no usable session to `path` (for example
    /// `/login`, see [`Authz::authkit_routes`]) with `?return_to=` the page they asked for,
    /// instead of answering 401. API requests still get 401 problem+json.
    pub fn sign_in_page(mut self, path: impl Into<String>) -> Self {
        self.sign_in_page = Some(path.into());
        self
    }

    /// Builds the [`Authz`].
    pub fn build(self) -> Result<Authz, ConfigError> {
        self.build_with_mode(Mode::Custom)
    }

    pub(super) fn build_with_mode(self, mode: Mode) -> Result<Authz, ConfigError> {
        let verifier = self
            .verifier
            .ok_or(ConfigError::Verifier(VerifierConfigError::NoKeys))?;
        let upstream_timeout = self.upstream_timeout;
        let sources = self.sources.unwrap_or_default();
        if let Some(timeout) = upstream_timeout {
            verifier.set_upstream_timeout(timeout);
            for cookie in sources.authkit_cookies() {
                cookie.set_timeout(timeout);
            }
        }
        let (memberships, membership_ttl) = (self.memberships, self.membership_ttl);
        let authority = self.decisions.map(|decisions| {
            if let Some(timeout) = upstream_timeout {
                decisions.set_timeout(timeout);
            }
            let memberships = memberships.map(|resolver| {
                MembershipCache::from_arc(resolver, membership_ttl)
                    .with_timeout(decisions.timeout())
            });
            Authority {
                decisions,
                memberships,
                claims_shortcut: self.claims_shortcut,
                check_many_concurrency: self.check_many_concurrency,
            }
        });
        Ok(Authz::from_inner(AuthzInner {
            verifier,
            sources,
            responder: self
                .responder
                .unwrap_or_else(|| Arc::new(ProblemJson::default())),
            mode,
            authority,
            sign_in_page: self.sign_in_page,
        }))
    }
}
