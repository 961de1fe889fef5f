//! [`Authz`]: the one configuration object, and the layer that verifies each request.

mod extract;
mod freshness;
mod layer;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;

pub use extract::SessionRejection;
pub(crate) use extract::missing_layer;
pub use freshness::{CACHE_EVENTS, EventsPoller, Invalidation};
pub use layer::{AuthzLayer, AuthzService};

use crate::check::{Authorizer, CachedAuthorizer, MembershipCache, MembershipResolver};
use crate::local::LocalEngine;
use crate::rejection::{AuthzRejection, ProblemJson, Responder};
use crate::session::{SessionVerifier, TokenSigner, TokenSources, VerifierConfigError};
use crate::workos::WorkOsClient;

/// WorkOS's API, unless `WORKOS_BASE_URL` says otherwise.
pub const DEFAULT_WORKOS_BASE_URL: &str = "https://api.workos.com";

/// The authorization setup of an application: how tokens are found and verified, and how
/// refusals are rendered. Cheap to clone; every request's extensions carry one.
///
/// ```
/// use axum::{Router, routing::get};
/// use workos_authz::{Authz, Session, require_permission};
///
/// # fn main() -> Result<(), workos_authz::ConfigError> {
/// // No WORKOS_* variables set: the embedded setup, with a locally generated signing key.
/// let authz = Authz::embedded()?;
/// let app: Router = Router::new()
///     .route("/posts", get(|| async { "posts" }).route_layer(require_permission("posts:read")))
///     .route("/me", get(|session: Session| async move { session.user_id().to_owned() }))
///     .layer(authz.layer());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authz {
    inner: Arc<AuthzInner>,
}

struct AuthzInner {
    verifier: SessionVerifier,
    sources: TokenSources,
    responder: Arc<dyn Responder>,
    mode: Mode,
    authority: Option<Authority>,
}

/// What resource-scoped guards ask, and how.
pub(crate) struct Authority {
    pub(crate) decisions: CachedAuthorizer,
    pub(crate) memberships: Option<MembershipCache>,
    pub(crate) claims_shortcut: bool,
}

/// Which authority an [`Authz`] was built for.
#[derive(Clone)]
pub enum Mode {
    /// Local development and tests: tokens are signed by an in-memory key and resource checks
    /// are answered by the embedded engine.
    Embedded {
        /// The key that signs this setup's tokens.
        signer: Arc<TokenSigner>,
        /// The engine resource-scoped guards ask.
        engine: LocalEngine,
    },
    /// WorkOS: tokens are verified against the environment's JWKS.
    WorkOs {
        /// The WorkOS client id (`client_...`).
        client_id: String,
        /// The WorkOS API base URL.
        base_url: String,
        /// The WorkOS API key (`sk_...`), needed for resource checks. Never printed.
        api_key: Option<String>,
    },
    /// Configured by hand with [`Authz::builder`].
    Custom,
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Embedded { signer, .. } => f
                .debug_struct("Embedded")
                .field("kid", &signer.kid())
                .finish(),
            Mode::WorkOs {
                client_id,
                base_url,
                api_key,
            } => f
                .debug_struct("WorkOs")
                .field("client_id", client_id)
                .field("base_url", base_url)
                .field("api_key", &api_key.as_ref().map(|_| "<redacted>"))
                .finish(),
            Mode::Custom => f.write_str("Custom"),
        }
    }
}

impl fmt::Debug for Authz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authz")
            .field("mode", &self.inner.mode)
            .field("verifier", &self.inner.verifier)
            .field("sources", &self.inner.sources)
            .finish_non_exhaustive()
    }
}

