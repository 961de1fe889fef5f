//! The decision cache behind resource-scoped guards, at a loopback upstream of the test's own
//! that speaks WorkOS's `check` endpoint: coalescing of concurrent misses, a client that
//! disconnects, failure modes (fail closed with 503 within the timeout), `stale_if_error`, and
//! tenant isolation (a proptest against a reference authority).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path as AxumPath, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use workos_authz::check::{
    Authorizer, CachedAuthorizer, CheckFuture, CheckRequest, Decision, ResourceRef,
};
use workos_authz::guard::AuthorizedResource;
use workos_authz::session::TokenSigner;
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Session, require_permission};

use crate::common::*;

const CHECK_PATH: &str = "/authorization/organization_memberships/{om}/check";

/// How the scripted upstream answers a check.
#[derive(Clone, Debug)]
enum Answer {
    /// `{"authorized": <bool>}` at once.
    Authorized(bool),
    /// `{"authorized": true}` once the test releases it (at most 10 s, then 500).
    HeldAllow,
    /// This status with a WorkOS-like error body, and these headers.
    Status(u16, Vec<(&'static str, &'static str)>),
    /// Never answers.
    Hang,
    /// 200 with this body.
    Raw(&'static str),
    /// This status with a plain-text body: no WorkOS answer (a wrong base URL, a proxy page).
    Bare(u16),
}

/// One check the upstream received.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Asked {
    membership: String,
    body: String,
}

#[derive(Clone)]
struct Upstream {
    calls: Arc<AtomicUsize>,
    asked: Arc<Mutex<Vec<Asked>>>,
    answer: Arc<Mutex<Answer>>,
    release: Arc<watch::Sender<bool>>,
    /// `GET /user_management/organization_memberships`: the `data` it answers (or 500 when
    /// `None`) and the query of every lookup.
    memberships: Arc<Mutex<Option<Value>>>,
    lookups: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    async fn start(answer: Answer) -> (String, Upstream) {
        let upstream = Upstream {
            calls: Arc::new(AtomicUsize::new(0)),
            asked: Arc::new(Mutex::new(Vec::new())),
            answer: Arc::new(Mutex::new(answer)),
            release: Arc::new(watch::channel(false).0),
            memberships: Arc::new(Mutex::new(None)),
            lookups: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route(CHECK_PATH, post(answer_check))
            .route(
                "/user_management/organization_memberships",
                get(list_memberships),
            )
            .with_state(upstream.clone());
        (format!("http://{}", serve(app).await), upstream)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn release(&self) {
        self.release.send_replace(true);
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

async fn list_memberships(State(upstream): State<Upstream>, uri: axum::http::Uri) -> Response {
    upstream
        .lookups
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or_default().to_owned());
    let data = upstream.memberships.lock().unwrap().clone();
    match data {
        Some(data) => Json(json!({
            "object": "list",
            "data": data,
            "list_metadata": {"before": null, "after": null},
        }))
        .into_response(),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"message": "down"})),
        )
            .into_response(),
    }
}

async fn answer_check(
    State(upstream): State<Upstream>,
    AxumPath(membership): AxumPath<String>,
    body: Bytes,
) -> Response {
    upstream.asked.lock().unwrap().push(Asked {
        membership,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    upstream.calls.fetch_add(1, Ordering::SeqCst);
    let answer = upstream.answer.lock().unwrap().clone();
    match answer {
        Answer::Authorized(authorized) => Json(json!({ "authorized": authorized })).into_response(),
        Answer::HeldAllow => {
            let mut released = upstream.release.subscribe();
            match tokio::time::timeout(Duration::from_secs(10), released.wait_for(|r| *r)).await {
                Ok(Ok(_)) => Json(json!({ "authorized": true })).into_response(),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "never released").into_response(),
            }
        }
        Answer::Status(status, headers) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                Json(json!({"message": "scripted failure", "code": "scripted"})),
            )
                .into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Answer::Hang => std::future::pending().await,
        Answer::Raw(body) => ([("content-type", "application/json")], body).into_response(),
        Answer::Bare(status) => {
            (StatusCode::from_u16(status).unwrap(), "Not Found").into_response()
        }
    }
}

/// A raw TCP server that accepts connections and drops them at once (connection reset),
/// counting accepts.
async fn resetting_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        // Bounded: no test opens more than a few hundred connections.
        for _ in 0..1000 {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            // SO_LINGER 0: the drop sends RST rather than FIN.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    (format!("http://{address}"), accepted)
}

fn workos_client(base: &str, max_retries: u32) -> WorkOsClient {
    WorkOsClient::builder("sk_test_resource_cache")
        .base_url(base)
        .timeout(Duration::from_secs(10))
        .max_retries(max_retries)
        .build()
        .expect("client")
}

