//! Keeping caches fresh across instances: WorkOS webhooks and the events feed invalidate the
//! decisions, memberships and sessions they make stale.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use workos_authz::Authz;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let authz = Authz::from_env()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .layer(authz.layer())
//!     // WorkOS sends no session token: mount the webhook outside the layer.
//!     .route("/webhooks/workos", authz.webhook_handler(std::env::var("WORKOS_WEBHOOK_SECRET")?));
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http::{HeaderMap, StatusCode};

use super::handle::Authz;
use crate::rejection::AuthzRejection;
use crate::workos::webhook::{SIGNATURE_HEADER, WebhookError, WebhookVerifier};
use crate::workos::{Event, ListEvents, WorkOsClient, WorkOsError};

/// How long a revoked session id is remembered: WorkOS access tokens live minutes, so an hour
/// outlasts any token that carries the id.
const REVOKED_SESSION_MEMORY: Duration = Duration::from_secs(3600);

/// The events that make a cached decision, membership or session stale. WorkOS emits no
/// events for role assignments or resources: those changes reach other instances through the
/// allow TTL.
pub const CACHE_EVENTS: [&str; 15] = [
    "role.created",
    "role.updated",
    "role.deleted",
    "organization_role.created",
    "organization_role.updated",
    "organization_role.deleted",
    "permission.created",
    "permission.updated",
    "permission.deleted",
    "organization_membership.created",
    "organization_membership.updated",
    "organization_membership.deleted",
    "session.revoked",
    "organization.deleted",
    "user.deleted",
];

/// What one event invalidated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// Every cached decision (an environment role or a permission changed).
    Everything,
    /// The decisions and memberships of one organization.
    Organization(String),
    /// The decisions of one membership, and the cached membership of its user.
    Membership {
        /// The membership (`om_...`).
        membership_id: String,
        /// Its user, when the event names it.
        user_id: Option<String>,
    },
    /// Tokens of one session are refused from now on.
    Session(String),
    /// The memberships of one user, and every decision (decisions are kept by membership).
    User(String),
    /// Nothing: the event does not concern the caches, or lacks the id it needs.
    Nothing,
}

impl Authz {
    /// Applies one WorkOS event to this instance's caches and says what it invalidated.
    pub fn apply_event(&self, event: &Event) -> Invalidation {
        let decisions = self.check_cache();
        let memberships = self.membership_cache();
        let kind = event.event.as_str();
        let family = kind.split_once('.').map_or(kind, |(family, _)| family);
        let invalidation = match (family, kind) {
            ("role" | "permission", _) => {
                decisions.inspect(|cache| cache.invalidate_all());
                Invalidation::Everything
            }
            ("organization_role", _) | (_, "organization.deleted") => match event.organization_id()
            {
                Some(organization) => {
                    decisions.inspect(|cache| cache.invalidate_organization(organization));
                    memberships.inspect(|cache| cache.invalidate_organization(organization));
                    Invalidation::Organization(organization.to_owned())
                }
                None => {
                    decisions.inspect(|cache| cache.invalidate_all());
                    Invalidation::Everything
                }
            },
            ("organization_membership", _) => match event.organization_membership_id() {
                Some(membership) => {
                    decisions.inspect(|cache| cache.invalidate_membership(membership));
                    if let (Some(cache), Some(user)) = (memberships, event.user_id()) {
                        cache.invalidate_user(user);
                    }
                    Invalidation::Membership {
                        membership_id: membership.to_owned(),
                        user_id: event.user_id().map(str::to_owned),
                    }
                }
                None => Invalidation::Nothing,
            },
            (_, "session.revoked") => match event.data_id() {
                Some(session) => {
                    self.verifier()
                        .revoke_session(session, REVOKED_SESSION_MEMORY);
                    Invalidation::Session(session.to_owned())
                }
                None => Invalidation::Nothing,
            },
            (_, "user.deleted") => match event.user_id() {
                Some(user) => {
                    memberships.inspect(|cache| cache.invalidate_user(user));
                    decisions.inspect(|cache| cache.invalidate_all());
                    Invalidation::User(user.to_owned())
                }
                None => Invalidation::Nothing,
            },
            _ => Invalidation::Nothing,
        };
        tracing::info!(event = kind, id = %event.id, ?invalidation, "WorkOS event applied");
        invalidation
    }