/// Why an [`Authz`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable is set to something unusable, or set without its partner.
    #[error("{variable}: {problem}")]
    Environment {
        /// The variable at fault.
        variable: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The verifier could not be built.
    #[error(transparent)]
    Verifier(#[from] VerifierConfigError),
    /// The embedded signing key could not be generated.
    #[error(transparent)]
    Signer(#[from] crate::session::SignError),
}

impl Authz {
    /// Starts configuring an [`Authz`] by hand.
    pub fn builder() -> AuthzBuilder {
        AuthzBuilder::default()
    }

    /// Builds the setup the environment describes.
    ///
    /// - `WORKOS_CLIENT_ID` set: WorkOS mode. Tokens are verified against
    ///   `{WORKOS_BASE_URL}/sso/jwks/{WORKOS_CLIENT_ID}` (base default
    ///   `https://api.workos.com`); the issuer must be `{base}`, `{base}/` or
    ///   `{base}/user_management/{client_id}` unless `WORKOS_ISSUER` names the only one accepted.
    ///   `WORKOS_API_KEY` is kept for resource checks.
    /// - none of `WORKOS_CLIENT_ID`, `WORKOS_API_KEY`, `WORKOS_BASE_URL` set: [`Authz::embedded`].
    /// - `WORKOS_API_KEY` or `WORKOS_BASE_URL` without `WORKOS_CLIENT_ID`: an error naming it,
    ///   rather than silently running without WorkOS.
    pub fn from_env() -> Result<Authz, ConfigError> {
        Authz::from_lookup(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// [`Authz::from_env`] with the variables read from `lookup` instead of the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Authz, ConfigError> {
        let Some(client_id) = lookup("WORKOS_CLIENT_ID") else {
            for variable in ["WORKOS_API_KEY", "WORKOS_BASE_URL", "WORKOS_ISSUER"] {
                if lookup(variable).is_some() {
                    return Err(ConfigError::Environment {
                        variable,
                        problem: "set without WORKOS_CLIENT_ID; set both, or neither for the embedded setup".into(),
                    });
                }
            }
            return Authz::embedded();
        };
        let base_url =
            lookup("WORKOS_BASE_URL").unwrap_or_else(|| DEFAULT_WORKOS_BASE_URL.to_owned());
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::Environment {
                variable: "WORKOS_BASE_URL",
                problem: format!("{base_url:?} is not an http(s) URL"),
            });
        }
        let base = base_url.trim_end_matches('/').to_owned();
        let issuers = match lookup("WORKOS_ISSUER") {
            Some(issuer) => vec![issuer],
            None => workos_issuers(&base, &client_id),
        };
        let verifier = SessionVerifier::builder()
            .workos_jwks(&base, &client_id)
            .issuers(issuers)
            .build()?;
        let api_key = lookup("WORKOS_API_KEY");
        let mut builder = Authz::builder().verifier(verifier);
        if let Some(api_key) = &api_key {
            let client = WorkOsClient::builder(api_key.clone())
                .base_url(base.clone())
                .build()
                .map_err(|error| ConfigError::Environment {
                    variable: "WORKOS_API_KEY",
                    problem: error.to_string(),
                })?;
            builder = builder.workos(&client);
        }
        Ok(builder.build_with_mode(Mode::WorkOs {
            client_id,
            base_url: base,
            api_key,
        }))
    }

    /// The embedded setup: a fresh in-memory RSA key signs tokens ([`Authz::signer`]), the
    /// verifier trusts exactly that key, and a new, empty [`LocalEngine`] answers resource
    /// checks ([`Authz::local_engine`]: load a policy into it or build the model by hand).
    pub fn embedded() -> Result<Authz, ConfigError> {
        Authz::embedded_with(LocalEngine::new())
    }

    /// [`Authz::embedded`] over an engine of the caller's.
    pub fn embedded_with(engine: LocalEngine) -> Result<Authz, ConfigError> {
        let signer = Arc::new(TokenSigner::generate()?);
        let verifier = SessionVerifier::builder()
            .jwks_document(signer.jwks().to_string().as_bytes())?
            .build()?;
        let builder = Authz::builder().verifier(verifier).local(engine.clone());
        Ok(builder.build_with_mode(Mode::Embedded { signer, engine }))
    }

    /// The layer that verifies every request and refuses those without a valid token (401).
    pub fn layer(&self) -> AuthzLayer {
        AuthzLayer::new(self.clone(), true)
    }

    /// The layer that verifies tokens when present and lets anonymous requests through; a
    /// present but invalid token is still refused (401).
    pub fn optional_layer(&self) -> AuthzLayer {
        AuthzLayer::new(self.clone(), false)
    }

    /// The token verifier.
    pub fn verifier(&self) -> &SessionVerifier {
        &self.inner.verifier
    }

    /// The authority this setup was built for.
    pub fn mode(&self) -> &Mode {
        &self.inner.mode
    }

    /// The signing key of the embedded setup (`None` on WorkOS).
    pub fn signer(&self) -> Option<&TokenSigner> {
        match &self.inner.mode {
            Mode::Embedded { signer, .. } => Some(signer),
            _ => None,
        }
    }

    /// The engine of the embedded setup (`None` on WorkOS).
    pub fn local_engine(&self) -> Option<&LocalEngine> {
        match &self.inner.mode {
            Mode::Embedded { engine, .. } => Some(engine),
            _ => None,
        }
    }

    /// The decision cache in front of the authorizer, for invalidation and
    /// [`stats`](CachedAuthorizer::stats). `None` when no authorizer is configured.
    pub fn check_cache(&self) -> Option<&CachedAuthorizer> {
        self.inner
            .authority
            .as_ref()
            .map(|authority| &authority.decisions)
    }

    /// The membership cache, for invalidation. `None` without a membership resolver.
    pub fn membership_cache(&self) -> Option<&MembershipCache> {
        self.inner
            .authority
            .as_ref()
            .and_then(|authority| authority.memberships.as_ref())
    }

    pub(crate) fn authority(&self) -> Option<&Authority> {
        self.inner.authority.as_ref()
    }

    pub(crate) fn sources(&self) -> &TokenSources {
        &self.inner.sources
    }

    /// Renders `rejection` with the configured [`Responder`].
    pub fn reject(&self, rejection: &AuthzRejection) -> Response {
        self.inner.responder.respond(rejection)
    }
}

/// The issuers WorkOS has been seen to use for one environment.
fn workos_issuers(base: &str, client_id: &str) -> Vec<String> {
    vec![
        base.to_owned(),
        format!("{base}/"),
        format!("{base}/user_management/{client_id}"),
    ]
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
        }
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

    /// The embedded engine answers resource checks and finds memberships.
    pub fn local(self, engine: LocalEngine) -> Self {
        self.authorizer(engine.clone()).membership_resolver(engine)
    }

    /// WorkOS answers resource checks (`POST .../check`) and finds memberships
    /// (`GET /user_management/organization_memberships`) through `client`.
    pub fn workos(self, client: &WorkOsClient) -> Self {
        self.authorizer(client.authorizer())
            .membership_resolver(client.membership_resolver())
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
    /// membership lookup and the resource check (default 2 s each). A request waiting for
    /// one gets 503 by then; the call runs in its own task, shared by every request that
    /// needs the same answer, and its failure is never cached. Set here, it overrides the
    /// timeouts configured on the verifier and the decision cache.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = Some(timeout);
        self
    }

    /// Builds the [`Authz`].
    pub fn build(self) -> Result<Authz, ConfigError> {
        if self.verifier.is_none() {
            return Err(ConfigError::Verifier(VerifierConfigError::NoKeys));
        }
        Ok(self.build_with_mode(Mode::Custom))
    }

    fn build_with_mode(self, mode: Mode) -> Authz {
        let membership_ttl = self.membership_ttl;
        let upstream_timeout = self.upstream_timeout;
        let authority = self.decisions.map(|decisions| {
            let memberships = self.memberships.map(|resolver| {
                MembershipCache::from_arc(resolver, membership_ttl)
                    .with_timeout(upstream_timeout.unwrap_or(decisions.timeout()))
            });
            if let Some(timeout) = upstream_timeout {
                decisions.set_timeout(timeout);
            }
            Authority {
                decisions,
                memberships,
                claims_shortcut: self.claims_shortcut,
            }
        });
        let verifier = self.verifier.expect("checked by the caller");
        if let Some(timeout) = upstream_timeout {
            verifier.set_upstream_timeout(timeout);
        }
        Authz {
            inner: Arc::new(AuthzInner {
                verifier,
                sources: self.sources.unwrap_or_default(),
                responder: self
                    .responder
                    .unwrap_or_else(|| Arc::new(ProblemJson::default())),
                mode,
                authority,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_variables_build_the_embedded_setup() {
        let authz = Authz::from_lookup(vars(&[])).unwrap();
        assert!(matches!(authz.mode(), Mode::Embedded { .. }));
        assert!(authz.signer().is_some());
    }

    #[test]
    fn a_client_id_builds_workos_mode_with_the_three_issuers() {
        let authz = Authz::from_lookup(vars(&[
            ("WORKOS_CLIENT_ID", "client_1"),
            ("WORKOS_API_KEY", "sk_test_secret"),
        ]))
        .unwrap();
        let Mode::WorkOs {
            client_id,
            base_url,
            api_key,
        } = authz.mode()
        else {
            panic!("not WorkOS mode")
        };
        assert_eq!(
            (client_id.as_str(), base_url.as_str()),
            ("client_1", DEFAULT_WORKOS_BASE_URL)
        );
        assert_eq!(api_key.as_deref(), Some("sk_test_secret"));
        let debug = format!("{authz:?}");
        assert!(!debug.contains("sk_test_secret"), "{debug}");
        assert!(
            debug.contains("https://api.workos.com/sso/jwks/client_1"),
            "{debug}"
        );
        assert_eq!(
            workos_issuers("https://api.workos.com", "client_1"),
            [
                "https://api.workos.com",
                "https://api.workos.com/",
                "https://api.workos.com/user_management/client_1"
            ]
        );
    }

    #[test]
    fn an_api_key_without_client_id_is_an_error_naming_it() {
        let error = Authz::from_lookup(vars(&[("WORKOS_API_KEY", "sk_x")])).unwrap_err();
        assert!(error.to_string().starts_with("WORKOS_API_KEY:"), "{error}");
        let error = Authz::from_lookup(vars(&[
            ("WORKOS_CLIENT_ID", "c"),
            ("WORKOS_BASE_URL", "ftp://x"),
        ]))
        .unwrap_err();
        assert!(error.to_string().starts_with("WORKOS_BASE_URL:"), "{error}");
    }
}
