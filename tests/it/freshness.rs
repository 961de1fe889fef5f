//! Revocation: a removed role assignment stops working within the allow TTL, and at once after
//! a signed WorkOS webhook or an event from the events feed; a webhook with a bad signature is
//! 401 and changes nothing; `session.revoked` refuses a token already verified and cached.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use workos_authz::check::{CachedAuthorizer, ResourceRef};
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::workos::WorkOsClient;
use workos_authz::workos::webhook::{SIGNATURE_HEADER, sign_webhook};
use workos_authz::{Authz, Session, require_permission};

use crate::common::*;

const SECRET: &[u8] = b"whsec_freshness_test";

/// The demo model on the local engine behind a decision cache with `allow_ttl`, the claims
/// shortcut off (so every allow is a cached decision), the webhook mounted outside the layer.
struct Fixture {
    model: DemoModel,
    authz: Authz,
    signer: Arc<TokenSigner>,
    base: String,
    http: reqwest::Client,
}

async fn fixture(allow_ttl: Duration) -> Fixture {
    fixture_with(allow_ttl, allow_ttl).await
}

async fn fixture_with(allow_ttl: Duration, deny_ttl: Duration) -> Fixture {
    let model = demo_model();
    let signer = Arc::new(TokenSigner::generate().expect("key"));
    let authz = Authz::builder()
        .verifier(verifier_for(&signer))
        .cached_authorizer(
            CachedAuthorizer::builder(model.engine.clone())
                .allow_ttl(allow_ttl)
                .deny_ttl(deny_ttl)
                .jitter(0.0)
                .build(),
        )
        .membership_resolver(model.engine.clone())
        .claims_shortcut(false)
        .build()
        .expect("authz");
    let app = Router::new()
        .route(
            "/projects/{project_id}",
            get(|| async { "project" }).route_layer(
                require_permission("projects:read").on_resource("project", "project_id"),
            ),
        )
        .route(
            "/me",
            get(|session: Session| async move { session.user_id().to_owned() }),
        )
        .layer(authz.layer())
        .route("/webhooks/workos", authz.webhook_handler(SECRET));
    let base = format!("http://{}", serve(app).await);
    Fixture {
        model,
        authz,
        signer,
        base,
        http: client(),
    }
}

impl Fixture {
    fn sign(&self, claims: &SessionClaims) -> String {
        self.signer.sign(claims).expect("sign")
    }

    fn bob(&self) -> String {
        self.sign(&member_claims(
            "user_bob",
            "org_acme",
            Some(&self.model.bob),
            &[],
        ))
    }

    fn alice(&self) -> String {
        self.sign(&member_claims(
            "user_alice",
            "org_acme",
            Some(&self.model.alice),
            &["projects:read", "projects:delete"],
        ))
    }

    fn carol(&self) -> String {
        self.sign(&member_claims(
            "user_carol",
            "org_globex",
            Some(&self.model.carol),
            &["projects:read", "projects:delete"],
        ))
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        get_bearer(&self.http, &format!("{}{path}", self.base), token).await
    }

    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}/webhooks/workos", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        send(request).await
    }

    fn stats(&self) -> workos_authz::check::CacheStats {
        self.authz.check_cache().unwrap().stats()
    }

    fn remove_bobs_viewer_role(&self) {
        self.model
            .engine
            .remove_role(
                &self.model.bob,
                "viewer",
                &ResourceRef::external("project", "proj_apollo"),
            )
            .expect("remove the assignment");
        assert!(
            !self
                .model
                .engine
                .check(
                    &self.model.bob,
                    "projects:read",
                    &ResourceRef::external("project", "proj_apollo")
                )
                .unwrap(),
            "the engine still grants it"
        );
    }

    /// bob's request is answered 200 from the cache (a hit, no new miss).
    async fn assert_bob_served_from_cache(&self, context: &str) {
        let before = self.stats();
        let reply = self.get("/projects/proj_apollo", &self.bob()).await;
        let after = self.stats();
        assert_eq!(reply.status, 200, "{context}: {reply:?}");
        assert_eq!(
            (after.hits, after.misses),
            (before.hits + 1, before.misses),
            "{context}: not a cache hit"
        );
    }
}