/// The key the signer of every app in this file uses.
fn signer() -> &'static TokenSigner {
    static SIGNER: OnceLock<TokenSigner> = OnceLock::new();
    SIGNER.get_or_init(|| TokenSigner::generate().expect("key"))
}

fn token(organization: &str, membership: &str) -> String {
    signer()
        .sign(&member_claims(
            "user_x",
            organization,
            Some(membership),
            &[],
        ))
        .expect("sign")
}

async fn show(Extension(allowed): Extension<AuthorizedResource>) -> Json<Value> {
    Json(json!({
        "organization_id": allowed.organization_id,
        "resource": allowed.resource.to_string(),
        "permission": allowed.permission,
    }))
}

/// Routes of every app in this file: projects and documents by external id, resources by id,
/// and `/me` (no check) to warm the token cache.
fn app(authz: &Authz) -> Router {
    Router::new()
        .route(
            "/projects/{project_id}",
            get(show)
                .route_layer(
                    require_permission("projects:read").on_resource("project", "project_id"),
                )
                .merge(axum::routing::delete(show).route_layer(
                    require_permission("projects:delete").on_resource("project", "project_id"),
                )),
        )
        .route(
            "/documents/{document_id}",
            get(show)
                .route_layer(
                    require_permission("projects:read").on_resource("document", "document_id"),
                )
                .merge(axum::routing::delete(show).route_layer(
                    require_permission("projects:delete").on_resource("document", "document_id"),
                )),
        )
        .route(
            "/resources/{resource_id}",
            get(show)
                .route_layer(require_permission("projects:read").on_resource_id("resource_id"))
                .merge(axum::routing::delete(show).route_layer(
                    require_permission("projects:delete").on_resource_id("resource_id"),
                )),
        )
        .route(
            "/me",
            get(|session: Session| async move { session.user_id().to_owned() }),
        )
        .layer(authz.layer())
}

fn authz_with(cache: CachedAuthorizer) -> Authz {
    Authz::builder()
        .verifier(verifier_for(signer()))
        .cached_authorizer(cache)
        .claims_shortcut(false)
        .build()
        .expect("authz")
}