    /// An axum handler for WorkOS webhooks, verifying `WorkOS-Signature` (HMAC-SHA256 with
    /// `secret`, constant-time comparison, 180 s tolerance) before applying the event.
    ///
    /// A missing, malformed, stale or wrong signature is 401 and changes nothing, and so is a
    /// signature already accepted (a replayed delivery); a signed body that is not an event
    /// is 400; an applied event is 200. Mount it outside [`Authz::layer`]: WorkOS sends no
    /// session token.
    pub fn webhook_handler(&self, secret: impl AsRef<[u8]>) -> MethodRouter {
        let authz = self.clone();
        let verifier = WebhookVerifier::new(secret);
        post(move |headers: HeaderMap, body: Bytes| async move {
            let signature = headers
                .get(SIGNATURE_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            match verifier.verify(signature, &body, SystemTime::now()) {
                Ok(event) => {
                    authz.apply_event(&event);
                    (
                        StatusCode::OK,
                        axum::Json(serde_json::json!({ "received": true })),
                    )
                        .into_response()
                }
                Err(error) => webhook_refusal(&authz, &error),
            }
        })
    }

    /// Applies every relevant event after `after` (an event id) from the events feed and
    /// returns the cursor to resume from.
    pub async fn apply_events_since(
        &self,
        client: &WorkOsClient,
        after: Option<String>,
    ) -> Result<Option<String>, WorkOsError> {
        let mut cursor = after;
        // Bounded: 100 pages of 100 events per call; a feed further behind resumes next time.
        for _ in 0..100 {
            let options = ListEvents {
                events: CACHE_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
                after: cursor.clone(),
                limit: Some(100),
                ..ListEvents::default()
            };
            let page = client.list_events(&options).await?;
            for event in &page.data {
                self.apply_event(event);
                cursor = Some(event.id.clone());
            }
            if page.data.len() < 100 {
                break;
            }
        }
        Ok(cursor)
    }

    /// Polls the events feed every `interval` in a background task, for deployments that
    /// cannot receive webhooks. The task ends when the returned [`EventsPoller`] is dropped.
    pub fn spawn_events_poller(
        &self,
        client: WorkOsClient,
        interval: Duration,
        after: Option<String>,
    ) -> EventsPoller {
        let authz = self.clone();
        let cursor = Arc::new(Mutex::new(after));
        let shared = cursor.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            loop {
                ticks.tick().await;
                let after = shared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone();
                match authz.apply_events_since(&client, after).await {
                    Ok(next) => {
                        *shared
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) = next
                    }
                    Err(error) => {
                        tracing::warn!(%error, "events poll failed; retrying at the next tick")
                    }
                }
            }
        });
        EventsPoller { task, cursor }
    }
}

fn webhook_refusal(authz: &Authz, error: &WebhookError) -> Response {
    tracing::warn!(%error, "webhook refused");
    let rejection = match error {
        WebhookError::InvalidPayload(_) => AuthzRejection::BadRequest(error.to_string()),
        _ => AuthzRejection::InvalidSignature(error.to_string()),
    };
    authz.reject(&rejection)
}

/// The background task of [`Authz::spawn_events_poller`]; dropping it stops the polling.
#[derive(Debug)]
pub struct EventsPoller {
    task: tokio::task::JoinHandle<()>,
    cursor: Arc<Mutex<Option<String>>>,
}

impl EventsPoller {
    /// The id of the last event applied, to resume from after a restart.
    pub fn cursor(&self) -> Option<String> {
        self.cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for EventsPoller {
    fn drop(&mut self) {
        self.task.abort();
    }
}
