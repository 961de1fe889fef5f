//! List and detail pages (issue 13): `accessible_resources`, `effective_permissions`,
//! `check_many` and `not_found_on_deny`, each scenario run against three authorities: a
//! loopback fake of WorkOS written here, the emulator through the WorkOS client, and the
//! embedded engine. A [`Gate`] in front of each counts, breaks and holds the calls it lets
//! through, so every scenario asserts the same things of all three.
//!
//! The model (the same on each): organization `org_1` with workspaces `ws_0`..`ws_4` and 250
//! projects `proj_000`..`proj_249`, the first 150 under `ws_0`. Alice may read all 250 (a
//! viewer role on `ws_0`, inherited, and on each of the other 100), and edit `proj_200`; Bob
//! may read `proj_000`..`proj_006`; Carol, in `org_big`, reads its 1,000 projects through
//! her organization-level role.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use workos_authz::check::{
    AccessibleResources, Authorizer, AuthorizerError, CachedAuthorizer, CheckFuture, CheckRequest,
    Decision, ListFuture, ListRequest, PermissionsFuture, PermissionsRequest, ResourceRef,
};
use workos_authz::emulator::Emulator;
use workos_authz::local::{LocalEngine, NewPermission, NewResource, NewRole};
use workos_authz::rejection::AuthzRejection;
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Session, require_permission};

use crate::common::*;

const READ: &str = "projects:read";
const EDIT: &str = "projects:edit";
const DELETE: &str = "projects:delete";
/// The deadline of every app here: short, so that the failure scenarios are quick.
const DEADLINE: Duration = Duration::from_millis(600);
/// What a 503 may take past the deadline.
const MARGIN: Duration = Duration::from_millis(150);

fn project(index: usize) -> String {
    format!("proj_{index:03}")
}

/// The 250 projects Alice may read, sorted: what her list must be, exactly.
fn alice_projects() -> Vec<String> {
    (0..250).map(project).collect()
}

// ----- the gate: counts, breaks and holds what reaches the authority --------------------------

/// How the gate answers lists and effective-permissions calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Up,
    /// This status with a WorkOS error body (429 with `Retry-After: 0`).
    Status(u16),
    /// Never answers.
    Hang,
    /// Answers once released (at most 10 s).
    Held,
    /// The first page answers; a page after a cursor is a 500: a walk that fails half-way.
    FailAfterFirstPage,
}

/// Why the gate did not let a call through.
#[derive(Debug)]
enum Refused {
    Status(u16),
}

#[derive(Default)]
struct GateState {
    mode: Option<Mode>,
    lists: Vec<String>,
    effective: usize,
    checks: usize,
    failing_check: Option<String>,
    hold_checks: bool,
    checks_in_flight: usize,
    max_checks_in_flight: usize,
}

struct Gate {
    state: Mutex<GateState>,
    released: watch::Sender<bool>,
    check_permits: Semaphore,
}

/// A held check's place in the count of checks in flight.
struct InFlight<'a>(&'a Gate);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.state.lock().unwrap().checks_in_flight -= 1;
    }
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(GateState::default()),
            released: watch::channel(false).0,
            check_permits: Semaphore::new(0),
        })
    }

    fn set_mode(&self, mode: Mode) {
        if mode == Mode::Held {
            self.released.send_replace(false);
        }
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Ends `Held`: the held calls answer, and so do the next ones.
    fn release(&self) {
        self.state.lock().unwrap().mode = Some(Mode::Up);
        self.released.send_replace(true);
    }

    fn lists(&self) -> usize {
        self.state.lock().unwrap().lists.len()
    }

    fn list_queries(&self) -> Vec<String> {
        self.state.lock().unwrap().lists.clone()
    }

    fn effective(&self) -> usize {
        self.state.lock().unwrap().effective
    }

    fn checks(&self) -> usize {
        self.state.lock().unwrap().checks
    }

    fn checks_in_flight(&self) -> usize {
        self.state.lock().unwrap().checks_in_flight
    }

    fn max_checks_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_checks_in_flight
    }

    fn fail_checks_on(&self, target: Option<&str>) {
        self.state.lock().unwrap().failing_check = target.map(str::to_owned);
    }

    fn hold_checks(&self, hold: bool) {
        self.state.lock().unwrap().hold_checks = hold;
    }

    fn release_one_check(&self) {
        self.check_permits.add_permits(1);
    }

    async fn apply(&self, mode: Mode, query: &str) -> Result<(), Refused> {
        match mode {
            Mode::Up => Ok(()),
            Mode::Status(status) => Err(Refused::Status(status)),
            Mode::Hang => std::future::pending().await,
            Mode::Held => {
                let mut released = self.released.subscribe();
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), released.wait_for(|r| *r)).await;
                Ok(())
            }
            Mode::FailAfterFirstPage if query.contains("after=") => Err(Refused::Status(500)),
            Mode::FailAfterFirstPage => Ok(()),
        }
    }

    /// One page of a list (WorkOS), or one whole list (the engine).
    async fn enter_list(&self, query: &str) -> Result<(), Refused> {
        let mode = {
            let mut state = self.state.lock().unwrap();
            state.lists.push(query.to_owned());
            state.mode.unwrap_or(Mode::Up)
        };
        self.apply(mode, query).await
    }

    async fn enter_effective(&self, query: &str) -> Result<(), Refused> {
        let mode = {
            let mut state = self.state.lock().unwrap();
            state.effective += 1;
            state.mode.unwrap_or(Mode::Up)
        };
        self.apply(mode, query).await
    }

    /// One check about `target` (its body, or the resource it names).
    async fn enter_check(&self, target: &str) -> Result<Option<InFlight<'_>>, Refused> {
        let hold = {
            let mut state = self.state.lock().unwrap();
            state.checks += 1;
            if state
                .failing_check
                .as_deref()
                .is_some_and(|failing| target.contains(failing))
            {
                return Err(Refused::Status(500));
            }
            if state.hold_checks {
                state.checks_in_flight += 1;
                state.max_checks_in_flight = state.max_checks_in_flight.max(state.checks_in_flight);
            }
            state.hold_checks
        };
        if !hold {
            return Ok(None);
        }
        let in_flight = InFlight(self);
        // Bounded: a test that never releases fails on its own assertions.
        if let Ok(Ok(permit)) =
            tokio::time::timeout(Duration::from_secs(10), self.check_permits.acquire()).await
        {
            permit.forget();
        }
        Ok(Some(in_flight))
    }
}

