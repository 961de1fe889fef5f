//! The WorkOS REST API, served over a [`LocalEngine`] (feature `emulator`).
//!
//! [`Emulator::router`] answers the WorkOS paths for environment and organization roles,
//! permissions, resources (by id and by external id), role assignments, checks, the resource
//! and membership queries, organizations and organization memberships, with WorkOS's JSON
//! shapes, pagination, error bodies and status codes. It also serves the signing key at
//! `GET /sso/jwks/{client_id}` and, for development only, mints session tokens at
//! `POST /_emulator/sessions`. The WorkOS client, the official SDKs and tests can all run
//! against it; every rule lives in the engine, this module only maps HTTP.
//!
//! ```no_run
//! use workos_authz::emulator::Emulator;
//! use workos_authz::local::LocalEngine;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = LocalEngine::load_policy_file("acme.toml")?;
//! let emulator = Emulator::new(engine).with_state_file("state.json")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await?;
//! axum::serve(listener, emulator.router()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Every route but the JWKS needs `Authorization: Bearer sk_...` (any key that starts with
//! `sk_`). Every response carries `X-Request-ID`; every body, errors included, is JSON. A POST
//! repeated with the same `Idempotency-Key` gets the first response again without acting twice.

mod api;
mod routes;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use crate::local::{EngineError, LocalEngine, Policy};
use crate::session::TokenSigner;
use api::ApiError;

/// How many `Idempotency-Key`s are remembered; the oldest are forgotten first.
const IDEMPOTENCY_KEYS: usize = 10_000;
/// Responses larger than this are not kept for replay (none of the emulator's come close).
const MAX_REPLAYED_BODY: usize = 4 * 1024 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The WorkOS API over one engine. Cheap to clone; clones share the engine, the key, the
/// idempotency memory and the state file.
#[derive(Clone)]
pub struct Emulator {
    engine: LocalEngine,
    signer: Arc<TokenSigner>,
    state_file: Option<Arc<PathBuf>>,
    idempotency: Arc<tokio::sync::Mutex<IdempotencyMemory>>,
    persist_lock: Arc<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("engine", &self.engine)
            .field("signer", &self.signer)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

/// The first response to each recent `Idempotency-Key`.
#[derive(Default)]
struct IdempotencyMemory {
    responses: HashMap<String, (StatusCode, axum::body::Bytes)>,
    order: VecDeque<String>,
}

impl IdempotencyMemory {
    fn remember(&mut self, key: String, status: StatusCode, body: axum::body::Bytes) {
        if self.order.len() >= IDEMPOTENCY_KEYS
            && let Some(oldest) = self.order.pop_front()
        {
            self.responses.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.responses.insert(key, (status, body));
    }
}

impl Emulator {
    /// An emulator over `engine`, with a freshly generated signing key.
    ///
    /// # Panics
    ///
    /// If the system cannot generate an RSA key (no secure random source); use
    /// [`Emulator::with_signer`] to handle that yourself.
    pub fn new(engine: LocalEngine) -> Emulator {
        let signer = TokenSigner::generate()
            .unwrap_or_else(|e| panic!("the emulator needs a signing key: {e}"));
        Emulator::with_signer(engine, signer)
    }

    /// An emulator over `engine` that signs session tokens with `signer`.
    pub fn with_signer(engine: LocalEngine, signer: TokenSigner) -> Emulator {
        Emulator {
            engine,
            signer: Arc::new(signer),
            state_file: None,
            idempotency: Arc::default(),
            persist_lock: Arc::default(),
        }
    }

    /// Persists the state to `path` after every change (written to a temporary file, then
    /// renamed over it, so the file is always whole). If the file exists, its state replaces
    /// the engine's now; otherwise the engine's current state is written to it. TOML when the
    /// name ends in `.toml`, JSON otherwise.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Result<Emulator, EngineError> {
        let path = path.into();
        if path.exists() {
            self.engine.replace_policy(&Policy::from_file(&path)?)?;
        }
        self.state_file = Some(Arc::new(path));
        self.persist()?;
        Ok(self)
    }

    /// The engine the API reads and changes.
    pub fn engine(&self) -> &LocalEngine {
        &self.engine
    }

