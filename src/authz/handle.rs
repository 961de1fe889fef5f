//! [`Authz`], the handle every request carries, and the resource policy it applies: ownership,
//! the claims shortcut, the membership, and the cached check.

use std::fmt;
use std::sync::Arc;

use axum::response::Response;

use super::layer::AuthzLayer;
use super::setup::Mode;
use crate::authkit::AuthKitCookie;
use crate::check::{
    Authorizer as _, AuthorizerError, CachedAuthorizer, CheckRequest, DecisionSource,
    MembershipCache, ResourceRef,
};
use crate::rejection::{AuthzRejection, Responder};
use crate::session::{Session, SessionVerifier, TokenSources};

/// The authorization setup of an application: how tokens are found and verified, how
/// resource-scoped guards are answered, and how refusals are rendered. Cheap to clone; every
/// request's extensions carry one.
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

pub(super) struct AuthzInner {
    pub(super) verifier: SessionVerifier,
    pub(super) sources: TokenSources,
    pub(super) responder: Arc<dyn Responder>,
    pub(super) mode: Mode,
    pub(super) authority: Option<Authority>,
}

/// What resource-scoped guards ask, and how.
pub(super) struct Authority {
    pub(super) decisions: CachedAuthorizer,
    pub(super) memberships: Option<MembershipCache>,
    pub(super) claims_shortcut: bool,
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

/// Where an allow or a deny came from, for the audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecisionOrigin {
    /// The token's claims, or ownership the authority knows without asking.
    Claims,
    /// The authority, through the decision cache.
    Authority(DecisionSource),
    /// No decision was reached (a bad request, an unavailable authority).
    None,
}

impl DecisionOrigin {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DecisionOrigin::Claims => "claims",
            DecisionOrigin::Authority(source) => source.as_str(),
            DecisionOrigin::None => "none",
        }
    }
}

/// A refusal, and where the decision behind it came from.
pub(crate) type Refusal = (AuthzRejection, DecisionOrigin);

impl Authz {
    pub(super) fn from_inner(inner: AuthzInner) -> Self {
        Authz {
            inner: Arc::new(inner),
        }
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

    pub(crate) fn sources(&self) -> &TokenSources {
        &self.inner.sources
    }

    /// The AuthKit cookie source, when the setup reads browser sessions: its
    /// [`config`](AuthKitCookie::config) seals sessions the way this setup reads them.
    pub fn authkit_cookie(&self) -> Option<&AuthKitCookie> {
        self.inner
            .sources
            .authkit_cookies()
            .next()
            .map(|cookie| &**cookie)
    }

    /// Renders `rejection` with the configured [`Responder`].
    pub fn reject(&self, rejection: &AuthzRejection) -> Response {
        self.inner.responder.respond(rejection)
    }

    /// Decides whether `session` holds `permission` on `resource`: the resource must be in
    /// the session's organization, the token's organization-level permissions answer when
    /// the claims shortcut may, and otherwise the authority is asked for the session's
    /// membership (from the claim, or looked up).
    pub(crate) async fn decide_on_resource(
        &self,
        session: &Session,
        permission: &str,
        resource: &ResourceRef,
    ) -> Result<DecisionOrigin, Refusal> {
        let Some(organization_id) = session.organization_id() else {
            return Err((
                forbidden(
                    "the session has no organization, and resource checks need one",
                    None,
                ),
                DecisionOrigin::None,
            ));
        };
        let Some(authority) = &self.inner.authority else {
            return Err((
                AuthzRejection::Misconfigured(
                    "resource guard without an authorizer: set one with AuthzBuilder::authorizer"
                        .into(),
                ),
                DecisionOrigin::None,
            ));
        };
        let denied = |detail: String, origin| Err((forbidden(&detail, Some(permission)), origin));
        let ownership = authority
            .decisions
            .resource_in_organization(organization_id, resource);
        if ownership == Some(false) {
            return denied(
                format!("resource {resource} is not in organization {organization_id}"),
                DecisionOrigin::Claims,
            );
        }
        // The token's permissions come from organization-level roles, which apply to every
        // resource of the organization. Safe when the resource is known to be in the
        // organization, or when it is named by external id (looked up only inside the
        // session's organization); a raw resource id on a remote authority could belong to
        // anyone, so it is checked.
        let in_organization =
            ownership == Some(true) || matches!(resource, ResourceRef::External { .. });
        if authority.claims_shortcut && in_organization && session.has_permission(permission) {
            return Ok(DecisionOrigin::Claims);
        }
        let membership = match session.organization_membership_id() {
            Some(membership) => membership.to_owned(),
            None => {
                let Some(memberships) = &authority.memberships else {
                    return Err((
                        AuthzRejection::Misconfigured(
                            "the token has no organization_membership_id and no membership resolver is set".into(),
                        ),
                        DecisionOrigin::None,
                    ));
                };
                match memberships
                    .resolve(session.user_id(), organization_id)
                    .await
                {
                    Ok(Some(membership)) => membership,
                    Ok(None) => {
                        return denied(
                            format!("no active membership in organization {organization_id}"),
                            DecisionOrigin::None,
                        );
                    }
                    Err(error) => {
                        return Err((
                            unavailable("membership lookup", &error),
                            DecisionOrigin::None,
                        ));
                    }
                }
            }
        };
        let request = CheckRequest {
            organization_id: organization_id.to_owned(),
            organization_membership_id: membership,
            permission: permission.to_owned(),
            resource: resource.clone(),
        };
        match authority.decisions.decide(&request).await {
            Ok((decision, source)) if decision.is_allowed() => {
                Ok(DecisionOrigin::Authority(source))
            }
            Ok((_, source)) => denied(
                format!("requires permission {permission} on {resource}"),
                DecisionOrigin::Authority(source),
            ),
            Err(error) => Err((unavailable("check", &error), DecisionOrigin::None)),
        }
    }
}

/// A 403, naming what is missing (and the permission, for the RFC 6750 `scope`).
pub(crate) fn forbidden(detail: &str, scope: Option<&str>) -> AuthzRejection {
    AuthzRejection::Forbidden {
        detail: detail.to_owned(),
        scope: scope.map(str::to_owned),
    }
}

/// A 503 whose detail says what failed but not how: the upstream's error text (its URL, the
/// membership id) goes to the log, not to the client.
fn unavailable(what: &str, error: &AuthorizerError) -> AuthzRejection {
    tracing::warn!(%error, "authorization {what} failed");
    let detail = match error {
        AuthorizerError::Timeout(_) => format!("the authorization {what} timed out"),
        _ => format!("the authorization {what} is unavailable"),
    };
    AuthzRejection::Unavailable(detail)
}