fn request(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Sends one request through the router (as a tower service) and reads the answer whole.
async fn call(router: &Router, method: &str, path: &str, token: &str) -> Reply {
    let response = router
        .clone()
        .oneshot(request(method, path, token))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

// ----- coalescing ------------------------------------------------------------------------------

/// Fires `requests` concurrently over real HTTP, waits until every one of them is inside the
/// decision cache (a miss or a coalesced wait), releases the upstream, and returns the answers.
async fn fire_and_release(
    authz: &Authz,
    upstream: &Upstream,
    base: &str,
    requests: Vec<(&'static str, String, String)>,
) -> Vec<Reply> {
    let total = requests.len() as u64;
    let http = client();
    let mut tasks = tokio::task::JoinSet::new();
    for (method, path, token) in requests {
        let http = http.clone();
        let url = format!("{base}{path}");
        tasks.spawn(async move {
            let builder = match method {
                "DELETE" => http.delete(url),
                _ => http.get(url),
            };
            send(builder.header("authorization", format!("Bearer {token}"))).await
        });
    }
    let cache = authz.check_cache().unwrap();
    let all_waiting = poll_until(async || {
        let stats = cache.stats();
        stats.misses + stats.coalesced >= total
    })
    .await;
    assert!(
        all_waiting,
        "not every request reached the cache within 5 s: {:?}, upstream calls {}",
        cache.stats(),
        upstream.calls()
    );
    upstream.release();
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("request task"));
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_identical_requests_on_a_cold_cache_make_one_upstream_check() {
    let (upstream_base, upstream) = Upstream::start(Answer::HeldAllow).await;
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&upstream_base, 0).authorizer())
            .timeout(Duration::from_secs(10))
            .build(),
    );
    let base = format!("http://{}", serve(app(&authz)).await);
    let token = token("org_acme", "om_alice");
    let requests = (0..500)
        .map(|_| ("GET", "/projects/proj_apollo".to_owned(), token.clone()))
        .collect();
    let replies = fire_and_release(&authz, &upstream, &base, requests).await;

    assert_eq!(replies.len(), 500);
    for reply in &replies {
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(upstream.calls(), 1, "{:?}", upstream.asked());
    let stats = authz.check_cache().unwrap().stats();
    assert_eq!(
        (stats.misses, stats.coalesced, stats.errors),
        (1, 499, 0),
        "{stats:?}"
    );
    // The one call asked what the route names.
    let asked = &upstream.asked()[0];
    assert_eq!(asked.membership, "om_alice");
    let body: Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(body["permission_slug"], "projects:read");
    assert_eq!(body["resource_external_id"], "proj_apollo");
    assert_eq!(body["resource_type_slug"], "project");
}

/// Five keys that differ in one part each (resource, membership, organization, permission,
/// resource type): 100 requests each, five upstream checks, one per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_requests_over_five_keys_make_five_upstream_checks() {
    let (upstream_base, upstream) = Upstream::start(Answer::HeldAllow).await;
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&upstream_base, 0).authorizer())
            .timeout(Duration::from_secs(10))
            .build(),
    );
    let base = format!("http://{}", serve(app(&authz)).await);
    let (acme_a, acme_b, globex_a) = (
        token("org_acme", "om_a"),
        token("org_acme", "om_b"),
        // The same membership id under another organization is another key.
        token("org_globex", "om_a"),
    );
    let keys: [(&str, &str, &String); 5] = [
        ("GET", "/projects/proj_0", &acme_a),
        ("GET", "/projects/proj_1", &acme_a),
        ("GET", "/projects/proj_0", &acme_b),
        ("GET", "/projects/proj_0", &globex_a),
        ("DELETE", "/projects/proj_0", &acme_a),
    ];
    let mut requests = Vec::new();
    for round in 0..100 {
        // The keys interleaved, in a different order each round.
        for i in 0..5 {
            let (method, path, token) = keys[(i + round) % 5];
            requests.push((method, path.to_owned(), token.clone()));
        }
    }
    let replies = fire_and_release(&authz, &upstream, &base, requests).await;
    assert_eq!(replies.len(), 500);
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");

    assert_eq!(upstream.calls(), 5, "{:?}", upstream.asked());
    // WorkOS's check names the membership, not the organization: the two organizations'
    // `om_a` on proj_0 are two keys, and two calls with the same path and body.
    let mut per_question: BTreeMap<Asked, usize> = BTreeMap::new();
    for asked in upstream.asked() {
        *per_question.entry(asked).or_default() += 1;
    }
    let counts: Vec<usize> = per_question.values().copied().collect();
    assert_eq!(per_question.len(), 4, "{per_question:?}");
    let twice = per_question
        .iter()
        .find(|(_, n)| **n == 2)
        .map(|(asked, _)| asked.clone())
        .unwrap_or_else(|| panic!("no question asked twice: {counts:?}"));
    assert_eq!(twice.membership, "om_a");
    assert!(twice.body.contains("\"projects:read\""), "{twice:?}");
    assert!(twice.body.contains("\"proj_0\""), "{twice:?}");
    assert_eq!(counts.iter().sum::<usize>(), 5);
    let stats = authz.check_cache().unwrap().stats();
    assert_eq!((stats.misses, stats.coalesced), (5, 495), "{stats:?}");
}

/// The one upstream call is not cancelled when the request that started it goes away: a
/// concurrent request for the same key still gets its answer from that call, and the decision
/// is cached for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_does_not_cancel_the_upstream_call() {
    let (upstream_base, upstream) = Upstream::start(Answer::HeldAllow).await;
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&upstream_base, 0).authorizer())
            .timeout(Duration::from_secs(10))
            .build(),
    );
    let router = app(&authz);
    let cache = authz.check_cache().unwrap().clone();
    let token = token("org_acme", "om_alice");

    // A starts the upstream call, then disconnects (its future is dropped mid-check).
    let first = tokio::spawn({
        let (router, token) = (router.clone(), token.clone());
        async move { call(&router, "GET", "/projects/proj_apollo", &token).await }
    });
    assert!(
        poll_until(async || upstream.calls() == 1).await,
        "A never reached the upstream"
    );
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    // B asks for the same key while the call is still held: it waits for that call.
    let second = tokio::spawn({
        let (router, token) = (router.clone(), token.clone());
        async move { call(&router, "GET", "/projects/proj_apollo", &token).await }
    });
    assert!(
        poll_until(async || cache.stats().coalesced == 1).await,
        "B did not join A's call: {:?}, upstream calls {}",
        cache.stats(),
        upstream.calls()
    );
    upstream.release();
    let reply = second.await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.calls(), 1);

    // C: the decision A's call made is cached.
    let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let stats = cache.stats();
    assert_eq!(
        (stats.misses, stats.coalesced, stats.hits),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(upstream.calls(), 1);
}