    /// The key that signs session tokens and is published at `/sso/jwks/{client_id}`.
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// Every route, with this emulator as state.
    pub fn router(&self) -> Router {
        use routes::*;
        let api = Router::new()
            .route(
                "/authorization/roles",
                post(create_environment_role).get(list_environment_roles),
            )
            .route(
                "/authorization/roles/{slug}",
                get(get_environment_role)
                    .patch(update_environment_role)
                    .delete(delete_environment_role),
            )
            .route(
                "/authorization/roles/{slug}/permissions",
                put(set_environment_role_permissions).post(add_environment_role_permission),
            )
            .route(
                "/authorization/organizations/{organization_id}/roles",
                post(create_organization_role).get(list_organization_roles),
            )
            .route(
                "/authorization/organizations/{organization_id}/roles/{slug}",
                get(get_organization_role)
                    .patch(update_organization_role)
                    .delete(delete_organization_role),
            )
            .route(
                "/authorization/organizations/{organization_id}/roles/{slug}/permissions",
                put(set_organization_role_permissions).post(add_organization_role_permission),
            )
            .route(
                "/authorization/organizations/{organization_id}/roles/{slug}/permissions/{permission}",
                delete(remove_organization_role_permission),
            )
            .route(
                "/authorization/permissions",
                post(create_permission).get(list_permissions),
            )
            .route(
                "/authorization/permissions/{slug}",
                get(get_permission)
                    .patch(update_permission)
                    .delete(delete_permission),
            )
            .route(
                "/authorization/resources",
                post(create_resource).get(list_resources),
            )
            .route(
                "/authorization/resources/{resource_id}",
                get(get_resource)
                    .patch(update_resource)
                    .delete(delete_resource),
            )
            .route(
                "/authorization/resources/{resource_id}/role_assignments",
                get(list_resource_role_assignments),
            )
            .route(
                "/authorization/resources/{resource_id}/organization_memberships",
                get(list_memberships_for_resource),
            )
            .route(
                "/authorization/resources/{resource_id}/organization_memberships/{membership_id}/permissions",
                get(effective_permissions_by_resource),
            )
            .route(
                "/authorization/organizations/{organization_id}/resources/{resource_type}/{external_id}",
                get(get_resource_by_external_id)
                    .patch(update_resource_by_external_id)
                    .delete(delete_resource_by_external_id),
            )
            .route(
                "/authorization/organizations/{organization_id}/resources/{resource_type}/{external_id}/role_assignments",
                get(list_resource_role_assignments_by_external_id),
            )
            .route(
                "/authorization/organizations/{organization_id}/resources/{resource_type}/{external_id}/organization_memberships",
                get(list_memberships_for_resource_by_external_id),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/check",
                post(check),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/role_assignments",
                post(assign_role)
                    .get(list_role_assignments)
                    .delete(remove_role),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/role_assignments/{assignment_id}",
                delete(remove_role_assignment),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/resources",
                get(list_resources_for_membership),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/resources/{resource}/permissions",
                get(effective_permissions_by_membership),
            )
            .route(
                "/authorization/organization_memberships/{membership_id}/resources/{resource}/{external_id}/permissions",
                get(effective_permissions_by_external_id),
            )
            .route("/organizations", post(create_organization))
            .route("/organizations/{organization_id}", get(get_organization))
            .route(
                "/user_management/organization_memberships",
                post(create_membership).get(list_memberships),
            )
            .route(
                "/user_management/organization_memberships/{membership_id}",
                get(get_membership)
                    .put(update_membership)
                    .delete(delete_membership),
            )
            .route(
                "/user_management/organization_memberships/{membership_id}/deactivate",
                put(deactivate_membership),
            )
            .route(
                "/user_management/organization_memberships/{membership_id}/reactivate",
                put(reactivate_membership),
            )
            .route("/_emulator/sessions", post(create_session))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(from_fn_with_state(self.clone(), persist_changes))
            .layer(from_fn_with_state(self.clone(), replay_idempotent_posts))
            .layer(from_fn(require_api_key));
        Router::new()
            .route("/sso/jwks/{client_id}", get(jwks))
            .merge(api)
            .layer(from_fn(add_request_id))
            .with_state(self.clone())
    }

    /// Writes the whole state to the state file, if there is one.
    fn persist(&self) -> Result<(), EngineError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        // One writer at a time, each writing the newest state: the last rename wins with
        // everything in it.
        let _writing = self
            .persist_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.engine.dump_policy().save_file(path.as_path())
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not answer that method",
    )
}

async fn add_request_id(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let id = format!("req_{}", crate::support::random_hex(12));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

async fn require_api_key(request: Request, next: Next) -> Response {
    let authorized = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|key| key.len() > 3 && key.starts_with("sk_"));
    if !authorized {
        return ApiError::unauthorized().into_response();
    }
    next.run(request).await
}

/// Keyed POSTs run one at a time, so a retry that races its original still sees one effect.
async fn replay_idempotent_posts(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(&IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(key) = key.filter(|_| request.method() == Method::POST) else {
        return next.run(request).await;
    };
    let mut memory = emulator.idempotency.lock().await;
    if let Some((status, body)) = memory.responses.get(&key) {
        return json_response(*status, body.clone());
    }
    let response = next.run(request).await;
    let status = response.status();
    let body = match to_bytes(response.into_body(), MAX_REPLAYED_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response_too_large",
                "the response could not be kept for idempotent replay",
            )
            .into_response();
        }
    };
    // A server error may be transient: the client's retry should act again.
    if !status.is_server_error() {
        memory.remember(key, status, body.clone());
    }
    json_response(status, body)
}

fn json_response(status: StatusCode, body: axum::body::Bytes) -> Response {
    let has_body = !body.is_empty();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if has_body {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

async fn persist_changes(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Response {
    let revision = emulator.engine.revision();
    let response = next.run(request).await;
    if emulator.engine.revision() != revision
        && let Err(error) = emulator.persist()
    {
        tracing::error!(%error, "the emulator could not persist its state");
        return ApiError::from(error).into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_memory_forgets_the_oldest_key_beyond_its_bound() {
        let mut memory = IdempotencyMemory::default();
        for index in 0..=IDEMPOTENCY_KEYS {
            memory.remember(format!("key-{index}"), StatusCode::CREATED, "{}".into());
        }
        assert_eq!(memory.responses.len(), IDEMPOTENCY_KEYS);
        assert_eq!(memory.order.len(), IDEMPOTENCY_KEYS);
        assert!(!memory.responses.contains_key("key-0"));
        assert!(memory.responses.contains_key("key-1"));
        assert!(
            memory
                .responses
                .contains_key(&format!("key-{IDEMPOTENCY_KEYS}"))
        );
    }
}
