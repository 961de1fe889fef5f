//! Refreshing a session whose access token has expired or is about to: `POST
//! /user_management/authenticate` with grant `refresh_token`, under the rule of every remote
//! call on the request path, and the replay window that keeps a refresh token's answer for the
//! requests that arrive with it a moment later.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::cookie::{CookieConfig, SealedSession};
use super::payload::{Impersonator, SessionPayload, SessionUser};
use super::sign_in::SignInError;
use crate::single_flight::{DEFAULT_UPSTREAM_TIMEOUT, FlightError, SingleFlight};
use crate::workos::{Authentication, ErrorKind, User, WorkOsClient, WorkOsError};

/// How long a completed refresh is kept for the same refresh token (a second tab, a request
/// that was already on its way): WorkOS's replay grace period is quoted at 30 s.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(30);

/// Refresh tokens are single use: their answer is what this cache remembers, by the token's
/// SHA-256 (never the token itself) and the organization asked for.
type RefreshKey = ([u8; 32], Option<String>);

/// A new session: its payload (the tokens, the user) and its seal, made once for every request
/// that waited for it, so they all send the same `Set-Cookie`.
#[derive(Clone)]
pub(crate) struct Refreshed {
    pub(crate) payload: Arc<SessionPayload>,
    pub(crate) sealed: SealedSession,
}

impl fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refreshed")
            .field("user", &self.payload.user.id)
            .finish_non_exhaustive()
    }
}

/// Why a refresh gave no new session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// WorkOS could not answer now (408, 429, 5xx, a timeout, the network): the session may
    /// still be good, so the cookie is kept and the request is a 503.
    #[error("the session could not be refreshed now: {0}")]
    Unavailable(String),
    /// WorkOS refused the refresh token for good (`invalid_grant`: spent, revoked or expired):
    /// the session is over, the cookie is cleared.
    #[error("the session cannot be refreshed: {0}")]
    Refused(String),
    /// WorkOS refused this refresh with a 403 (`mfa_enrollment`, `sso_required`,
    /// `organization_membership_not_found`, ...): terminal for a plain refresh, which clears
    /// the cookie; shown to the user when switching organization, which keeps the session.
    #[error("WorkOS refused: {message} ({code})")]
    Denied {
        /// WorkOS's code.
        code: String,
        /// WorkOS's message.
        message: String,
    },
}

/// Refreshes sessions through WorkOS.
#[derive(Clone)]
pub(crate) struct Refresher {
    client: WorkOsClient,
    client_id: String,
    flights: SingleFlight<RefreshKey, Refreshed, RefreshError>,
    recent: Cache<RefreshKey, Refreshed>,
    /// Sign-in code exchanges, by the code's SHA-256: a callback sent twice makes one exchange.
    exchanges: SingleFlight<[u8; 32], (Arc<SessionPayload>, SealedSession), SignInError>,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("client", &self.client)
            .field("client_id", &self.client_id)
            .field("timeout", &self.flights.timeout())
            .finish_non_exhaustive()
    }
}

impl Refresher {
    pub(crate) fn new(client: WorkOsClient, client_id: String, replay_window: Duration) -> Self {
        Refresher {
            client,
            client_id,
            flights: SingleFlight::new("session refresh", DEFAULT_UPSTREAM_TIMEOUT),
            exchanges: SingleFlight::new("sign-in code exchange", DEFAULT_UPSTREAM_TIMEOUT),
            recent: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(replay_window.max(Duration::from_millis(1)))
                .build(),
        }
    }

    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.flights.set_timeout(timeout);
        self.exchanges.set_timeout(timeout);
    }

    pub(crate) fn client(&self) -> &WorkOsClient {
        &self.client
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn exchanges(
        &self,
    ) -> &SingleFlight<[u8; 32], (Arc<SessionPayload>, SealedSession), SignInError> {
        &self.exchanges
    }

    /// A new session for `current`, in `organization_id`: one call per (refresh token,
    /// organization) however many requests ask at once, run in its own task (a client that
    /// disconnects does not waste the single-use token), bounded by the upstream timeout; a
    /// refresh completed within the replay window is answered again without a call.
    pub(crate) async fn refresh(
        &self,
        cookie: &CookieConfig,
        current: &SessionPayload,
        organization_id: Option<&str>,
    ) -> Result<Refreshed, RefreshError> {
        let key: RefreshKey = (
            crate::support::sha256(current.refresh_token.as_bytes()),
            organization_id.map(str::to_owned),
        );
        if let Some(refreshed) = self.recent.get(&key) {
            return Ok(refreshed);
        }
        let (client, client_id, cookie) =
            (self.client.clone(), self.client_id.clone(), cookie.clone());
        let (refresh_token, organization) = (
            current.refresh_token.clone(),
            organization_id.map(str::to_owned),
        );
        let impersonator = current.impersonator.clone();
        let (recent, stored_key) = (self.recent.clone(), key.clone());
        let (_, answer) = self
            .flights
            .run(
                key.clone(),
                || self.recent.get(&key),
                move || async move {
                    let answer = client
                        .authenticate_with_refresh_token(
                            &client_id,
                            &refresh_token,
                            organization.as_deref(),
                        )
                        .await;
                    match answer {
                        Ok(authentication) => refreshed(&cookie, authentication, impersonator),
                        Err(error) => Err(classify(&error)),
                    }
                },
                move |refreshed| recent.insert(stored_key, refreshed.clone()),
            )
            .await;
        answer.map_err(|error| match error {
            FlightError::Failed(error) => error,
            FlightError::Timeout(timeout) => {
                RefreshError::Unavailable(format!("no answer within {timeout:?}"))
            }
            FlightError::Abandoned => {
                RefreshError::Unavailable("the refresh ended without an answer".into())
            }
        })
    }
}