/// When nobody waits any more, the call still completes and its decision is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_upstream_call_still_fills_the_cache() {
    let (upstream_base, upstream) = Upstream::start(Answer::HeldAllow).await;
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&upstream_base, 0).authorizer())
            .timeout(Duration::from_secs(10))
            .build(),
    );
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    let only = tokio::spawn({
        let (router, token) = (router.clone(), token.clone());
        async move { call(&router, "GET", "/projects/proj_apollo", &token).await }
    });
    assert!(poll_until(async || upstream.calls() == 1).await);
    only.abort();
    let _ = only.await;
    upstream.release();
    let cache = authz.check_cache().unwrap();
    // Bounded polling: the spawned call finishes on its own, then the next request is a hit.
    let mut last = None;
    let cached = poll_until(async || {
        let before = cache.stats();
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        let hit = cache.stats().hits > before.hits;
        last = Some(reply);
        hit
    })
    .await;
    assert!(
        cached,
        "never served from cache: {:?} {last:?}",
        cache.stats()
    );
    assert_eq!(last.unwrap().status, 200);
    assert_eq!(upstream.calls(), 1, "the abandoned call was not reused");
}

/// A webhook that invalidates a membership while a check for it is in flight: the answer
/// that call brings back was computed before the change, so the next request after the
/// invalidation must ask again rather than be served that answer from the cache for a whole
/// allow TTL ("at once after a signed webhook").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_an_upstream_call_is_not_undone_by_its_answer() {
    let (upstream_base, upstream) = Upstream::start(Answer::HeldAllow).await;
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&upstream_base, 0).authorizer())
            .allow_ttl(Duration::from_secs(600))
            .timeout(Duration::from_secs(10))
            .build(),
    );
    let router = app(&authz);
    let cache = authz.check_cache().unwrap().clone();
    let token = token("org_acme", "om_alice");

    let before_revocation = tokio::spawn({
        let (router, token) = (router.clone(), token.clone());
        async move { call(&router, "GET", "/projects/proj_apollo", &token).await }
    });
    assert!(poll_until(async || upstream.calls() == 1).await);
    // The grant is revoked and the webhook invalidates the membership while the call is held.
    upstream.set(Answer::Authorized(false));
    cache.invalidate_membership("om_alice");
    upstream.release();
    // The request that started before the revocation may be allowed.
    assert_eq!(before_revocation.await.unwrap().status, 200);

    let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
    assert_forbidden(&reply, "the first request after the invalidation");
    assert_eq!(upstream.calls(), 2, "{:?}", cache.stats());
}

// ----- failure modes ---------------------------------------------------------------------------

const CHECK_TIMEOUT: Duration = Duration::from_millis(300);
/// The issue's bound is the timeout plus 100 ms; measured in process on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(100);

/// One guarded request against an upstream that fails as `describe` says: 503 problem+json
/// within the timeout plus 100 ms, never 200, never 403; and nothing cached (the next request
/// asks again and fails again).
async fn assert_fails_closed(
    describe: &str,
    upstream_base: &str,
    max_retries: u32,
    upstream_calls: impl Fn() -> usize,
) {
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(upstream_base, max_retries).authorizer())
            .timeout(CHECK_TIMEOUT)
            .stale_if_error(Duration::from_secs(60)) // nothing cached, so nothing to reuse
            .build(),
    );
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    // Warm the verified-token cache so the time measured is the check's.
    assert_eq!(call(&router, "GET", "/me", &token).await.status, 200);
    for attempt in 1..=2u64 {
        let started = Instant::now();
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        let elapsed = started.elapsed();
        let context = format!("{describe}, attempt {attempt}");
        assert_problem(&reply, 503, &context);
        assert!(
            elapsed <= CHECK_TIMEOUT + SLACK,
            "{context}: answered after {elapsed:?}"
        );
        let stats = authz.check_cache().unwrap().stats();
        assert_eq!(stats.errors, attempt, "{context}: {stats:?}");
        assert_eq!(
            stats.misses, attempt,
            "{context}: errors are cached: {stats:?}"
        );
        assert_eq!(stats.stale_served, 0, "{context}: {stats:?}");
    }
    assert!(
        upstream_calls() >= 2,
        "{describe}: upstream saw {}",
        upstream_calls()
    );
}

#[tokio::test]
async fn an_upstream_500_is_503() {
    let (base, upstream) = Upstream::start(Answer::Status(500, vec![])).await;
    assert_fails_closed("500", &base, 0, || upstream.calls()).await;
}