/// The gate as axum middleware in front of a WorkOS-speaking server.
async fn gate_http(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let under_membership = path.starts_with("/authorization/organization_memberships/");
    let refused = if under_membership && path.ends_with("/check") {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        match gate.enter_check(&String::from_utf8_lossy(&body)).await {
            Ok(in_flight) => {
                let response = next.run(Request::from_parts(parts, Body::from(body))).await;
                drop(in_flight);
                return response;
            }
            Err(refused) => refused,
        }
    } else if under_membership && path.ends_with("/permissions") {
        match gate.enter_effective(&query).await {
            Ok(()) => return next.run(request).await,
            Err(refused) => refused,
        }
    } else if under_membership && path.ends_with("/resources") {
        match gate.enter_list(&query).await {
            Ok(()) => return next.run(request).await,
            Err(refused) => refused,
        }
    } else {
        return next.run(request).await;
    };
    let Refused::Status(status) = refused;
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"message": "scripted failure", "code": "scripted"})),
    )
        .into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", "0".parse().unwrap());
    }
    response
}

// ----- backend 1: a fake WorkOS -------------------------------------------------------------

/// What the fake knows: per membership, its organization and the resources it may read (in
/// creation order, as WorkOS's resource objects), and the effective permissions it answers.
struct FakeData {
    memberships: HashMap<&'static str, (&'static str, Vec<Value>)>,
    effective: HashMap<(&'static str, String), Vec<String>>,
}

fn resource_json(
    organization: &str,
    resource_type: &str,
    external_id: &str,
    parent: Option<&str>,
) -> Value {
    json!({
        "object": "authorization_resource",
        "id": format!("authz_resource_{external_id}"),
        "external_id": external_id,
        "name": external_id.to_uppercase(),
        "resource_type_slug": resource_type,
        "organization_id": organization,
        "parent_resource_id": parent.map(|p| format!("authz_resource_{p}")),
    })
}

fn fake_data() -> FakeData {
    let mut alice = vec![resource_json("org_1", "workspace", "ws_0", None)];
    alice.extend((0..250).map(|i| {
        let parent = (i < 150).then_some("ws_0");
        resource_json("org_1", "project", &project(i), parent)
    }));
    let bob = (0..7)
        .map(|i| resource_json("org_1", "project", &project(i), Some("ws_0")))
        .collect();
    let carol = (0..1000)
        .map(|i| resource_json("org_big", "project", &format!("big_{i:04}"), None))
        .collect();
    let mut effective = HashMap::new();
    effective.insert(("om_a", project(200)), vec![READ.into(), EDIT.into()]);
    effective.insert(("om_a", project(202)), vec!["projects:*".into()]);
    effective.insert(
        ("om_a", project(203)),
        (0..120).map(|i| format!("custom:{i:03}")).collect(),
    );
    FakeData {
        memberships: HashMap::from([
            ("om_a", ("org_1", alice)),
            ("om_b", ("org_1", bob)),
            ("om_c", ("org_big", carol)),
        ]),
        effective,
    }
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("{what} not found"), "code": "entity_not_found"})),
    )
        .into_response()
}

/// One page of `items` as WorkOS pages: `limit` (default 10, at most 100) items after the
/// `after` cursor (an item id), and the next cursor while more remain.
fn page_of(items: &[Value], query: &HashMap<String, String>) -> Response {
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"message": "bad limit", "code": "invalid_limit"})),
            )
                .into_response();
        }
    };
    let start = match query.get("after") {
        None => 0,
        Some(after) => match items.iter().position(|item| item["id"] == after.as_str()) {
            Some(position) => position + 1,
            None => return not_found("cursor"),
        },
    };
    let end = (start + limit).min(items.len());
    let after = (end < items.len()).then(|| items[end - 1]["id"].clone());
    Json(json!({
        "object": "list",
        "data": &items[start..end],
        "list_metadata": {"before": null, "after": after},
    }))
    .into_response()
}

async fn fake_list(
    State(data): State<Arc<FakeData>>,
    Path(membership): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((organization, resources)) = data.memberships.get(membership.as_str()) else {
        return not_found("organization membership");
    };
    if query.get("permission_slug").map(String::as_str) != Some(READ) {
        return page_of(&[], &query);
    }
    let parent_id = match (
        query.get("parent_resource_id"),
        query.get("parent_resource_type_slug").map(String::as_str),
        query.get("parent_resource_external_id"),
    ) {
        (Some(id), None, None) => Some(id.clone()),
        (None, Some("organization"), Some(id)) if id == organization => None,
        (None, Some("organization"), Some(_)) => return not_found("parent resource"),
        (None, Some("workspace"), Some(id)) => Some(format!("authz_resource_{id}")),
        (None, Some(_), Some(_)) => return not_found("parent resource"),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "a parent is required", "code": "bad_request"})),
            )
                .into_response();
        }
    };
    let under: Vec<Value> = resources
        .iter()
        .filter(|r| {
            parent_id
                .as_ref()
                .is_none_or(|p| r["parent_resource_id"] == p.as_str())
        })
        .cloned()
        .collect();
    page_of(&under, &query)
}