/// The session WorkOS answered, sealed. The impersonator stays what it was unless the answer
/// names one (WorkOS repeats it on refresh).
fn refreshed(
    cookie: &CookieConfig,
    authentication: Authentication,
    impersonator: Option<Impersonator>,
) -> Result<Refreshed, RefreshError> {
    let mut payload = SessionPayload::new(
        authentication.access_token,
        authentication.refresh_token,
        session_user(authentication.user),
    );
    payload.organization_id = authentication.organization_id;
    payload.impersonator = authentication
        .impersonator
        .map(|impersonator| Impersonator::new(impersonator.email, impersonator.reason))
        .or(impersonator);
    let sealed = cookie.seal(&payload).map_err(|error| {
        tracing::error!(%error, "a refreshed session could not be sealed");
        RefreshError::Unavailable("the refreshed session could not be sealed".into())
    })?;
    if sealed.exceeds_browser_limit() {
        tracing::warn!(
            bytes = sealed.as_str().len(),
            "the session cookie is over 4,096 bytes: browsers will drop it"
        );
    }
    Ok(Refreshed {
        payload: Arc::new(payload),
        sealed,
    })
}

/// WorkOS's user (snake_case, from the API) as the cookie seals it (camelCase, as the JS SDKs).
pub(crate) fn session_user(user: User) -> SessionUser {
    let mut sealed = SessionUser::new(user.id, user.email);
    sealed.first_name = user.first_name;
    sealed.last_name = user.last_name;
    sealed.email_verified = user.email_verified;
    sealed.profile_picture_url = user.profile_picture_url;
    sealed.created_at = user.created_at.unwrap_or_default();
    sealed.updated_at = user.updated_at.unwrap_or_default();
    sealed
}

/// Terminal or transient, by what WorkOS said: `invalid_grant` at any 4xx, or a 403 with a
/// code, ends the session; anything else (408, 429, 5xx, the network, and statuses that say
/// more about this application than about the session, such as a 401 for a bad API key) keeps
/// it, so that a misconfiguration or an outage never signs every user out.
pub(crate) fn classify(error: &WorkOsError) -> RefreshError {
    let status = error.status().map(|status| status.as_u16());
    if let (Some(403), Some(code)) = (status, error.code()) {
        tracing::info!(%error, "session refresh denied");
        return RefreshError::Denied {
            code: code.to_owned(),
            message: error.message().to_owned(),
        };
    }
    let terminal = matches!(
        (status, error.code()),
        (Some(400..=499), Some("invalid_grant"))
    );
    let reason = match (status, error.code()) {
        (Some(status), Some(code)) => format!("WorkOS answered {status} {code}"),
        (Some(status), None) => format!("WorkOS answered {status}"),
        (None, _) if error.kind() == ErrorKind::Timeout => "WorkOS did not answer in time".into(),
        (None, _) => "WorkOS could not be reached".into(),
    };
    if terminal {
        tracing::info!(%error, "session refresh refused");
        RefreshError::Refused(reason)
    } else {
        tracing::warn!(%error, "session refresh failed");
        RefreshError::Unavailable(reason)
    }
}