#[tokio::test]
async fn an_upstream_429_is_503_even_when_retries_would_wait_longer() {
    let (base, upstream) = Upstream::start(Answer::Status(429, vec![])).await;
    assert_fails_closed("429", &base, 0, || upstream.calls()).await;
    // With the client's default retries and a Retry-After of 30 s the cache's timeout still
    // bounds the wait.
    let (base, upstream) = Upstream::start(Answer::Status(429, vec![("retry-after", "30")])).await;
    assert_fails_closed("429 with Retry-After: 30 and retries", &base, 3, || {
        upstream.calls()
    })
    .await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_503_at_the_timeout() {
    let (base, upstream) = Upstream::start(Answer::Hang).await;
    assert_fails_closed("hang", &base, 0, || upstream.calls()).await;
    // And not before the timeout: it is the timeout that answered.
    let authz = authz_with(
        CachedAuthorizer::builder(workos_client(&base, 0).authorizer())
            .timeout(CHECK_TIMEOUT)
            .build(),
    );
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    let started = Instant::now();
    let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
    assert_problem(&reply, 503, "hang");
    assert!(
        started.elapsed() >= CHECK_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_upstream_that_resets_the_connection_is_503() {
    let (base, accepted) = resetting_upstream().await;
    assert_fails_closed("connection reset", &base, 0, || {
        accepted.load(Ordering::SeqCst)
    })
    .await;
}

#[tokio::test]
async fn malformed_upstream_answers_are_503() {
    for body in [
        r#"{"authorized": tru"#,
        r#"{"authorized": "yes"}"#,
        r#"{"allowed": true}"#,
        "<html>gateway</html>",
        "",
    ] {
        let (base, upstream) = Upstream::start(Answer::Raw(body)).await;
        assert_fails_closed(&format!("body {body:?}"), &base, 0, || upstream.calls()).await;
    }
}

#[tokio::test]
async fn upstream_client_errors_are_503_not_403() {
    // A bad API key, or a bare 404 that is no WorkOS answer (a wrong base URL), is the authority
    // failing to answer, not a deny. (WorkOS's own 404, with an error code, is a deny: see
    // resource_guards::emulator_a_project_of_another_organization_is_403_not_503.)
    for status in [400, 401, 403, 422] {
        let (base, upstream) = Upstream::start(Answer::Status(status, vec![])).await;
        assert_fails_closed(&format!("status {status}"), &base, 0, || upstream.calls()).await;
    }
    let (base, upstream) = Upstream::start(Answer::Bare(404)).await;
    assert_fails_closed("a bare 404", &base, 0, || upstream.calls()).await;
}

#[tokio::test]
async fn a_workos_not_found_answer_is_a_deny_and_cached_as_one() {
    // WorkOS's 404 with an error code: the resource is not in the membership's organization.
    let (base, upstream) = Upstream::start(Answer::Status(404, vec![])).await;
    let authz = authz_with(CachedAuthorizer::builder(workos_client(&base, 0).authorizer()).build());
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    for _ in 0..2 {
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        assert_problem(&reply, 403, "a WorkOS 404");
    }
    let stats = authz.check_cache().unwrap().stats();
    assert_eq!(
        (stats.misses, stats.hits, stats.errors),
        (1, 1, 0),
        "{stats:?}"
    );
    assert_eq!(upstream.calls(), 1);
}

// ----- stale_if_error --------------------------------------------------------------------------

const TTL: Duration = Duration::from_millis(50);

fn short_lived(base: &str, stale_if_error: Option<Duration>) -> Authz {
    let mut cache = CachedAuthorizer::builder(workos_client(base, 0).authorizer())
        .allow_ttl(TTL)
        .deny_ttl(TTL)
        .jitter(0.0)
        .timeout(CHECK_TIMEOUT);
    if let Some(max_age) = stale_if_error {
        cache = cache.stale_if_error(max_age);
    }
    authz_with(cache.build())
}

/// A cached allow younger than `max_age` is reused when the upstream fails; once older, the
/// answer is 503 again.
#[tokio::test]
async fn stale_if_error_reuses_a_young_decision_and_not_an_old_one() {
    const MAX_AGE: Duration = Duration::from_millis(600);
    let (base, upstream) = Upstream::start(Answer::Authorized(true)).await;
    let authz = short_lived(&base, Some(MAX_AGE));
    let cache = authz.check_cache().unwrap();
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    assert_eq!(call(&router, "GET", "/me", &token).await.status, 200);

    let before_decision = Instant::now();
    let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
    let after_decision = Instant::now();
    assert_eq!(reply.status, 200, "{reply:?}");
    upstream.set(Answer::Status(500, vec![]));

    // Past the TTL, the upstream fails and the young decision is served: 200, stale_served 1.
    let mut statuses = Vec::new();
    let stale = poll_until(async || {
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        statuses.push(reply.status);
        cache.stats().stale_served >= 1
    })
    .await;
    assert!(
        stale,
        "no stale decision served: {:?} {statuses:?}",
        cache.stats()
    );
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(cache.stats().stale_served, 1, "{:?}", cache.stats());
    assert_eq!(upstream.calls(), 2, "one allow, then one failure");

    // Once older than max_age: 503, and it stays 503.
    let mut statuses = Vec::new();
    let expired = poll_until(async || {
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        statuses.push(reply.status);
        reply.status == 503
    })
    .await;
    let refused_at = Instant::now();
    assert!(expired, "a stale decision outlived max_age: {statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(
        refused_at - before_decision >= MAX_AGE,
        "refused {:?} after the decision, before max_age",
        refused_at - before_decision
    );
    assert!(
        refused_at - after_decision <= MAX_AGE + Duration::from_millis(400),
        "still served stale {:?} after the decision",
        refused_at - after_decision
    );
    for _ in 0..3 {
        assert_problem(
            &call(&router, "GET", "/projects/proj_apollo", &token).await,
            503,
            "after max_age",
        );
    }
    let stats = cache.stats();
    assert_eq!(
        stats.stale_served as usize,
        1 + (statuses.len() - 1),
        "every 200 after the TTL was a stale one: {stats:?} {statuses:?}"
    );
}

/// Without `stale_if_error` a decision past its TTL is never reused: 503 at once.
#[tokio::test]
async fn without_stale_if_error_an_expired_allow_is_not_reused() {
    let (base, upstream) = Upstream::start(Answer::Authorized(true)).await;
    let authz = short_lived(&base, None);
    let cache = authz.check_cache().unwrap();
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    assert_eq!(
        call(&router, "GET", "/projects/proj_apollo", &token)
            .await
            .status,
        200
    );
    upstream.set(Answer::Status(500, vec![]));
    let mut statuses = Vec::new();
    let refused = poll_until(async || {
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        statuses.push(reply.status);
        reply.status != 200
    })
    .await;
    assert!(refused, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&503), "{statuses:?}");
    assert_eq!(cache.stats().stale_served, 0);
}

/// A young cached deny is reused as a deny when the upstream fails: 403, never 200.
#[tokio::test]
async fn stale_if_error_reuses_a_deny_as_a_deny() {
    let (base, upstream) = Upstream::start(Answer::Authorized(false)).await;
    let authz = short_lived(&base, Some(Duration::from_secs(5)));
    let cache = authz.check_cache().unwrap();
    let router = app(&authz);
    let token = token("org_acme", "om_alice");
    assert_forbidden(
        &call(&router, "GET", "/projects/proj_apollo", &token).await,
        "deny",
    );
    upstream.set(Answer::Status(500, vec![]));
    let mut statuses = Vec::new();
    let stale = poll_until(async || {
        let reply = call(&router, "GET", "/projects/proj_apollo", &token).await;
        statuses.push(reply.status);
        cache.stats().stale_served >= 1
    })
    .await;
    assert!(stale, "{:?} {statuses:?}", cache.stats());
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");
}

// ----- membership lookups --------------------------------------------------------------------

fn membership(id: &str, user: &str, organization: &str, status: &str) -> Value {
    json!({"object": "organization_membership", "id": id, "user_id": user,
           "organization_id": organization, "status": status,
           "role": {"slug": "member"},
           "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"})
}

/// An app on WorkOS through the client (`AuthzBuilder::workos`), claims shortcut off, and a
/// token without `organization_membership_id`: the membership is looked up.
fn resolving_app(base: &str) -> (Authz, Router, String) {
    let authz = Authz::builder()
        .verifier(verifier_for(signer()))
        .workos(&workos_client(base, 0))
        .cached_authorizer(
            CachedAuthorizer::builder(workos_client(base, 0).authorizer())
                .timeout(CHECK_TIMEOUT)
                .build(),
        )
        .claims_shortcut(false)
        .build()
        .expect("authz");
    let router = app(&authz);
    let token = signer()
        .sign(&member_claims("user_bob", "org_acme", None, &[]))
        .expect("sign");
    (authz, router, token)
}

#[tokio::test]
async fn membership_lookups_are_cached_and_their_errors_are_not() {
    let (base, upstream) = Upstream::start(Answer::Authorized(true)).await;
    *upstream.memberships.lock().unwrap() = Some(json!([membership(
        "om_bob", "user_bob", "org_acme", "active"
    )]));
    let (_authz, router, token) = resolving_app(&base);
    for project in ["proj_0", "proj_1", "proj_2"] {
        let reply = call(&router, "GET", &format!("/projects/{project}"), &token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let lookups = upstream.lookups.lock().unwrap().clone();
    assert_eq!(
        lookups.len(),
        1,
        "the membership is looked up once: {lookups:?}"
    );
    for part in [
        "user_id=user_bob",
        "organization_id=org_acme",
        "statuses=active",
    ] {
        assert!(lookups[0].contains(part), "{part} not in {:?}", lookups[0]);
    }
    assert!(upstream.asked().iter().all(|a| a.membership == "om_bob"));
    assert_eq!(upstream.calls(), 3);

    // The lookup fails: 503, nothing asked, nothing cached.
    let (base, upstream) = Upstream::start(Answer::Authorized(true)).await;
    let (_authz, router, token) = resolving_app(&base);
    for attempt in 1..=2 {
        let reply = call(&router, "GET", "/projects/proj_0", &token).await;
        assert_problem(&reply, 503, &format!("lookup down, attempt {attempt}"));
        assert_eq!(upstream.lookups.lock().unwrap().len(), attempt);
    }
    assert_eq!(upstream.calls(), 0, "a check was made without a membership");
}

/// A server that ignores the list's filters must not make the guard check as somebody else's
/// membership, or as an inactive one.
#[tokio::test]
async fn a_membership_list_that_ignores_its_filters_is_not_trusted() {
    let (base, upstream) = Upstream::start(Answer::Authorized(true)).await;
    *upstream.memberships.lock().unwrap() = Some(json!([
        membership("om_globex", "user_bob", "org_globex", "active"),
        membership("om_eve", "user_eve", "org_acme", "active"),
        membership("om_old", "user_bob", "org_acme", "inactive"),
        membership("om_invited", "user_bob", "org_acme", "pending"),
    ]));
    let (_authz, router, token) = resolving_app(&base);
    let reply = call(&router, "GET", "/projects/proj_0", &token).await;
    assert_forbidden(&reply, "no active membership of bob in acme");
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("membership"), "{detail}");
    assert_eq!(upstream.calls(), 0, "checked as {:?}", upstream.asked());
}

// ----- tenant isolation ------------------------------------------------------------------------

/// The test's own authority: a fixed answer per (organization, membership, permission,
/// resource), from a hash; it yields a few times first so that concurrent checks interleave.
struct Reference {
    calls: AtomicUsize,
}

fn reference_decision(request: &CheckRequest) -> Decision {
    let mut hasher = DefaultHasher::new();
    request.hash(&mut hasher);
    Decision::from_authorized(hasher.finish().is_multiple_of(2))
}

impl Authorizer for Reference {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            for _ in 0..(request.permission.len() + request.organization_membership_id.len()) % 4 {
                tokio::task::yield_now().await;
            }
            Ok(reference_decision(request))
        })
    }
}