async fn fake_effective(
    State(data): State<Arc<FakeData>>,
    Path((membership, _resource_type, external_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !data.memberships.contains_key(membership.as_str()) {
        return not_found("organization membership");
    }
    let slugs = data
        .memberships
        .get_key_value(membership.as_str())
        .and_then(|(om, _)| data.effective.get(&(*om, external_id.clone())))
        .cloned()
        .unwrap_or_else(|| vec![READ.to_owned()]);
    let permissions: Vec<Value> = slugs
        .iter()
        .map(|slug| {
            json!({"object": "permission", "id": format!("perm_{slug}"), "slug": slug,
            "name": slug, "resource_type_slug": "project", "system": false})
        })
        .collect();
    page_of(&permissions, &query)
}

async fn fake_check(
    State(data): State<Arc<FakeData>>,
    Path(membership): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let Some((om, (_, resources))) = data.memberships.get_key_value(membership.as_str()) else {
        return not_found("organization membership");
    };
    let (permission, external_id) = (
        body["permission_slug"].as_str().unwrap_or_default(),
        body["resource_external_id"].as_str().unwrap_or_default(),
    );
    let readable = resources.iter().any(|r| r["external_id"] == external_id);
    let effective = data.effective.get(&(*om, external_id.to_owned()));
    let authorized = (permission == READ && readable)
        || effective.is_some_and(|slugs| slugs.iter().any(|s| s == permission));
    Json(json!({ "authorized": authorized })).into_response()
}

async fn fake_workos(gate: &Arc<Gate>) -> String {
    let app = Router::new()
        .route(
            "/authorization/organization_memberships/{om}/resources",
            get(fake_list),
        )
        .route(
            "/authorization/organization_memberships/{om}/resources/{type}/{external_id}/permissions",
            get(fake_effective),
        )
        .route(
            "/authorization/organization_memberships/{om}/check",
            post(fake_check),
        )
        .with_state(Arc::new(fake_data()))
        .layer(axum::middleware::from_fn_with_state(gate.clone(), gate_http));
    format!("http://{}", serve(app).await)
}

// ----- backend 2 and 3: the engine, served by the emulator or asked directly ----------------

/// The model of this file on an engine; returns the memberships of Alice, Bob and Carol.
fn seed(engine: &LocalEngine) -> [String; 3] {
    for slug in [READ, EDIT, DELETE] {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine
        .create_environment_role(
            NewRole::new("viewer", "Viewer")
                .resource_type("project")
                .permissions([READ]),
        )
        .unwrap();
    engine
        .create_environment_role(
            NewRole::new("editor", "Editor")
                .resource_type("project")
                .permissions([READ, EDIT]),
        )
        .unwrap();
    engine
        .create_environment_role(NewRole::new("reader", "Reader").permissions([READ]))
        .unwrap();
    engine.create_organization_with_id("org_1", "One").unwrap();
    engine
        .create_organization_with_id("org_big", "Big")
        .unwrap();
    for workspace in 0..5 {
        let external_id = format!("ws_{workspace}");
        engine
            .create_resource(NewResource::new(
                "org_1",
                "workspace",
                &external_id,
                &external_id,
            ))
            .unwrap();
    }
    for i in 0..250 {
        let mut new = NewResource::new("org_1", "project", project(i), project(i));
        if i < 150 {
            new = new.parent(ResourceRef::external("workspace", "ws_0"));
        }
        engine.create_resource(new).unwrap();
    }
    for i in 0..1000 {
        let external_id = format!("big_{i:04}");
        engine
            .create_resource(NewResource::new(
                "org_big",
                "project",
                &external_id,
                &external_id,
            ))
            .unwrap();
    }
    let alice = engine
        .create_membership("user_alice", "org_1", &["member"])
        .unwrap()
        .id;
    let bob = engine
        .create_membership("user_bob", "org_1", &["member"])
        .unwrap()
        .id;
    let carol = engine
        .create_membership("user_carol", "org_big", &["reader"])
        .unwrap()
        .id;
    let assign = |membership: &str, role: &str, resource: ResourceRef| {
        engine.assign_role(membership, role, &resource).unwrap();
    };
    assign(&alice, "viewer", ResourceRef::external("workspace", "ws_0"));
    for i in 150..250 {
        assign(
            &alice,
            "viewer",
            ResourceRef::external("project", project(i)),
        );
    }
    assign(
        &alice,
        "editor",
        ResourceRef::external("project", project(200)),
    );
    for i in 0..7 {
        assign(&bob, "viewer", ResourceRef::external("project", project(i)));
    }
    [alice, bob, carol]
}

/// The engine behind the gate, as the authority of an `Authz`.
struct GatedEngine {
    engine: LocalEngine,
    gate: Arc<Gate>,
}

fn refused(Refused::Status(status): Refused) -> AuthorizerError {
    AuthorizerError::unavailable(format!("scripted failure {status}"))
}

impl Authorizer for GatedEngine {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        Box::pin(async move {
            let in_flight = self
                .gate
                .enter_check(&request.resource.to_string())
                .await
                .map_err(refused)?;
            let decision = Authorizer::check(&self.engine, request).await;
            drop(in_flight);
            decision
        })
    }

    fn resource_in_organization(
        &self,
        organization_id: &str,
        resource: &ResourceRef,
    ) -> Option<bool> {
        Authorizer::resource_in_organization(&self.engine, organization_id, resource)
    }

    fn accessible_resources<'a>(
        &'a self,
        request: &'a ListRequest,
        max_resources: usize,
    ) -> ListFuture<'a> {
        Box::pin(async move {
            // The engine answers a whole list at once: a failure half-way cannot happen.
            let query = format!("permission_slug={}", request.permission);
            self.gate.enter_list(&query).await.map_err(refused)?;
            Authorizer::accessible_resources(&self.engine, request, max_resources).await
        })
    }

    fn effective_permissions<'a>(
        &'a self,
        request: &'a PermissionsRequest,
    ) -> PermissionsFuture<'a> {
        Box::pin(async move {
            self.gate.enter_effective("").await.map_err(refused)?;
            Authorizer::effective_permissions(&self.engine, request).await
        })
    }
}

// ----- one setup per backend ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    FakeWorkOs,
    Emulator,
    Engine,
}

const BACKENDS: [Backend; 3] = [Backend::FakeWorkOs, Backend::Emulator, Backend::Engine];

/// An app on loopback whose authority is one backend, and the tokens of its users.
struct Setup {
    backend: Backend,
    gate: Arc<Gate>,
    authz: Authz,
    signer: TokenSigner,
    base: String,
    /// Requests that reached the `/projects` handler.
    arrived: Arc<AtomicUsize>,
    /// One client for every request of the test (building one costs tens of milliseconds).
    http: reqwest::Client,
    alice: String,
    bob: String,
    carol: String,
    memberships: [String; 3],
}

impl Setup {
    async fn start(backend: Backend) -> Setup {
        Setup::with(backend, 10_000, DEADLINE).await
    }

    /// For tests that hold calls at the authority while they count them: a deadline that
    /// no held call reaches, however busy the machine.
    async fn patient(backend: Backend) -> Setup {
        Setup::with(backend, 10_000, Duration::from_secs(30)).await
    }

