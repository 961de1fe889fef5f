//! The WorkOS REST API, served over a [`LocalEngine`] (feature `emulator`).
//!
//! [`Emulator::router`] answers the WorkOS paths for environment and organization roles,
//! permissions, resources (by id and by external id), role assignments, checks, the resource
//! and membership queries, organizations, organization memberships and users, with WorkOS's
//! JSON shapes, pagination, error bodies and status codes. It also plays AuthKit: a sign-in
//! page listing the environment's users (`GET /user_management/authorize`), the token
//! endpoint (`POST /user_management/authenticate`: codes with PKCE, refresh tokens rotated
//! with a replay window, organization switching) and sign-out
//! (`GET /user_management/sessions/logout`), with sessions kept by the engine. It serves the
//! signing key at `GET /sso/jwks/{client_id}` and, for development only, mints session tokens
//! at `POST /_emulator/sessions`. The WorkOS client, the official SDKs, the crate's AuthKit
//! cookie and tests can all run against it; every rule of the model lives in the engine.
//!
//! ```no_run
//! use workos_authz::emulator::Emulator;
//! use workos_authz::local::{LocalEngine, Policy};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // State in an SQLite database, seeded from a policy file the first time.
//! let engine = LocalEngine::open_with_seed("state.db", &Policy::from_file("acme.toml")?)?;
//! let emulator = Emulator::new(engine).with_api_key("sk_test_local")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await?;
//! axum::serve(listener, emulator.router()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The router may also be nested in an application (`Router::new().nest("/workos",
//! emulator.router())`): the URLs it renders and the issuer of its tokens follow the prefix.
//!
//! Every route but the JWKS and AuthKit's needs `Authorization: Bearer sk_...` (any key that
//! starts with `sk_`, or only the one of [`Emulator::with_api_key`]; the scheme in any case).
//! Every response carries `X-Request-ID`; every body but the sign-in pages is JSON; bodies
//! over 256 KiB get 413. A POST of the API repeated with the same `Idempotency-Key` gets the
//! first successful response again without acting twice (see [`IdempotencyLimits`]). A change
//! the engine's store could not commit answers 503 and was not made. Each request is logged as
//! one `tracing` event (target `workos_authz::emulator`): never a query, a header or a body,
//! so no code, token or key is ever logged.

mod api;
mod authkit;
mod html;
mod idempotency;
mod routes;
mod tokens;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

pub use idempotency::{IdempotencyLimits, IdempotencyUsage};

use crate::local::LocalEngine;
use crate::session::TokenSigner;
use api::{ApiError, MAX_BODY_BYTES};
use authkit::AuthKitMemory;
use idempotency::{Answer, Idempotency, Lookup, Scope};

/// How long an access token of the emulator's AuthKit lives by default: WorkOS's five minutes.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// How long a sign-in code may wait for its exchange by default: ten minutes, as at WorkOS.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a spent refresh token still answers the pair it was exchanged for, by default.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(30);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The longest path a log line repeats.
const LOGGED_PATH_MAX: usize = 200;

/// The WorkOS API over one engine. Cheap to clone; clones share the engine, the key and the
/// idempotency memory. Durability is the engine's: serve a [`LocalEngine::open`]ed engine to
/// keep the state across restarts.
#[derive(Clone)]
pub struct Emulator {
    engine: LocalEngine,
    signer: Arc<TokenSigner>,
    idempotency: Arc<Idempotency>,
    settings: Arc<Settings>,
    authkit: Arc<AuthKitMemory>,
}

/// What the builder methods set.
#[derive(Clone)]
struct Settings {
    /// The one key accepted, when set; any `sk_` key otherwise. A secret: never shown.
    api_key: Option<Arc<str>>,
    /// Where clients reach the emulator (`iss`, the sign-in page's form), when set; taken from
    /// each request otherwise.
    base_url: Option<String>,
    access_token_lifetime: Duration,
    code_lifetime: Duration,
    replay_window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_key: None,
            base_url: None,
            access_token_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            code_lifetime: DEFAULT_CODE_LIFETIME,
            replay_window: DEFAULT_REPLAY_WINDOW,
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings = &self.settings;
        f.debug_struct("Emulator")
            .field("engine", &self.engine)
            .field("signer", &self.signer)
            .field("idempotency", &self.idempotency.usage())
            .field(
                "api_key",
                &if settings.api_key.is_some() {
                    "one configured key"
                } else {
                    "any sk_ key"
                },
            )
            .field("base_url", &settings.base_url)
            .field("access_token_lifetime", &settings.access_token_lifetime)
            .field("code_lifetime", &settings.code_lifetime)
            .field("replay_window", &settings.replay_window)
            .field("authkit", &self.authkit)
            .finish_non_exhaustive()
    }
}