/// The reference, shared with the test that counts its calls.
struct Shared(Arc<Reference>);

impl Authorizer for Shared {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        self.0.check(request)
    }
}

const ORGS: [&str; 3] = ["org_a", "org_b", "org_c"];
/// Membership ids repeat across organizations on purpose: a cache keyed without the
/// organization would hand one tenant's decision to another.
const MEMBERSHIPS: [&str; 3] = ["om_1", "om_2", "om_3"];

/// The routes' resources: (path, resource as the guard names it).
fn resource(index: usize) -> (String, ResourceRef) {
    match index {
        0..=3 => (
            format!("/projects/proj_{index}"),
            ResourceRef::external("project", format!("proj_{index}")),
        ),
        // The same external ids under another type are other resources.
        4..=6 => (
            format!("/documents/proj_{}", index - 4),
            ResourceRef::external("document", format!("proj_{}", index - 4)),
        ),
        _ => (
            format!("/resources/res_{}", index - 7),
            ResourceRef::id(format!("res_{}", index - 7)),
        ),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Request {
        org: usize,
        membership: usize,
        delete: bool,
        resource: usize,
    },
    InvalidateMembership(usize),
    InvalidateOrganization(usize),
    InvalidateAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..3usize, 0..3usize, any::<bool>(), 0..10usize).prop_map(
            |(org, membership, delete, resource)| Op::Request { org, membership, delete, resource }
        ),
        1 => (0..3usize).prop_map(Op::InvalidateMembership),
        1 => (0..3usize).prop_map(Op::InvalidateOrganization),
        1 => Just(Op::InvalidateAll),
    ]
}

