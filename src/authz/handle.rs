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
    /// Where page navigations without a session are sent, when the app opted in.
    pub(super) sign_in_page: Option<String>,
}

/// What resource-scoped guards ask, and how.
#[derive(Clone)]
pub(super) struct Authority {
    pub(super) decisions: CachedAuthorizer,
    pub(super) memberships: Option<MembershipCache>,
    pub(super) claims_shortcut: bool,
    /// How many of a batch's cache misses [`Authz::check_many`] asks at once.
    pub(super) check_many_concurrency: usize,
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

    /// This setup, sending page navigations that have no usable session to `path` to sign in
    /// (see [`AuthzBuilder::sign_in_page`](super::AuthzBuilder::sign_in_page)); the caches,
    /// keys and sources are shared with `self`.
    pub fn with_sign_in_page(&self, path: impl Into<String>) -> Authz {
        let inner = &self.inner;
        Authz::from_inner(AuthzInner {
            verifier: inner.verifier.clone(),
            sources: inner.sources.clone(),
            responder: inner.responder.clone(),
            mode: inner.mode.clone(),
            authority: inner.authority.clone(),
            sign_in_page: Some(path.into()),
        })
    }

    pub(crate) fn sign_in_page(&self) -> Option<&str> {
        self.inner.sign_in_page.as_deref()
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
        let (organization_id, authority) = self
            .scope(session)
            .map_err(|rejection| (rejection, DecisionOrigin::None))?;
        let denied = |detail: String, origin| Err((forbidden(&detail, Some(permission)), origin));
        match authority.prejudge(session, organization_id, permission, resource) {
            Some(Prejudged::OutsideOrganization) => {
                return denied(
                    format!("resource {resource} is not in organization {organization_id}"),
                    DecisionOrigin::Claims,
                );
            }
            Some(Prejudged::FromClaims) => return Ok(DecisionOrigin::Claims),
            None => {}
        }
        let membership = match authority.membership(session, organization_id).await {
            Ok(Some(membership)) => membership,
            Ok(None) => {
                return denied(
                    format!("no active membership in organization {organization_id}"),
                    DecisionOrigin::None,
                );
            }
            Err(rejection) => return Err((rejection, DecisionOrigin::None)),
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

    /// The session's organization and the authority that answers for it: a session without
    /// organization is refused (403), a setup without authority is wired wrongly (500).
    pub(super) fn scope<'a>(
        &'a self,
        session: &'a Session,
    ) -> Result<(&'a str, &'a Authority), AuthzRejection> {
        let Some(organization_id) = session.organization_id() else {
            return Err(forbidden(
                "the session has no organization, and resource checks need one",
                None,
            ));
        };
        let Some(authority) = &self.inner.authority else {
            return Err(AuthzRejection::Misconfigured(
                "resource guard without an authorizer: set one with AuthzBuilder::authorizer"
                    .into(),
            ));
        };
        Ok((organization_id, authority))
    }
}

/// What the resource policy decides before the membership is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prejudged {
    /// The authority knows the resource is not in the session's organization: a deny.
    OutsideOrganization,
    /// The token's organization-level permissions hold the permission: an allow.
    FromClaims,
}

impl Authority {
    /// Ownership and the claims shortcut: what needs no membership and no remote call.
    pub(super) fn prejudge(
        &self,
        session: &Session,
        organization_id: &str,
        permission: &str,
        resource: &ResourceRef,
    ) -> Option<Prejudged> {
        match self.in_organization(organization_id, resource) {
            Some(false) => Some(Prejudged::OutsideOrganization),
            Some(true) if self.claims_shortcut && session.has_permission(permission) => {
                Some(Prejudged::FromClaims)
            }
            _ => None,
        }
    }

    /// Whether `resource` is known to be in the organization: `Some(false)` when the
    /// authority knows it is not; `Some(true)` when it knows it is, or when the resource is
    /// named by external id (looked up only inside the session's organization); `None` for a
    /// raw resource id on a remote authority, which could belong to anyone.
    pub(super) fn in_organization(
        &self,
        organization_id: &str,
        resource: &ResourceRef,
    ) -> Option<bool> {
        // The token's permissions come from organization-level roles, which apply to every
        // resource of the organization: the shortcut is safe exactly where this is true.
        match self
            .decisions
            .resource_in_organization(organization_id, resource)
        {
            Some(known) => Some(known),
            None => matches!(resource, ResourceRef::External { .. }).then_some(true),
        }
    }

    /// The session's organization membership: from the `organization_membership_id` claim,
    /// or looked up (cached); `None` when the user has no active membership there.
    pub(super) async fn membership(
        &self,
        session: &Session,
        organization_id: &str,
    ) -> Result<Option<String>, AuthzRejection> {
        if let Some(membership) = session.organization_membership_id() {
            return Ok(Some(membership.to_owned()));
        }
        let Some(memberships) = &self.memberships else {
            return Err(AuthzRejection::Misconfigured(
                "the token has no organization_membership_id and no membership resolver is set"
                    .into(),
            ));
        };
        memberships
            .resolve(session.user_id(), organization_id)
            .await
            .map_err(|error| unavailable("membership lookup", &error))
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
pub(super) fn unavailable(what: &str, error: &AuthorizerError) -> AuthzRejection {
    tracing::warn!(%error, "authorization {what} failed");
    let detail = match error {
        AuthorizerError::Timeout(_) => format!("the authorization {what} timed out"),
        _ => format!("the authorization {what} is unavailable"),
    };
    AuthzRejection::Unavailable(detail)
}