    async fn with(backend: Backend, max_listed: usize, deadline: Duration) -> Setup {
        let gate = Gate::new();
        let (authorizer, memberships): (CachedAuthorizer, [String; 3]) = match backend {
            Backend::FakeWorkOs => {
                let base = fake_workos(&gate).await;
                let cached = CachedAuthorizer::builder(workos(&base).authorizer())
                    .max_listed_resources(max_listed)
                    .build();
                (cached, ["om_a".into(), "om_b".into(), "om_c".into()])
            }
            Backend::Emulator => {
                let engine = LocalEngine::new();
                let memberships = seed(&engine);
                let app =
                    Emulator::new(engine)
                        .router()
                        .layer(axum::middleware::from_fn_with_state(
                            gate.clone(),
                            gate_http,
                        ));
                let base = format!("http://{}", serve(app).await);
                let cached = CachedAuthorizer::builder(workos(&base).authorizer())
                    .max_listed_resources(max_listed)
                    .build();
                (cached, memberships)
            }
            Backend::Engine => {
                let engine = LocalEngine::new();
                let memberships = seed(&engine);
                let gated = GatedEngine {
                    engine,
                    gate: gate.clone(),
                };
                let cached = CachedAuthorizer::builder(gated)
                    .max_listed_resources(max_listed)
                    .build();
                (cached, memberships)
            }
        };
        let signer = TokenSigner::generate().unwrap();
        let authz = Authz::builder()
            .verifier(verifier_for(&signer))
            .cached_authorizer(authorizer)
            .upstream_timeout(deadline)
            .build()
            .unwrap();
        let arrived = Arc::new(AtomicUsize::new(0));
        let base = format!("http://{}", serve(app(&authz, arrived.clone())).await);
        let token = |user: &str, organization: &str, membership: &str| {
            signer
                .sign(
                    &SessionClaims::new(user)
                        .organization(organization)
                        .organization_membership(membership),
                )
                .unwrap()
        };
        let alice = token("user_alice", "org_1", &memberships[0]);
        let bob = token("user_bob", "org_1", &memberships[1]);
        let carol = token("user_carol", "org_big", &memberships[2]);
        Setup {
            backend,
            gate,
            authz,
            signer,
            base,
            arrived,
            http: client(),
            alice,
            bob,
            carol,
            memberships,
        }
    }

    /// A token of `user` with `permissions` in its claims (an organization-level role).
    fn token_with(&self, organization: &str, membership: &str, permissions: &[&str]) -> String {
        self.signer
            .sign(&member_claims(
                "user_x",
                organization,
                Some(membership),
                permissions,
            ))
            .unwrap()
    }