fn membership_event(id: &str, membership: &str, user: &str, organization: &str) -> Vec<u8> {
    json!({
        "id": id,
        "event": "organization_membership.updated",
        "data": {"id": membership, "user_id": user, "organization_id": organization,
                 "object": "organization_membership", "status": "active"},
        "created_at": "2026-11-23T03:00:00.000Z",
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_removed_assignment_ends_within_the_allow_ttl() {
    const TTL: Duration = Duration::from_secs(1);
    let fixture = fixture(TTL).await;
    let bob = fixture.bob();
    let before_decision = Instant::now();
    let reply = fixture.get("/projects/proj_apollo", &bob).await;
    let after_decision = Instant::now();
    assert_eq!(reply.status, 200, "{reply:?}");

    fixture.remove_bobs_viewer_role();
    // Before the TTL the cached allow is still served: the cache is really in use.
    fixture
        .assert_bob_served_from_cache("right after the removal")
        .await;
    assert!(
        after_decision.elapsed() < TTL,
        "the machine is too slow for this test"
    );

    let mut statuses = Vec::new();
    let ended = poll_until(async || {
        let reply = fixture.get("/projects/proj_apollo", &bob).await;
        statuses.push(reply.status);
        reply.status == 403
    })
    .await;
    let ended_at = Instant::now();
    assert!(ended, "access never ended: {statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(
        ended_at - before_decision >= TTL,
        "ended {:?} after the decision, before the TTL: the TTL is not what ended it",
        ended_at - before_decision
    );
    assert!(
        ended_at - after_decision <= TTL + Duration::from_millis(300),
        "still allowed {:?} after the decision",
        ended_at - after_decision
    );
}

#[tokio::test]
async fn a_signed_membership_webhook_ends_access_at_once_and_a_bad_one_changes_nothing() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let (bob, alice) = (fixture.bob(), fixture.alice());
    assert_eq!(fixture.get("/projects/proj_apollo", &bob).await.status, 200);
    assert_eq!(
        fixture.get("/projects/proj_apollo", &alice).await.status,
        200
    );
    fixture.remove_bobs_viewer_role();
    fixture
        .assert_bob_served_from_cache("after the removal")
        .await;

    let body = membership_event("event_01", &fixture.model.bob, "user_bob", "org_acme");
    let now = SystemTime::now();
    let good = sign_webhook(&body, SECRET, now);
    let mut tampered = body.clone();
    // Same length, another membership: the signature no longer matches.
    let at = String::from_utf8_lossy(&body)
        .find("om_")
        .expect("membership id")
        + 3;
    tampered[at] = if tampered[at] == b'X' { b'Y' } else { b'X' };
    let (t, v1) = good.split_once(", ").expect("t=..., v1=...");
    let (body_ref, tampered_ref): (&[u8], &[u8]) = (&body, &tampered);
    let refused: Vec<(&str, &[u8], Option<String>)> = vec![
        (
            "wrong secret",
            body_ref,
            Some(sign_webhook(&body, b"whsec_other", now)),
        ),
        ("tampered body", tampered_ref, Some(good.clone())),
        (
            "stale timestamp",
            body_ref,
            Some(sign_webhook(&body, SECRET, now - Duration::from_secs(181))),
        ),
        (
            "timestamp from the future",
            body_ref,
            Some(sign_webhook(&body, SECRET, now + Duration::from_secs(181))),
        ),
        ("missing header", body_ref, None),
        ("empty header", body_ref, Some(String::new())),
        ("no timestamp", body_ref, Some(v1.to_owned())),
        ("no signature", body_ref, Some(t.to_owned())),
        (
            "garbage signature",
            body_ref,
            Some(format!("{t}, v1={}", "0".repeat(64))),
        ),
    ];
    for (context, body, signature) in refused {
        let reply = fixture.webhook(body, signature.as_deref()).await;
        assert_problem(&reply, 401, context);
        fixture
            .assert_bob_served_from_cache(&format!("after a webhook with {context}"))
            .await;
    }
    // A genuine signature over something that is not an event: 400, nothing changes.
    let not_event: &[u8] = b"[1, 2, 3]";
    let reply = fixture
        .webhook(
            not_event,
            Some(sign_webhook(not_event, SECRET, now).as_str()),
        )
        .await;
    assert_problem(&reply, 400, "signed non-event");
    fixture
        .assert_bob_served_from_cache("after a signed non-event")
        .await;

    let reply = fixture.webhook(&body, Some(good.as_str())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({"received": true}));

    // At once: the next request asks the engine again and is refused.
    let before = fixture.stats();
    assert_forbidden(
        &fixture.get("/projects/proj_apollo", &bob).await,
        "bob after the webhook",
    );
    assert_eq!(fixture.stats().misses, before.misses + 1);
    // Only that membership was forgotten: alice's allow is still a cache hit.
    let before = fixture.stats();
    assert_eq!(
        fixture.get("/projects/proj_apollo", &alice).await.status,
        200
    );
    assert_eq!(
        fixture.stats().hits,
        before.hits + 1,
        "alice's decision was dropped too"
    );

    // The same delivery replayed within the tolerance is refused, and invalidates nothing.
    let reply = fixture.webhook(&body, Some(good.as_str())).await;
    assert_problem(&reply, 401, "replayed webhook");
    let before = fixture.stats();
    assert_eq!(
        fixture.get("/projects/proj_apollo", &alice).await.status,
        200
    );
    assert_eq!(
        fixture.stats().hits,
        before.hits + 1,
        "the replay invalidated"
    );
}

#[tokio::test]
async fn a_session_revoked_webhook_refuses_a_cached_token() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let revoked_claims = member_claims("user_bob", "org_acme", Some(&fixture.model.bob), &[]);
    let sid = revoked_claims.sid.clone().expect("a session id");
    let revoked = fixture.sign(&revoked_claims);
    let other = fixture.bob();
    for token in [&revoked, &other] {
        assert_eq!(fixture.get("/me", token).await.status, 200);
        assert_eq!(
            fixture.get("/projects/proj_apollo", token).await.status,
            200
        );
    }
    let body = json!({
        "id": "event_02",
        "event": "session.revoked",
        "data": {"id": sid, "object": "session", "user_id": "user_bob"},
        "created_at": "2026-11-23T03:00:00.000Z",
    })
    .to_string();
    // A forged revocation changes nothing.
    let forged = fixture
        .webhook(
            body.as_bytes(),
            Some(sign_webhook(body.as_bytes(), b"nope", SystemTime::now()).as_str()),
        )
        .await;
    assert_problem(&forged, 401, "forged session.revoked");
    assert_eq!(fixture.get("/me", &revoked).await.status, 200);

    let reply = fixture
        .webhook(
            body.as_bytes(),
            Some(sign_webhook(body.as_bytes(), SECRET, SystemTime::now()).as_str()),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    for path in ["/me", "/projects/proj_apollo"] {
        let reply = fixture.get(path, &revoked).await;
        assert_invalid_token(&reply, &revoked, &format!("revoked token on {path}"));
    }
    // Another session of the same user is untouched.
    assert_eq!(fixture.get("/me", &other).await.status, 200);
}

type QueryPairs = Vec<(String, String)>;

/// A `GET /events` feed on loopback: answers up to `limit` of its events after the `after`
/// cursor (from the start for a cursor it does not hold), and records the query of each
/// request.
#[derive(Clone)]
struct Feed {
    events: Arc<Vec<Value>>,
    queries: Arc<Mutex<Vec<QueryPairs>>>,
}

async fn list_events(
    State(feed): State<Feed>,
    Query(query): Query<Vec<(String, String)>>,
) -> Json<Value> {
    let after = query
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.clone());
    let limit: usize = query
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(10);
    feed.queries.lock().unwrap().push(query);
    // The events after the cursor (all of them for a cursor the feed does not hold).
    let start = after
        .and_then(|after| feed.events.iter().position(|e| e["id"] == after.as_str()))
        .map_or(0, |i| i + 1);
    let data: Vec<Value> = feed
        .events
        .iter()
        .skip(start)
        .take(limit)
        .cloned()
        .collect();
    Json(json!({
        "object": "list",
        "data": data,
        "list_metadata": {"before": null, "after": null},
    }))
}

async fn feed(events: Vec<Value>) -> (WorkOsClient, Feed) {
    let feed = Feed {
        events: Arc::new(events),
        queries: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/events", get(list_events))
        .with_state(feed.clone());
    let base = format!("http://{}", serve(app).await);
    let client = WorkOsClient::builder("sk_test_events_feed")
        .base_url(base)
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    (client, feed)
}

fn feed_events(fixture: &Fixture, revoked_sid: &str) -> Vec<Value> {
    vec![
        serde_json::from_slice(&membership_event(
            "event_01",
            &fixture.model.bob,
            "user_bob",
            "org_acme",
        ))
        .unwrap(),
        json!({"id": "event_02", "event": "session.revoked",
               "data": {"id": revoked_sid, "object": "session"},
               "created_at": "2026-11-23T03:00:01.000Z"}),
        json!({"id": "event_03", "event": "organization_role.updated",
               "data": {"slug": "org-auditor", "organization_id": "org_globex"},
               "created_at": "2026-11-23T03:00:02.000Z"}),
    ]
}

#[tokio::test]
async fn the_events_feed_invalidates_like_webhooks_and_returns_the_cursor() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let (bob, alice, carol) = (fixture.bob(), fixture.alice(), fixture.carol());
    let revoked_claims = member_claims("user_alice", "org_acme", Some(&fixture.model.alice), &[]);
    let revoked = fixture.sign(&revoked_claims);
    for (token, path) in [
        (&bob, "/projects/proj_apollo"),
        (&alice, "/projects/proj_apollo"),
        (&carol, "/projects/proj_hermes"),
        (&revoked, "/me"),
    ] {
        assert_eq!(fixture.get(path, token).await.status, 200);
    }
    fixture.remove_bobs_viewer_role();
    fixture
        .assert_bob_served_from_cache("before the feed")
        .await;

    let (client, feed) = feed(feed_events(
        &fixture,
        revoked_claims.sid.as_deref().unwrap(),
    ))
    .await;
    let cursor = fixture
        .authz
        .apply_events_since(&client, Some("event_00".into()))
        .await
        .expect("the feed answers");
    assert_eq!(cursor.as_deref(), Some("event_03"));

    // The request asked for the events after the cursor, of the cache-relevant types.
    let queries = feed.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1, "{queries:?}");
    let param = |name: &str| {
        queries[0]
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(param("after"), "event_00");
    let types: Vec<String> = param("events").split(',').map(str::to_owned).collect();
    for kind in [
        "organization_membership.updated",
        "session.revoked",
        "role.updated",
    ] {
        assert!(
            types.iter().any(|t| t == kind),
            "{kind} not asked: {types:?}"
        );
    }

    // event_01: bob's decisions are gone, at once.
    assert_forbidden(
        &fixture.get("/projects/proj_apollo", &bob).await,
        "bob after the feed",
    );
    // event_02: the revoked session's token is refused although it was cached.
    assert_invalid_token(&fixture.get("/me", &revoked).await, &revoked, "revoked");
    // event_03: Globex's decisions are asked again; Acme's other decisions are still cached.
    let before = fixture.stats();
    assert_eq!(
        fixture.get("/projects/proj_hermes", &carol).await.status,
        200
    );
    assert_eq!(
        fixture.stats().misses,
        before.misses + 1,
        "Globex not invalidated"
    );
    let before = fixture.stats();
    assert_eq!(
        fixture.get("/projects/proj_apollo", &alice).await.status,
        200
    );
    assert_eq!(
        fixture.stats().hits,
        before.hits + 1,
        "alice's decision was dropped"
    );

    // Resuming from the cursor: nothing new, the cursor stays.
    let again = fixture
        .authz
        .apply_events_since(&client, cursor.clone())
        .await
        .expect("the feed answers");
    assert_eq!(again, cursor);
    assert_eq!(feed.queries.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_background_poller_applies_the_feed() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let bob = fixture.bob();
    assert_eq!(fixture.get("/projects/proj_apollo", &bob).await.status, 200);
    fixture.remove_bobs_viewer_role();
    fixture
        .assert_bob_served_from_cache("before the poller")
        .await;
    let (client, _feed) = feed(feed_events(&fixture, "session_unrelated")).await;
    let poller = fixture.authz.spawn_events_poller(
        client,
        Duration::from_millis(20),
        Some("event_00".into()),
    );
    assert!(
        poll_until(async || poller.cursor().as_deref() == Some("event_03")).await,
        "cursor {:?}",
        poller.cursor()
    );
    assert_forbidden(
        &fixture.get("/projects/proj_apollo", &bob).await,
        "bob after the poller",
    );
    drop(poller);
}

/// The other cache events, through the signed webhook: each invalidates what it names and
/// no more; an event the caches do not care about changes nothing.
#[tokio::test]
async fn other_events_invalidate_what_they_name() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let (alice, bob, carol) = (fixture.alice(), fixture.bob(), fixture.carol());
    let requests = [
        ("alice", &alice, "/projects/proj_apollo"),
        ("bob", &bob, "/projects/proj_apollo"),
        ("carol", &carol, "/projects/proj_hermes"),
    ];
    // Asks each user's route once; returns who was answered from the cache.
    let cached = async || {
        let mut cached = Vec::new();
        for (name, token, path) in requests {
            let before = fixture.stats();
            assert_eq!(fixture.get(path, token).await.status, 200, "{name}");
            if fixture.stats().hits > before.hits {
                cached.push(name);
            }
        }
        cached
    };
    cached().await;
    assert_eq!(cached().await, ["alice", "bob", "carol"]);

    let cases = [
        (
            json!({"id": "event_10", "event": "connection.activated", "data": {"id": "conn_1"}}),
            &["alice", "bob", "carol"][..],
        ),
        (
            json!({"id": "event_11", "event": "organization.deleted",
                   "data": {"id": "org_globex", "object": "organization"}}),
            &["alice", "bob"],
        ),
        (
            json!({"id": "event_12", "event": "organization_role.deleted",
                   "data": {"slug": "org-x", "organization_id": "org_acme"}}),
            &["carol"],
        ),
        (
            json!({"id": "event_13", "event": "role.updated", "data": {"slug": "admin"}}),
            &[],
        ),
        (
            json!({"id": "event_14", "event": "permission.deleted",
                   "data": {"slug": "projects:read"}}),
            &[],
        ),
        (
            json!({"id": "event_15", "event": "user.deleted", "data": {"id": "user_zed"}}),
            &[],
        ),
    ];
    for (mut event, still_cached) in cases {
        event["created_at"] = json!("2026-11-23T03:00:00.000Z");
        let kind = event["event"].as_str().unwrap().to_owned();
        cached().await; // everyone cached again
        let body = event.to_string();
        let reply = fixture
            .webhook(
                body.as_bytes(),
                Some(sign_webhook(body.as_bytes(), SECRET, SystemTime::now()).as_str()),
            )
            .await;
        assert_eq!(reply.status, 200, "{kind}: {reply:?}");
        assert_eq!(cached().await, still_cached, "after {kind}");
    }
}

/// A feed more than one page behind is read page by page, `limit=100`, each page after the
/// last event of the one before; the cursor is the last event applied.
#[tokio::test]
async fn the_events_feed_is_read_to_its_end_page_by_page() {
    let fixture = fixture(Duration::from_secs(600)).await;
    let bob = fixture.bob();
    assert_eq!(fixture.get("/projects/proj_apollo", &bob).await.status, 200);
    fixture.remove_bobs_viewer_role();
    // 149 unrelated events, then the one that matters, on the second page.
    let mut events: Vec<Value> = (1..150)
        .map(|i| {
            json!({"id": format!("event_{i:03}"), "event": "connection.activated",
                   "data": {"id": format!("conn_{i}")}, "created_at": "2026-11-23T03:00:00.000Z"})
        })
        .collect();
    events.push(
        serde_json::from_slice(&membership_event(
            "event_150",
            &fixture.model.bob,
            "user_bob",
            "org_acme",
        ))
        .unwrap(),
    );
    let (client, feed) = feed(events).await;
    let cursor = fixture
        .authz
        .apply_events_since(&client, None)
        .await
        .expect("the feed answers");
    assert_eq!(cursor.as_deref(), Some("event_150"));
    let queries = feed.queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 2, "{queries:?}");
    let param = |query: &QueryPairs, name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(param(&queries[0], "after"), None);
    assert_eq!(param(&queries[1], "after").as_deref(), Some("event_100"));
    for query in &queries {
        assert_eq!(param(query, "limit").as_deref(), Some("100"));
    }
    assert_forbidden(
        &fixture.get("/projects/proj_apollo", &bob).await,
        "bob after the second page",
    );
}

