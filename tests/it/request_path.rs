//! The one rule for remote calls on the request path, against authorities that hang, fail or
//! panic on loopback: the JWKS refetch, the membership lookup and the resource check are each
//! bounded by `upstream_timeout`, made once for concurrent requests, not cancelled by a
//! client that goes away, never cached when they failed or overlapped an invalidation, and
//! answered 503 (never 401, never an allow) when the authority could not answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use workos_authz::check::{Authorizer, CheckFuture, CheckRequest, Decision};
use workos_authz::session::SessionClaims;
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Session, SessionVerifier, require_permission};

use crate::common::*;

/// The deadline of the apps in this file: short, so that the tests are quick.
const DEADLINE: Duration = Duration::from_millis(600);
/// What a 503 may take past the deadline (the bound).
const MARGIN: Duration = Duration::from_millis(100);

/// `/me` (the layer only) and `/projects/{project_id}` (a resource check). The outermost
/// layer reports in `x-server-elapsed-us` how long the server took, from the moment it had
/// the request to its answer: what the deadline bounds, without the client's connection
/// setup on a busy machine.
fn app(authz: &Authz) -> Router {
    Router::new()
        .route(
            "/me",
            get(|session: Session| async move { session.user_id().to_owned() }),
        )
        .route(
            "/projects/{project_id}",
            get(|| async { "project" }).route_layer(
                require_permission("projects:read").on_resource("project", "project_id"),
            ),
        )
        .layer(authz.layer())
        .layer(axum::middleware::from_fn(
            async |request: axum::extract::Request, next: axum::middleware::Next| {
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

/// The 503 of an authority that could not answer: problem+json, within the deadline, and no
/// upstream address or transport error text in it.
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
    for leak in ["127.0.0.1", "http", "jwks", "error sending", "connection"] {
        assert!(
            !reply.body.to_lowercase().contains(leak),
            "{context}: the 503 names {leak:?}: {}",
            reply.body
        );
    }
}

// ----- JWKS ------------------------------------------------------------------------------------

fn jwks_authz(server: &JwksServer, cooldown: Duration) -> Authz {
    let verifier = SessionVerifier::builder()
        .jwks_url(&server.url)
        .unknown_kid_cooldown(cooldown)
        .build()
        .unwrap();
    Authz::builder()
        .verifier(verifier)
        .upstream_timeout(DEADLINE)
        .build()
        .unwrap()
}

/// Six concurrent requests, no key loaded yet, the JWKS hanging: one fetch, and every request
/// answered 503 within the deadline (it was 5, 10, ... 30 s and six fetches).
#[tokio::test]
async fn a_hanging_jwks_with_no_key_loaded_is_one_fetch_and_503_within_the_deadline() {
    let key = RsaKey::generate("key_a");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    jwks.set_mode(JwksMode::Hang);
    let authz = jwks_authz(&jwks, Duration::from_secs(30));
    let base = format!("http://{}", serve(app(&authz)).await);
    let token = key.sign(&claims("user_a"));

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (url, token) = (format!("{base}/me"), token.clone());
        requests.spawn(async move { get_bearer(&client(), &url, &token).await });
    }
    while let Some(reply) = requests.join_next().await {
        assert_unavailable_within_deadline(&reply.unwrap(), "hanging JWKS");
    }
    assert_eq!(jwks.fetches(), 1, "six waiting requests share one fetch");

    // Nothing was remembered of the failure: once the JWKS answers, the same token passes.
    jwks.set_mode(JwksMode::Up);
    let reply = get_bearer(&client(), &format!("{base}/me"), &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(jwks.fetches(), 2);
}

/// Keys loaded, then the JWKS fails and a token arrives with a newly rotated kid: 503 during
/// the outage (not the 401 that logs a user out), and 200 on the first request after the
/// JWKS recovers: the failed refetch did not mark the kid unknown.
#[tokio::test]
async fn a_rotated_kid_during_a_jwks_outage_is_503_then_200_once_it_recovers() {
    let old = RsaKey::generate("key_old");
    let new = RsaKey::generate("key_new");
    let jwks = JwksServer::start(vec![old.jwk()]).await;
    let cooldown = Duration::from_millis(300);
    let authz = jwks_authz(&jwks, cooldown);
    let base = format!("http://{}", serve(app(&authz)).await);
    let http = client();
    let me = format!("{base}/me");
    assert_eq!(
        get_bearer(&http, &me, &old.sign(&claims("user_old")))
            .await
            .status,
        200
    );
    assert_eq!(jwks.fetches(), 1);
    // The behaviour under test is what happens once the last answered JWKS is older than the
    // cooldown: nothing to synchronise with but the clock.
    tokio::time::sleep(cooldown).await;

    jwks.set_keys(vec![old.jwk(), new.jwk()]);
    let rotated = new.sign(&claims("user_new"));
    for mode in [JwksMode::Error500, JwksMode::Hang] {
        jwks.set_mode(mode);
        let reply = get_bearer(&http, &me, &rotated).await;
        assert_unavailable_within_deadline(&reply, &format!("{mode:?}"));
    }
    // A known kid still verifies during the outage, without a fetch.
    let fetches = jwks.fetches();
    assert_eq!(
        get_bearer(&http, &me, &old.sign(&claims("user_old_2")))
            .await
            .status,
        200
    );
    assert_eq!(jwks.fetches(), fetches);

    jwks.set_mode(JwksMode::Up);
    let reply = get_bearer(&http, &me, &rotated).await;
    assert_eq!(
        reply.status, 200,
        "the first request after recovery: {reply:?}"
    );
}

// ----- membership lookup -----------------------------------------------------------------------

/// How the fake membership endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    Hang,
    /// Answers once released.
    Held,
    Answer,
}

#[derive(Clone)]
struct FakeWorkOs {
    lookups: Arc<AtomicUsize>,
    checks: Arc<AtomicUsize>,
    mode: Arc<std::sync::Mutex<Lookup>>,
    release: Arc<watch::Sender<bool>>,
}

impl FakeWorkOs {
    async fn start(mode: Lookup) -> (String, FakeWorkOs) {
        let fake = FakeWorkOs {
            lookups: Arc::new(AtomicUsize::new(0)),
            checks: Arc::new(AtomicUsize::new(0)),
            mode: Arc::new(std::sync::Mutex::new(mode)),
            release: Arc::new(watch::channel(false).0),
        };
        let app = Router::new()
            .route(
                "/user_management/organization_memberships",
                get(list_memberships),
            )
            .route(
                "/authorization/organization_memberships/{om}/check",
                post(|State(fake): State<FakeWorkOs>| async move {
                    fake.checks.fetch_add(1, Ordering::SeqCst);
                    Json(json!({ "authorized": true }))
                }),
            )
            .with_state(fake.clone());
        (format!("http://{}", serve(app).await), fake)
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Lookup) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn list_memberships(State(fake): State<FakeWorkOs>) -> Json<Value> {
    fake.lookups.fetch_add(1, Ordering::SeqCst);
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Lookup::Hang => std::future::pending().await,
        Lookup::Held => {
            let mut released = fake.release.subscribe();
            // Bounded: a test that never releases fails on its own assertions, not here.
            let _ = tokio::time::timeout(Duration::from_secs(10), released.wait_for(|r| *r)).await;
        }
        Lookup::Answer => {}
    }
    Json(json!({
        "object": "list",
        "data": [{
            "object": "organization_membership",
            "id": "om_x",
            "user_id": "user_x",
            "organization_id": "org_1",
            "status": "active",
            "role": {"slug": "member"},
        }],
        "list_metadata": {"before": null, "after": null},
    }))
}

/// An app whose tokens carry no `organization_membership_id`: every resource check first
/// looks the membership up at `base`.
async fn membership_app(base: &str) -> (String, Authz, String) {
    let signer = workos_authz::session::TokenSigner::generate().unwrap();
    let workos = WorkOsClient::builder("sk_test_request_path")
        .base_url(base)
        .build()
        .unwrap();
    let authz = Authz::builder()
        .verifier(verifier_for(&signer))
        .workos(&workos)
        .claims_shortcut(false)
        .upstream_timeout(DEADLINE)
        .build()
        .unwrap();
    let token = signer
        .sign(&SessionClaims::new("user_x").organization("org_1"))
        .unwrap();
    let app_base = format!("http://{}", serve(app(&authz)).await);
    (app_base, authz, token)
}

/// 20 concurrent requests against a hanging membership endpoint, 5 of whose clients give up
/// early: one lookup, and 503 within the deadline for the 15 that waited (it was 8 s and then
/// let through; with the client's defaults, minutes).
#[tokio::test]
async fn a_hanging_membership_lookup_is_one_call_and_503_within_the_deadline() {
    let (workos, fake) = FakeWorkOs::start(Lookup::Hang).await;
    let (base, _authz, token) = membership_app(&workos).await;
    let url = format!("{base}/projects/proj_1");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();

    let mut requests = tokio::task::JoinSet::new();
    for index in 0..20 {
        let (url, token, impatient) = (url.clone(), token.clone(), impatient.clone());
        requests.spawn(async move {
            if index % 4 == 0 {
                let gave_up = impatient.get(&url).bearer_auth(&token).send().await;
                assert!(gave_up.is_err(), "the impatient client gave up");
                return None;
            }
            Some(get_bearer(&client(), &url, &token).await)
        });
    }
    let mut waited = 0;
    while let Some(answer) = requests.join_next().await {
        if let Some(reply) = answer.unwrap() {
            assert_unavailable_within_deadline(&reply, "hanging membership lookup");
            waited += 1;
        }
    }
    assert_eq!(waited, 15);
    assert_eq!(fake.lookups(), 1, "one lookup for all twenty requests");
    assert_eq!(fake.checks.load(Ordering::SeqCst), 0, "nothing was checked");

    // Nothing was cached from the failure: the next request asks again, and passes.
    fake.set(Lookup::Answer);
    let reply = get_bearer(&client(), &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(fake.lookups(), 2);
}

/// The only client waiting for a lookup disconnects: the lookup goes on, and its answer is
/// cached for the next request (it was cancelled, and the next request started it again).
#[tokio::test]
async fn a_client_that_disconnects_does_not_cancel_the_membership_lookup() {
    let (workos, fake) = FakeWorkOs::start(Lookup::Held).await;
    let (base, _authz, token) = membership_app(&workos).await;
    let url = format!("{base}/projects/proj_1");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(
        impatient
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .is_err()
    );
    assert!(poll_until(async || fake.lookups() == 1).await);
    fake.release.send_replace(true);

    let reply = get_bearer(&client(), &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        fake.lookups(),
        1,
        "the lookup was not cancelled nor made again"
    );
}

/// A lookup in flight across an `organization_membership.*` invalidation answers its request
/// but is not cached: the next request looks the membership up again.
#[tokio::test]
async fn a_membership_lookup_overlapping_an_invalidation_is_not_cached() {
    let (workos, fake) = FakeWorkOs::start(Lookup::Held).await;
    let (base, authz, token) = membership_app(&workos).await;
    let url = format!("{base}/projects/proj_1");
    let waiting = {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move { get_bearer(&client(), &url, &token).await })
    };
    assert!(poll_until(async || fake.lookups() == 1).await);
    authz.apply_event(&event(
        "organization_membership.updated",
        json!({"id": "om_x", "user_id": "user_x", "organization_id": "org_1"}),
    ));
    fake.release.send_replace(true);
    assert_eq!(waiting.await.unwrap().status, 200);

    fake.set(Lookup::Answer);
    let reply = get_bearer(&client(), &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(fake.lookups(), 2, "the overlapped answer was not cached");
    let reply = get_bearer(&client(), &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        fake.lookups(),
        2,
        "an answer that did not overlap is cached"
    );
}

fn event(kind: &str, data: Value) -> workos_authz::workos::Event {
    serde_json::from_value(json!({
        "object": "event",
        "id": "event_1",
        "event": kind,
        "data": data,
        "created_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap()
}

// ----- a panicking authorizer ------------------------------------------------------------------

/// Panics on its first check, allows afterwards.
struct PanicsOnce {
    calls: Arc<AtomicUsize>,
}

impl Authorizer for PanicsOnce {
    fn check<'a>(&'a self, _: &'a CheckRequest) -> CheckFuture<'a> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if call == 0 {
                panic!("the authority panicked");
            }
            Ok(Decision::Allow)
        })
    }
}

/// An authorizer that panics gives one 503 and counts one error; the next request asks
/// again (it left its in-flight entry behind: 503 at once until an invalidation).
#[tokio::test]
async fn a_panicking_authorizer_is_one_503_and_the_next_request_asks_again() {
    let signer = workos_authz::session::TokenSigner::generate().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let authz = Authz::builder()
        .verifier(verifier_for(&signer))
        .authorizer(PanicsOnce {
            calls: calls.clone(),
        })
        .claims_shortcut(false)
        .build()
        .unwrap();
    let base = format!("http://{}", serve(app(&authz)).await);
    let token = signer
        .sign(&member_claims("user_x", "org_1", Some("om_x"), &[]))
        .unwrap();
    let url = format!("{base}/projects/proj_1");

    let reply = get_bearer(&client(), &url, &token).await;
    assert_problem(&reply, 503, "panicked");
    let stats = authz.check_cache().unwrap().stats();
    assert_eq!((stats.misses, stats.errors), (1, 1), "{stats:?}");

    let reply = get_bearer(&client(), &url, &token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