/// Tokens for every (organization, membership), signed once.
fn tokens() -> &'static BTreeMap<(usize, usize), String> {
    static TOKENS: OnceLock<BTreeMap<(usize, usize), String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut tokens = BTreeMap::new();
        for (o, org) in ORGS.iter().enumerate() {
            for (m, membership) in MEMBERSHIPS.iter().enumerate() {
                tokens.insert((o, m), token(org, membership));
            }
        }
        tokens
    })
}

/// Runs `ops` against a fresh app: consecutive requests concurrently, invalidations as
/// barriers between them. Every answer must be the reference's for that exact key.
async fn run_isolation_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let reference = Arc::new(Reference {
        calls: AtomicUsize::new(0),
    });
    let authz = authz_with(
        CachedAuthorizer::builder(Shared(reference.clone()))
            .allow_ttl(Duration::from_secs(600))
            .deny_ttl(Duration::from_secs(600))
            .build(),
    );
    let cache = authz.check_cache().unwrap().clone();
    let router = app(&authz);
    let mut batch = tokio::task::JoinSet::new();
    let mut requests = 0usize;
    for op in ops.into_iter().chain([Op::InvalidateAll]) {
        match op {
            Op::Request {
                org,
                membership,
                delete,
                resource: index,
            } => {
                requests += 1;
                let router = router.clone();
                let token = tokens()[&(org, membership)].clone();
                batch.spawn(async move {
                    let (path, resource) = resource(index);
                    let method = if delete { "DELETE" } else { "GET" };
                    let reply = call(&router, method, &path, &token).await;
                    let key = CheckRequest {
                        organization_id: ORGS[org].to_owned(),
                        organization_membership_id: MEMBERSHIPS[membership].to_owned(),
                        permission: if delete {
                            "projects:delete"
                        } else {
                            "projects:read"
                        }
                        .to_owned(),
                        resource,
                    };
                    (key, reply)
                });
            }
            barrier => {
                while let Some(joined) = batch.join_next().await {
                    let (key, reply) = joined.expect("request task");
                    let expected = if reference_decision(&key).is_allowed() {
                        200
                    } else {
                        403
                    };
                    prop_assert_eq!(reply.status, expected, "{:?}: {:?}", key, reply);
                    if expected == 200 {
                        let body = reply.json();
                        prop_assert_eq!(
                            body["organization_id"].as_str(),
                            Some(key.organization_id.as_str())
                        );
                    }
                }
                match barrier {
                    Op::InvalidateMembership(m) => cache.invalidate_membership(MEMBERSHIPS[m]),
                    Op::InvalidateOrganization(o) => cache.invalidate_organization(ORGS[o]),
                    _ => cache.invalidate_all(),
                }
            }
        }
    }
    let stats = cache.stats();
    prop_assert_eq!(
        (stats.hits + stats.misses + stats.coalesced) as usize,
        requests,
        "{:?}",
        stats
    );
    prop_assert_eq!(
        stats.misses as usize,
        reference.calls.load(Ordering::SeqCst)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A decision cached for one key is never served for another: not across organizations
    /// (the membership ids repeat across them), memberships, permissions, resource types or
    /// resources, whatever the interleaving of concurrent checks and invalidations.
    #[test]
    fn a_cached_decision_is_never_served_for_another_key(
        ops in proptest::collection::vec(op(), 1..80)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run_isolation_case(ops))?;
    }
}