    /// Calls to the authority for one cold list of Alice's 250 projects: three pages of 100
    /// (with the workspace she also reads), or one engine query.
    fn walk(&self) -> usize {
        match self.backend {
            Backend::Engine => 1,
            _ => 3,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        get_bearer(&self.http, &format!("{}{path}", self.base), token).await
    }

    async fn delete(&self, path: &str, token: &str) -> Reply {
        send(
            client()
                .delete(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn session(&self, token: &str) -> Session {
        self.authz.verifier().verify(token).await.unwrap()
    }

    fn cache(&self) -> &CachedAuthorizer {
        self.authz.check_cache().unwrap()
    }
}

fn workos(base: &str) -> WorkOsClient {
    WorkOsClient::builder("sk_test_pages")
        .base_url(base)
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET /projects` (the organization's) and `GET /workspaces/{ws}/projects` answer the list
/// (`{"all": true}` or `{"ids": [...]}`); `GET /under/{resource_id}/projects` names the parent
/// by WorkOS id; `/projects/{id}` is guarded by `projects:read` (GET) and `projects:delete`
/// (DELETE); `/projects/{id}/permissions` answers the effective permissions; `/hidden/...`
/// are guards with `not_found_on_deny` on each binding. The outermost layer reports in
/// `x-server-elapsed-us` how long the server took.
fn app(authz: &Authz, arrived: Arc<AtomicUsize>) -> Router {
    let ok = || async { "ok" };
    Router::new()
        .route(
            "/projects",
            get(move |authz: Authz, session: Session| {
                arrived.fetch_add(1, Ordering::SeqCst);
                async move {
                    listed(
                        &authz,
                        authz
                            .accessible_resources(&session, READ, "project", None)
                            .await,
                    )
                }
            }),
        )
        .route(
            "/workspaces/{ws}/projects",
            get(
                async |authz: Authz, Path(ws): Path<String>, session: Session| {
                    let parent = ResourceRef::external("workspace", ws);
                    listed(
                        &authz,
                        authz
                            .accessible_resources(&session, READ, "project", Some(&parent))
                            .await,
                    )
                },
            ),
        )
        .route(
            "/under/{resource_id}/projects",
            get(
                async |authz: Authz, Path(id): Path<String>, session: Session| {
                    let parent = ResourceRef::id(id);
                    listed(
                        &authz,
                        authz
                            .accessible_resources(&session, READ, "project", Some(&parent))
                            .await,
                    )
                },
            ),
        )
        .route(
            "/projects/{project_id}",
            get(ok)
                .route_layer(require_permission(READ).on_resource("project", "project_id"))
                .merge(
                    delete(ok).route_layer(
                        require_permission(DELETE).on_resource("project", "project_id"),
                    ),
                ),
        )
        .route(
            "/projects/{project_id}/permissions",
            get(
                async |authz: Authz, Path(id): Path<String>, session: Session| {
                    let resource = ResourceRef::external("project", id);
                    match authz.effective_permissions(&session, &resource).await {
                        Ok(set) => Json(json!({ "permissions": set.slugs() })).into_response(),
                        Err(rejection) => authz.reject(&rejection),
                    }
                },
            ),
        )
        .route(
            "/hidden/{project_id}",
            get(ok).route_layer(
                require_permission(READ)
                    .on_resource("project", "project_id")
                    .not_found_on_deny(),
            ),
        )
        .route(
            "/hidden-by-id/{resource_id}",
            get(ok).route_layer(
                require_permission(READ)
                    .on_resource_id("resource_id")
                    .not_found_on_deny(),
            ),
        )
        .route(
            "/hidden-by-resolver/{name}",
            get(ok).route_layer(
                require_permission(READ)
                    .on_resource_with(|context: workos_authz::guard::ResourceContext| async move {
                        let name = context.param("name").unwrap_or_default().to_owned();
                        Ok(ResourceRef::external("project", name))
                    })
                    .not_found_on_deny(),
            ),
        )
        .route(
            "/hidden-claims",
            get(ok).route_layer(require_permission(DELETE).not_found_on_deny()),
        )
        .layer(authz.layer())
        .layer(axum::middleware::from_fn(
            async |request: Request, next: Next| {
                let started = Instant::now();
                let mut response = next.run(request).await;
                let elapsed = started.elapsed().as_micros().to_string();
                response
                    .headers_mut()
                    .insert("x-server-elapsed-us", elapsed.parse().unwrap());
                response
            },
        ))
}

fn listed(authz: &Authz, answer: Result<AccessibleResources, AuthzRejection>) -> Response {
    match answer {
        Ok(resources) => match resources.only() {
            None => Json(json!({ "all": true })).into_response(),
            Some(set) => Json(json!({
                "all": false,
                "ids": set.external_ids(),
                "resource_ids": set.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            }))
            .into_response(),
        },
        Err(rejection) => authz.reject(&rejection),
    }
}

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["all"], false, "{body}");
    serde_json::from_value(body["ids"].clone()).unwrap()
}

fn assert_unavailable_within_deadline(reply: &Reply, context: &str) {
    assert_problem(reply, 503, context);
    let elapsed = Duration::from_micros(
        reply
            .header("x-server-elapsed-us")
            .and_then(|value| value.parse().ok())
            .expect("the timing layer ran"),
    );
    assert!(
        elapsed <= DEADLINE + MARGIN,
        "{context}: answered after {elapsed:?}"
    );
}

// ----- accessible resources -------------------------------------------------------------------

/// A cold list is read page by page to the end (`limit=100`, each page after the previous
/// page's cursor), holds exactly the 250 projects (not the workspace, another type), and is
/// then served from the cache.
#[tokio::test]
async fn a_cold_list_is_read_to_the_end_then_served_from_the_cache() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let reply = setup.get("/projects", &setup.alice).await;
        assert_eq!(ids(&reply), alice_projects(), "{backend:?}");
        assert_eq!(setup.gate.lists(), setup.walk(), "{backend:?}");
        if backend != Backend::Engine {
            let queries = setup.gate.list_queries();
            for (page, query) in queries.iter().enumerate() {
                assert!(query.contains("limit=100"), "{backend:?}: {query}");
                assert!(query.contains("permission_slug=projects%3Aread"), "{query}");
                assert!(
                    query.contains("parent_resource_type_slug=organization")
                        && query.contains("parent_resource_external_id=org_1"),
                    "{query}"
                );
                assert_eq!(query.contains("after="), page > 0, "{backend:?}: {query}");
            }
            assert_ne!(queries[1], queries[2], "each page after a new cursor");
        }
        let again = setup.get("/projects", &setup.alice).await;
        assert_eq!(ids(&again), alice_projects());
        assert_eq!(
            setup.gate.lists(),
            setup.walk(),
            "{backend:?}: served from the cache"
        );
        // The resources' WorkOS ids come with them.
        assert!(
            reply.json()["resource_ids"][0]
                .as_str()
                .is_some_and(|id| id.starts_with("authz_resource_")),
            "{backend:?}"
        );
    }
}

/// A project under a workspace is found through its parent: the list under `ws_0` is the 150
/// projects Alice reads there (through her role on the workspace).
#[tokio::test]
async fn a_list_under_a_workspace_holds_its_projects() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let reply = setup.get("/workspaces/ws_0/projects", &setup.alice).await;
        let expected: Vec<String> = (0..150).map(project).collect();
        assert_eq!(ids(&reply), expected, "{backend:?}");
        let bob = setup.get("/workspaces/ws_0/projects", &setup.bob).await;
        assert_eq!(
            ids(&bob),
            (0..7).map(project).collect::<Vec<_>>(),
            "{backend:?}"
        );
    }
}

/// A cold list of 1,000 resources is ten calls of 100.
#[tokio::test]
async fn a_cold_list_of_a_thousand_is_ten_calls() {
    for backend in [Backend::FakeWorkOs, Backend::Emulator] {
        let setup = Setup::start(backend).await;
        let reply = setup.get("/projects", &setup.carol).await;
        assert_eq!(ids(&reply).len(), 1000, "{backend:?}");
        assert_eq!(setup.gate.lists(), 10, "{backend:?}");
    }
}

/// Fifty concurrent cold requests make one walk, and all get the whole list.
#[tokio::test]
async fn fifty_concurrent_cold_requests_make_one_walk() {
    for backend in BACKENDS {
        let setup = Arc::new(Setup::patient(backend).await);
        setup.gate.set_mode(Mode::Held);
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let setup = setup.clone();
            requests.spawn(async move { setup.get("/projects", &setup.alice).await });
        }
        // Every request is in its handler, and the walk's first call is held.
        assert!(
            poll_until(
                async || setup.arrived.load(Ordering::SeqCst) == 50 && setup.gate.lists() == 1
            )
            .await,
            "{backend:?}: arrived {}",
            setup.arrived.load(Ordering::SeqCst)
        );
        setup.gate.release();
        while let Some(reply) = requests.join_next().await {
            assert_eq!(ids(&reply.unwrap()), alice_projects(), "{backend:?}");
        }
        assert_eq!(
            setup.gate.lists(),
            setup.walk(),
            "{backend:?}: one walk for fifty"
        );
    }
}

/// The token's own permissions answer `All` with no call: under the organization and under a
/// parent named by external id. A parent named by a raw WorkOS id could belong to another
/// organization: a remote authority is asked.
#[tokio::test]
async fn the_token_fast_path_makes_no_call() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let admin = setup.token_with("org_1", &setup.memberships[0], &[READ]);
        for path in ["/projects", "/workspaces/ws_0/projects"] {
            let reply = setup.get(path, &admin).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.json(), json!({ "all": true }), "{backend:?} {path}");
        }
        assert_eq!(setup.gate.lists(), 0, "{backend:?}");
        // A token without the permission is asked for.
        let other = setup.token_with("org_1", &setup.memberships[0], &[EDIT]);
        assert_eq!(ids(&setup.get("/projects", &other).await).len(), 250);
        assert_eq!(setup.gate.lists(), setup.walk(), "{backend:?}");
    }
    let setup = Setup::start(Backend::FakeWorkOs).await;
    let admin = setup.token_with("org_1", "om_a", &[READ]);
    let reply = setup
        .get("/under/authz_resource_ws_0/projects", &admin)
        .await;
    assert_eq!(ids(&reply).len(), 150, "{reply:?}");
    assert_eq!(setup.gate.lists(), 2);
}

/// Two memberships, or two organizations, never share an entry: each has its own walk, and
/// the session of another organization does not see Alice's list.
#[tokio::test]
async fn memberships_and_organizations_never_share_an_entry() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        assert_eq!(ids(&setup.get("/projects", &setup.alice).await).len(), 250);
        let after_alice = setup.gate.lists();
        let bob = ids(&setup.get("/projects", &setup.bob).await);
        assert_eq!(bob, (0..7).map(project).collect::<Vec<_>>(), "{backend:?}");
        assert_eq!(
            setup.gate.lists(),
            after_alice + 1,
            "{backend:?}: bob's own call"
        );
        // Alice's membership id in a token of another organization: its own entry, and the
        // authority lists nothing of org_1 for it.
        let elsewhere = setup.token_with("org_2", &setup.memberships[0], &[]);
        assert_eq!(
            ids(&setup.get("/projects", &elsewhere).await),
            Vec::<String>::new()
        );
        assert_eq!(
            setup.gate.lists(),
            after_alice + 2,
            "{backend:?}: its own call"
        );
        assert_eq!(ids(&setup.get("/projects", &setup.alice).await).len(), 250);
        assert_eq!(
            setup.gate.lists(),
            after_alice + 2,
            "{backend:?}: alice's entry kept"
        );
    }
}

/// 500, 429, a hang, and a walk that fails after its first page: 503 within the deadline,
/// never a partial list, and nothing cached (the next request walks again).
#[tokio::test]
async fn failures_are_503_within_the_deadline_and_nothing_is_cached() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let mut modes = vec![Mode::Status(500), Mode::Status(429), Mode::Hang];
        if backend != Backend::Engine {
            modes.push(Mode::FailAfterFirstPage);
        }
        for mode in modes {
            setup.cache().invalidate_all();
            setup.gate.set_mode(mode);
            let reply = setup.get("/projects", &setup.alice).await;
            assert_unavailable_within_deadline(&reply, &format!("{backend:?} {mode:?}"));
            setup.gate.set_mode(Mode::Up);
            let before = setup.gate.lists();
            let reply = setup.get("/projects", &setup.alice).await;
            assert_eq!(ids(&reply), alice_projects(), "{backend:?} {mode:?}");
            assert_eq!(
                setup.gate.lists(),
                before + setup.walk(),
                "{backend:?} {mode:?}"
            );
        }
    }
}

/// A list longer than the maximum is an error (500, naming the setting), never a shorter list.
#[tokio::test]
async fn a_list_past_the_maximum_is_an_error_not_a_shorter_list() {
    for backend in BACKENDS {
        let setup = Setup::with(backend, 200, DEADLINE).await;
        let reply = setup.get("/projects", &setup.alice).await;
        assert_problem(&reply, 500, &format!("{backend:?}"));
        assert!(
            reply.body.contains("max_listed_resources"),
            "{}",
            reply.body
        );
        // Bob's seven fit.
        assert_eq!(ids(&setup.get("/projects", &setup.bob).await).len(), 7);
    }
}

/// Invalidations that drop decisions drop lists: the membership, the organization, a
/// resource the list holds, all; another membership's keeps them.
#[tokio::test]
async fn lists_are_dropped_by_the_invalidations_of_decisions() {
    let setup = Setup::start(Backend::Engine).await;
    let cache = setup.cache();
    let (alice, bob) = (setup.memberships[0].clone(), setup.memberships[1].clone());
    // (what, the invalidation, whether it drops Alice's list)
    type Invalidation<'a> = (&'static str, Box<dyn Fn() + 'a>, bool);
    let invalidations: Vec<Invalidation<'_>> = vec![
        (
            "membership",
            Box::new(move || cache.invalidate_membership(&alice)),
            true,
        ),
        (
            "organization",
            Box::new(|| cache.invalidate_organization("org_1")),
            true,
        ),
        (
            "a resource it holds",
            Box::new(|| cache.invalidate_resource(&ResourceRef::external("project", project(3)))),
            true,
        ),
        ("everything", Box::new(|| cache.invalidate_all()), true),
        (
            "another membership",
            Box::new(move || cache.invalidate_membership(&bob)),
            false,
        ),
        (
            "another organization",
            Box::new(|| cache.invalidate_organization("org_big")),
            false,
        ),
    ];
    for (what, invalidate, drops) in invalidations {
        cache.invalidate_all();
        let before = setup.gate.lists();
        assert_eq!(ids(&setup.get("/projects", &setup.alice).await).len(), 250);
        assert_eq!(setup.gate.lists(), before + 1, "{what}: a cold list");
        invalidate();
        assert_eq!(ids(&setup.get("/projects", &setup.alice).await).len(), 250);
        let expected = before + 1 + usize::from(drops);
        assert_eq!(setup.gate.lists(), expected, "{what}: dropped? {drops}");
    }
}

/// Bad input is a clear 400, never a panic and never a call.
#[tokio::test]
async fn bad_list_input_is_refused_before_any_call() {
    let setup = Setup::start(Backend::Engine).await;
    let session = setup.session(&setup.alice).await;
    for (permission, resource_type, parent) in [
        ("projects read", "project", None),
        (READ, "Project", None),
        (
            READ,
            "project",
            Some(ResourceRef::external("workspace", "a\nb")),
        ),
        (READ, "project", Some(ResourceRef::id(""))),
    ] {
        let refused = setup
            .authz
            .accessible_resources(&session, permission, resource_type, parent.as_ref())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, AuthzRejection::BadRequest(_)),
            "{refused:?}"
        );
    }
    let no_organization = setup.signer.sign(&SessionClaims::new("user_x")).unwrap();
    let session = setup.session(&no_organization).await;
    let refused = setup
        .authz
        .accessible_resources(&session, READ, "project", None)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 403);
    assert_eq!(setup.gate.lists(), 0);
}

// ----- effective permissions --------------------------------------------------------------

/// The detail page's permission set is one call, cached; and it answers the guards on that
/// resource afterwards with no `check` call: what it holds is an allow, what it omits a deny.
#[tokio::test]
async fn effective_permissions_answer_later_guards_without_a_check() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let path = format!("/projects/{}", project(200));
        let reply = setup
            .get(&format!("{path}/permissions"), &setup.alice)
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.json(),
            json!({ "permissions": [EDIT, READ] }),
            "{backend:?}"
        );
        assert_eq!(setup.gate.effective(), 1);
        let again = setup
            .get(&format!("{path}/permissions"), &setup.alice)
            .await;
        assert_eq!(again.json()["permissions"], json!([EDIT, READ]));
        assert_eq!(setup.gate.effective(), 1, "{backend:?}: cached");

        assert_eq!(
            setup.get(&path, &setup.alice).await.status,
            200,
            "{backend:?}"
        );
        assert_forbidden(
            &setup.delete(&path, &setup.alice).await,
            "delete is omitted",
        );
        assert_eq!(
            setup.gate.checks(),
            0,
            "{backend:?}: the set answered both guards"
        );

        // Dropped with the membership's decisions: the guard asks again.
        setup.cache().invalidate_membership(&setup.memberships[0]);
        assert_eq!(setup.get(&path, &setup.alice).await.status, 200);
        assert_eq!(setup.gate.checks(), 1, "{backend:?}");
        // Another resource is not answered by this set.
        assert_eq!(
            setup
                .get(&format!("/projects/{}", project(201)), &setup.alice)
                .await
                .status,
            200
        );
        assert_eq!(setup.gate.checks(), 2, "{backend:?}");
    }
}

/// A set with a wildcard slug answers only what it holds: `projects:read` is still checked.
/// A set longer than one page is read to the end.
#[tokio::test]
async fn a_wildcard_set_answers_only_what_it_holds_and_long_sets_are_read_to_the_end() {
    let setup = Setup::start(Backend::FakeWorkOs).await;
    let reply = setup
        .get(
            &format!("/projects/{}/permissions", project(202)),
            &setup.alice,
        )
        .await;
    assert_eq!(reply.json(), json!({ "permissions": ["projects:*"] }));
    assert_eq!(
        setup
            .get(&format!("/projects/{}", project(202)), &setup.alice)
            .await
            .status,
        200
    );
    assert_eq!(
        setup.gate.checks(),
        1,
        "the wildcard set did not answer projects:read"
    );

    let reply = setup
        .get(
            &format!("/projects/{}/permissions", project(203)),
            &setup.alice,
        )
        .await;
    assert_eq!(reply.json()["permissions"].as_array().unwrap().len(), 120);
    assert_eq!(
        setup.gate.effective(),
        3,
        "one call for the wildcard set, two pages for 120"
    );
}

/// An unreachable authority is 503 for the permission set too, and nothing is cached.
#[tokio::test]
async fn effective_permissions_fail_closed() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let path = format!("/projects/{}/permissions", project(200));
        for mode in [Mode::Status(500), Mode::Hang] {
            setup.gate.set_mode(mode);
            let reply = setup.get(&path, &setup.alice).await;
            assert_unavailable_within_deadline(&reply, &format!("{backend:?} {mode:?}"));
        }
        setup.gate.set_mode(Mode::Up);
        let before = setup.gate.effective();
        assert_eq!(setup.get(&path, &setup.alice).await.status, 200);
        assert_eq!(
            setup.gate.effective(),
            before + 1,
            "{backend:?}: nothing was cached"
        );
        // Nothing was seeded from the failures either.
        assert_eq!(setup.gate.checks(), 0);
    }
}

// ----- check_many -----------------------------------------------------------------------------

/// Twenty resources and duplicates: one call per distinct pair, the answers in input order,
/// and the one failing pair (both of its entries) unavailable while the others are answered.
/// Asked again, only the failed pair is asked again: errors are not cached.
#[tokio::test]
async fn check_many_keeps_order_asks_duplicates_once_and_isolates_a_failure() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        setup.gate.fail_checks_on(Some(&project(13)));
        let session = setup.session(&setup.bob).await;
        let mut pairs: Vec<(&str, ResourceRef)> = (0..20)
            .map(|i| (READ, ResourceRef::external("project", project(i))))
            .collect();
        for duplicate in [3, 13, 0, 19, 13] {
            pairs.push((READ, ResourceRef::external("project", project(duplicate))));
        }
        let answers = setup
            .authz
            .check_many(&session, pairs.clone())
            .await
            .unwrap();
        assert_eq!(answers.len(), 25);
        for ((_, resource), answer) in pairs.iter().zip(&answers) {
            let ResourceRef::External { external_id, .. } = resource else {
                unreachable!()
            };
            let index: usize = external_id[5..].parse().unwrap();
            match index {
                13 => assert!(
                    matches!(answer, Err(AuthzRejection::Unavailable(_))),
                    "{backend:?}: {answer:?}"
                ),
                0..7 => assert_eq!(answer, &Ok(Decision::Allow), "{backend:?} {index}"),
                _ => assert_eq!(answer, &Ok(Decision::Deny), "{backend:?} {index}"),
            }
        }
        assert_eq!(
            setup.gate.checks(),
            20,
            "{backend:?}: one check per distinct pair"
        );

        setup.gate.fail_checks_on(None);
        let answers = setup
            .authz
            .check_many(&session, pairs.clone())
            .await
            .unwrap();
        assert!(
            answers.iter().all(Result::is_ok),
            "{backend:?}: {answers:?}"
        );
        assert_eq!(answers[13], Ok(Decision::Deny));
        assert_eq!(
            setup.gate.checks(),
            21,
            "{backend:?}: only the failed pair again"
        );
    }
}

/// Several permissions on one resource are one effective-permissions call (which then answers
/// the guards too); a resource with one permission is one check; the claims answer the pairs
/// they hold with no call; bad input is that entry's 400.
#[tokio::test]
async fn check_many_asks_a_resource_with_several_permissions_for_its_set() {
    for backend in BACKENDS {
        let setup = Setup::start(backend).await;
        let token = setup.token_with("org_1", &setup.memberships[0], &["projects:archive"]);
        let session = setup.session(&token).await;
        let apollo = ResourceRef::external("project", project(200));
        let answers = setup
            .authz
            .check_many(
                &session,
                [
                    (READ, apollo.clone()),
                    (EDIT, apollo.clone()),
                    (DELETE, apollo.clone()),
                    (READ, ResourceRef::external("project", project(201))),
                    (
                        "projects:archive",
                        ResourceRef::external("project", project(5)),
                    ),
                    ("not a slug", apollo.clone()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            &answers[..5],
            &[
                Ok(Decision::Allow),
                Ok(Decision::Allow),
                Ok(Decision::Deny),
                Ok(Decision::Allow),
                Ok(Decision::Allow),
            ],
            "{backend:?}"
        );
        assert!(
            matches!(answers[5], Err(AuthzRejection::BadRequest(_))),
            "{:?}",
            answers[5]
        );
        assert_eq!(
            (setup.gate.effective(), setup.gate.checks()),
            (1, 1),
            "{backend:?}"
        );
        // The set answers the guard on the same resource.
        assert_forbidden(
            &setup
                .delete(&format!("/projects/{}", project(200)), &setup.alice)
                .await,
            "delete",
        );
        assert_eq!(setup.gate.checks(), 1, "{backend:?}");
    }
}

/// Twenty cold pairs, each held at the authority: at most eight in flight at once.
#[tokio::test]
async fn check_many_asks_at_most_eight_at_once() {
    for backend in BACKENDS {
        let setup = Arc::new(Setup::patient(backend).await);
        setup.gate.hold_checks(true);
        let session = setup.session(&setup.bob).await;
        let batch = {
            let setup = setup.clone();
            tokio::spawn(async move {
                let pairs = (0..20).map(|i| (READ, ResourceRef::external("project", project(i))));
                setup.authz.check_many(&session, pairs).await
            })
        };
        for released in 0..20 {
            let expected = (20 - released).min(8);
            assert!(
                poll_until(async || setup.gate.checks_in_flight() == expected).await,
                "{backend:?}: {} in flight, expected {expected}",
                setup.gate.checks_in_flight()
            );
            setup.gate.release_one_check();
        }
        let answers = batch.await.unwrap().unwrap();
        assert_eq!(
            answers
                .iter()
                .filter(|a| **a == Ok(Decision::Allow))
                .count(),
            7
        );
        assert_eq!(setup.gate.max_checks_in_flight(), 8, "{backend:?}");
        assert_eq!(setup.gate.checks(), 20);
    }
}

/// A batch's miss joins a guard's check in flight for the same pair: one call for both.
#[tokio::test]
async fn check_many_coalesces_with_concurrent_guards() {
    for backend in BACKENDS {
        let setup = Arc::new(Setup::patient(backend).await);
        setup.gate.hold_checks(true);
        let guard = {
            let setup = setup.clone();
            tokio::spawn(async move {
                setup
                    .get(&format!("/projects/{}", project(3)), &setup.bob)
                    .await
            })
        };
        assert!(poll_until(async || setup.gate.checks_in_flight() == 1).await);
        let session = setup.session(&setup.bob).await;
        let batch = {
            let setup = setup.clone();
            tokio::spawn(async move {
                setup
                    .authz
                    .check_many(
                        &session,
                        [(READ, ResourceRef::external("project", project(3)))],
                    )
                    .await
            })
        };
        assert!(
            poll_until(async || setup.cache().stats().coalesced == 1).await,
            "{backend:?}: {:?}",
            setup.cache().stats()
        );
        setup.gate.release_one_check();
        assert_eq!(guard.await.unwrap().status, 200);
        assert_eq!(batch.await.unwrap().unwrap(), [Ok(Decision::Allow)]);
        assert_eq!(
            setup.gate.checks(),
            1,
            "{backend:?}: one call for the guard and the batch"
        );
    }
}

// ----- not_found_on_deny ----------------------------------------------------------------------

/// A denied resource and a missing one answer the same 404, on each binding; an allowed one
/// passes; a claims guard hides the same way; an unavailable authority is still 503.
#[tokio::test]
async fn not_found_on_deny_answers_denied_and_missing_resources_alike() {
    let setup = Setup::start(Backend::Engine).await;
    let denied = setup
        .get(&format!("/hidden/{}", project(10)), &setup.bob)
        .await;
    let missing = setup.get("/hidden/proj_nope", &setup.bob).await;
    for reply in [&denied, &missing] {
        assert_problem(reply, 404, "hidden");
        assert_eq!(reply.header("www-authenticate"), None, "{reply:?}");
        assert!(
            !reply.body.contains(READ),
            "names no permission: {}",
            reply.body
        );
    }
    assert_eq!(denied.body, missing.body, "the same answer");
    assert_eq!(
        setup
            .get(&format!("/hidden/{}", project(1)), &setup.bob)
            .await
            .status,
        200
    );
    // The same through a resolver.
    let resolved = setup
        .get(&format!("/hidden-by-resolver/{}", project(10)), &setup.bob)
        .await;
    assert_eq!(
        (resolved.status, resolved.body.as_str()),
        (404, denied.body.as_str())
    );
    assert_eq!(
        setup
            .get(&format!("/hidden-by-resolver/{}", project(1)), &setup.bob)
            .await
            .status,
        200
    );
    // And by WorkOS id: the id of a resource in another organization, and a made-up one.
    let alice_list = setup.get("/projects", &setup.alice).await.json();
    let allowed_id = alice_list["resource_ids"][0].as_str().unwrap().to_owned();
    let carol_list = setup.get("/projects", &setup.carol).await.json();
    let foreign_id = carol_list["resource_ids"][0].as_str().unwrap().to_owned();
    assert_eq!(
        setup
            .get(&format!("/hidden-by-id/{allowed_id}"), &setup.alice)
            .await
            .status,
        200
    );
    for id in [foreign_id.as_str(), "authz_resource_nope"] {
        let reply = setup
            .get(&format!("/hidden-by-id/{id}"), &setup.alice)
            .await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (404, denied.body.as_str()),
            "{id}"
        );
    }
    // A claims guard.
    assert_problem(
        &setup.get("/hidden-claims", &setup.bob).await,
        404,
        "claims",
    );
    let deleter = setup.token_with("org_1", &setup.memberships[1], &[DELETE]);
    assert_eq!(setup.get("/hidden-claims", &deleter).await.status, 200);
    // Not every refusal is a deny.
    setup.gate.fail_checks_on(Some(&project(20)));
    let unavailable = setup
        .get(&format!("/hidden/{}", project(20)), &setup.bob)
        .await;
    assert_problem(&unavailable, 503, "unavailable stays 503");
}