/// Allow and deny have their own TTL: with a short deny TTL a new grant shows within it,
/// while a revoked grant's long-lived allow is still served all that time.
#[tokio::test]
async fn allow_and_deny_have_their_own_ttl() {
    const DENY_TTL: Duration = Duration::from_millis(400);
    let fixture = fixture_with(Duration::from_secs(600), DENY_TTL).await;
    let bob = fixture.bob();
    assert_eq!(fixture.get("/projects/proj_apollo", &bob).await.status, 200);
    let before_deny = Instant::now();
    assert_forbidden(&fixture.get("/projects/proj_zeus", &bob).await, "zeus");
    let after_deny = Instant::now();

    // bob gets zeus and loses apollo.
    fixture
        .model
        .engine
        .assign_role(
            &fixture.model.bob,
            "viewer",
            &ResourceRef::external("project", "proj_zeus"),
        )
        .expect("assign");
    fixture.remove_bobs_viewer_role();
    let before = fixture.stats();
    assert_forbidden(
        &fixture.get("/projects/proj_zeus", &bob).await,
        "zeus, deny still cached",
    );
    assert_eq!(fixture.stats().hits, before.hits + 1);

    let mut statuses = Vec::new();
    let granted = poll_until(async || {
        let reply = fixture.get("/projects/proj_zeus", &bob).await;
        statuses.push(reply.status);
        reply.status == 200
    })
    .await;
    let granted_at = Instant::now();
    assert!(granted, "the new grant never showed: {statuses:?}");
    assert!(
        granted_at - before_deny >= DENY_TTL,
        "{:?}",
        granted_at - before_deny
    );
    assert!(
        granted_at - after_deny <= DENY_TTL + Duration::from_millis(300),
        "{:?}",
        granted_at - after_deny
    );
    // The allow on apollo is still the cached one, past the deny TTL.
    fixture
        .assert_bob_served_from_cache("apollo, allow TTL not over")
        .await;
}