/// The case the proptest is after, pinned: the same membership id and resource under two
/// organizations whose answers differ; the second organization is asked, never served the
/// first one's cached decision.
#[tokio::test]
async fn the_same_membership_id_in_another_organization_is_another_key() {
    let key = |org: usize, index: usize| CheckRequest {
        organization_id: ORGS[org].to_owned(),
        organization_membership_id: MEMBERSHIPS[0].to_owned(),
        permission: "projects:read".to_owned(),
        resource: resource(index).1,
    };
    let index = (0..10)
        .find(|&i| reference_decision(&key(0, i)) != reference_decision(&key(1, i)))
        .expect("a resource on which org_a and org_b differ");
    let (path, _) = resource(index);
    let reference = Arc::new(Reference {
        calls: AtomicUsize::new(0),
    });
    let authz = authz_with(CachedAuthorizer::builder(Shared(reference.clone())).build());
    let router = app(&authz);
    for round in 0..2 {
        for org in [0, 1] {
            let expected = if reference_decision(&key(org, index)).is_allowed() {
                200
            } else {
                403
            };
            let reply = call(&router, "GET", &path, &tokens()[&(org, 0)]).await;
            assert_eq!(
                reply.status, expected,
                "round {round}, {}: {reply:?}",
                ORGS[org]
            );
        }
    }
    // One upstream call per organization, then hits.
    assert_eq!(reference.calls.load(Ordering::SeqCst), 2);
    assert_eq!(authz.check_cache().unwrap().stats().hits, 2);
}