/// A setting of [`Emulator`] that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorConfigError {
    /// The base URL is not an absolute `http(s)` URL without query or fragment.
    #[error("the base URL {url:?} is not usable: {problem}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Access tokens must live at least one second (whole seconds: `exp` is in seconds).
    #[error("the access token lifetime must be at least one second, not {0:?}")]
    AccessTokenLifetime(Duration),
    /// The API key is empty or holds characters an `Authorization` header cannot carry.
    #[error("the API key must be visible ASCII characters without spaces")]
    ApiKey,
}

/// The API key of an authorized request, for idempotency scopes.
#[derive(Clone)]
struct ApiKey(Arc<str>);

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
        Emulator::with_shared_signer(engine, Arc::new(signer))
    }

    /// An emulator over `engine` that signs with a key it shares: for example the embedded
    /// setup's ([`crate::Authz::signer`] comes from the `Arc` in
    /// [`Mode::Embedded`](crate::Mode::Embedded)), so that the tokens the application
    /// mints itself and those of the emulator's AuthKit verify alike.
    pub fn with_shared_signer(engine: LocalEngine, signer: Arc<TokenSigner>) -> Emulator {
        Emulator {
            engine,
            signer,
            idempotency: Arc::new(Idempotency::new(IdempotencyLimits::default())),
            settings: Arc::new(Settings::default()),
            authkit: Arc::new(AuthKitMemory::default()),
        }
    }

    /// Accepts only `api_key`: as `Authorization: Bearer` on the API routes, and as the
    /// `client_secret` of `POST /user_management/authenticate`. Without it, any key that
    /// starts with `sk_` is accepted for both (then a wrong client secret is only refused when
    /// it does not start with `sk_`).
    pub fn with_api_key(mut self, api_key: &str) -> Result<Emulator, EmulatorConfigError> {
        if api_key.is_empty() || !api_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EmulatorConfigError::ApiKey);
        }
        Arc::make_mut(&mut self.settings).api_key = Some(Arc::from(api_key));
        Ok(self)
    }

    /// The URL clients reach the emulator at, for example `http://127.0.0.1:3000/workos` when
    /// an application serves [`Emulator::router`] under `/workos`: the `iss` of its tokens,
    /// and where the sign-in page posts. Without it, each request's `Host` and the path the
    /// router is nested under ([`axum::Router::nest`]) make it: `http://{Host}{prefix}`.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Emulator, EmulatorConfigError> {
        let problem = |problem| EmulatorConfigError::BaseUrl {
            url: base_url.to_owned(),
            problem,
        };
        let trimmed = base_url.trim_end_matches('/');
        let uri: http::Uri = trimmed
            .parse()
            .map_err(|_| problem("it does not parse as a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(problem("it must start with http:// or https://"));
        }
        if uri.authority().is_none_or(|a| a.as_str().contains('@')) {
            return Err(problem("it must name a host, without user information"));
        }
        if uri.query().is_some() || trimmed.contains('#') {
            return Err(problem("it must have no query and no fragment"));
        }
        Arc::make_mut(&mut self.settings).base_url = Some(trimmed.to_owned());
        Ok(self)
    }

    /// How long the access tokens of the emulator's AuthKit live (default five minutes, as at
    /// WorkOS); at least one second, counted in whole seconds.
    pub fn with_access_token_lifetime(
        mut self,
        lifetime: Duration,
    ) -> Result<Emulator, EmulatorConfigError> {
        if lifetime.as_secs() == 0 {
            return Err(EmulatorConfigError::AccessTokenLifetime(lifetime));
        }
        Arc::make_mut(&mut self.settings).access_token_lifetime =
            Duration::from_secs(lifetime.as_secs());
        Ok(self)
    }

    /// How long a sign-in code may wait for its exchange (default ten minutes). Zero makes
    /// every code expired on arrival, which tests use.
    pub fn with_code_lifetime(mut self, lifetime: Duration) -> Emulator {
        Arc::make_mut(&mut self.settings).code_lifetime = lifetime;
        self
    }

    /// How long a spent refresh token still answers the pair it was exchanged for (default
    /// 30 s, WorkOS's replay grace period as it is quoted). Zero turns replays off: a spent
    /// token is then always `invalid_grant`.
    pub fn with_replay_window(mut self, window: Duration) -> Emulator {
        Arc::make_mut(&mut self.settings).replay_window = window;
        self
    }

    /// Replaces the idempotency memory with an empty one of these bounds.
    pub fn with_idempotency_limits(mut self, limits: IdempotencyLimits) -> Emulator {
        self.idempotency = Arc::new(Idempotency::new(limits));
        self
    }

    /// How much of the idempotency memory is in use.
    pub fn idempotency_usage(&self) -> IdempotencyUsage {
        self.idempotency.usage()
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
            .route("/user_management/users", post(create_user).get(list_users))
            .route("/user_management/users/{user_id}", get(get_user))
            .route("/_emulator/sessions", post(create_session))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(from_fn_with_state(self.clone(), replay_idempotent_posts))
            .layer(from_fn_with_state(self.clone(), require_api_key));
        // AuthKit's browser pages and its token endpoint: no API key (a browser has none; the
        // token endpoint checks its `client_secret`), no idempotency memory (codes and refresh
        // tokens are single use by their own rules).
        let authkit = Router::new()
            .route(
                "/user_management/authorize",
                get(authkit::authorize_page).post(authkit::authorize_submit),
            )
            .route("/user_management/authenticate", post(tokens::authenticate))
            .route("/user_management/sessions/logout", get(authkit::logout))
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        Router::new()
            .route("/sso/jwks/{client_id}", get(jwks))
            .merge(authkit)
            .merge(api)
            .layer(from_fn(trace_request))
            .with_state(self.clone())
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

/// Gives every response its `X-Request-ID` and logs one line per request: method, path,
/// status, time taken. Never the headers or the body (they carry the API key and the data).
async fn trace_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let mut path = request.uri().path().to_owned();
    if path.len() > LOGGED_PATH_MAX {
        let mut cut = LOGGED_PATH_MAX;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push('…');
    }
    let mut response = next.run(request).await;
    let id = format!("req_{}", crate::support::random_hex(12));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    tracing::info!(
        target: "workos_authz::emulator",
        request_id = %id,
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// `Authorization: Bearer sk_...`; the scheme is case-insensitive (RFC 9110 §11.1). With a
/// configured key, only that key.
async fn require_api_key(
    State(emulator): State<Emulator>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| emulator.accepts_key(key))
        .map(Arc::<str>::from);
    let Some(key) = key else {
        return ApiError::unauthorized().into_response();
    };
    request.extensions_mut().insert(ApiKey(key));
    next.run(request).await
}

/// Keyed POSTs: the body is read first, with no lock held; then the request waits for its key's
/// turn (only requests with the same key wait for each other), and is replayed, refused or run.
async fn replay_idempotent_posts(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let key = match request
        .headers()
        .get(&IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty() && key.len() <= idempotency::MAX_KEY_LENGTH)
    {
        Some(key) => key.to_owned(),
        None => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1 to {} visible ASCII characters",
                    idempotency::MAX_KEY_LENGTH
                ),
            )
            .into_response();
        }
    };
    let api_key = request
        .extensions()
        .get::<ApiKey>()
        .map(|key| key.0.clone())
        .unwrap_or_else(|| Arc::from(""));
    let scope = Scope::new(&api_key, Method::POST, request.uri().path(), &key);
    let query = request.uri().query().unwrap_or_default().to_owned();
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return api::too_large().into_response();
    };
    let print = idempotency::fingerprint(&query, &body);

    let turn = emulator.idempotency.turn(scope).await;
    match emulator.idempotency.lookup(&turn, &print, Instant::now()) {
        Lookup::Replay(answer) => {
            let mut response = json_response(answer.status, answer.body);
            response.headers_mut().insert(
                IDEMPOTENT_REPLAYED.clone(),
                HeaderValue::from_static("true"),
            );
            return response;
        }
        Lookup::Mismatch => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request; use a new key for a new request",
            )
            .into_response();
        }
        Lookup::Absent => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    if !status.is_success() {
        return response;
    }
    // The emulator's own answers are small JSON documents, already in memory.
    let body = match to_bytes(response.into_body(), MAX_BODY_BYTES * 4).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response_unreadable",
                "the response could not be read for idempotent replay",
            )
            .into_response();
        }
    };
    emulator.idempotency.keep(
        &turn,
        print,
        Answer {
            status,
            body: body.clone(),
        },
        Instant::now(),
    );
    json_response(status, body)
}

impl Emulator {
    /// Whether `key` is an API key this emulator accepts (constant time against a configured
    /// key).
    fn accepts_key(&self, key: &str) -> bool {
        match &self.settings.api_key {
            Some(expected) => aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                key.as_bytes(),
            )
            .is_ok(),
            None => key.len() > 3 && key.starts_with("sk_"),
        }
    }
}

fn json_response(status: StatusCode, body: axum::body::Bytes) -> Response {
    let has_body = !body.is_empty();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if has_body {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}
