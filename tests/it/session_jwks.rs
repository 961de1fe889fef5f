//! The verifier against a real JWKS server on loopback: key rotation, key removal, a server
//! that goes down or was never up, floods of unknown key ids, the periodic refresh, and the
//! WorkOS setup built by `Authz::from_lookup`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use workos_authz::session::TokenError;
use workos_authz::{Authz, Session, SessionVerifier};

use crate::common::*;

async fn me(session: Session) -> axum::Json<Value> {
    axum::Json(
        json!({ "user_id": session.user_id(), "organization_id": session.organization_id() }),
    )
}

/// `/me` behind the required layer, served on loopback; returns its URL.
async fn serve_me(authz: &Authz) -> String {
    let app = Router::new().route("/me", get(me)).layer(authz.layer());
    format!("http://{}/me", serve(app).await)
}

fn verifier_for(server: &JwksServer, cooldown: Duration, refresh: Duration) -> SessionVerifier {
    SessionVerifier::builder()
        .jwks_url(&server.url)
        .unknown_kid_cooldown(cooldown)
        .refresh_interval(refresh)
        .build()
        .unwrap()
}

fn authz_for(verifier: SessionVerifier) -> Authz {
    Authz::builder().verifier(verifier).build().unwrap()
}

const LONG: Duration = Duration::from_secs(3600);
const SHORT: Duration = Duration::from_millis(200);

#[tokio::test]
async fn a_rotated_in_key_is_accepted_after_exactly_one_refetch() {
    let (a, b) = (RsaKey::generate("key_a"), RsaKey::generate("key_b"));
    let jwks = JwksServer::start(vec![a.jwk()]).await;
    let authz = authz_for(verifier_for(&jwks, SHORT, LONG));
    let url = serve_me(&authz).await;
    let http = client();

    let reply = get_bearer(&http, &url, &a.sign(&claims("user_a"))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(jwks.fetches(), 1, "the first request loads the JWKS once");

    // The issuer rotates: key_b appears. Until the cooldown after the first fetch has passed,
    // key_b's tokens are refused without refetching; then one refetch brings key_b in.
    jwks.set_keys(vec![a.jwk(), b.jwk()]);
    let token_b = b.sign(&claims("user_b"));
    let mut refusals = 0;
    let accepted = poll_until(async || {
        let reply = get_bearer(&http, &url, &token_b).await;
        if reply.status != 200 {
            assert_invalid_token(&reply, &token_b, "new kid before the refetch");
            refusals += 1;
        }
        reply.status == 200
    })
    .await;
    assert!(accepted, "the new kid was never accepted");
    assert_eq!(
        jwks.fetches(),
        2,
        "exactly one refetch for the new kid ({refusals} refusals first)"
    );

    // Both keys now verify without any further fetch.
    for token in [a.sign(&claims("user_a2")), b.sign(&claims("user_b2"))] {
        let reply = get_bearer(&http, &url, &token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn a_removed_key_is_rejected_after_refresh_even_for_cached_tokens() {
    let (a, b) = (RsaKey::generate("key_a"), RsaKey::generate("key_b"));
    let jwks = JwksServer::start(vec![a.jwk(), b.jwk()]).await;
    let authz = authz_for(verifier_for(&jwks, LONG, LONG));
    let url = serve_me(&authz).await;
    let http = client();

    let token_a = a.sign(&claims("user_a"));
    let token_b = b.sign(&claims("user_b"));
    let fresh_b = b.sign(&claims("user_b_fresh"));
    for token in [&token_a, &token_b, &token_b] {
        let reply = get_bearer(&http, &url, token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(jwks.fetches(), 1);

    // key_b is withdrawn (compromised); the next refresh must drop it and every token it
    // signed, including token_b that sits in the verified-token cache.
    jwks.set_keys(vec![a.jwk()]);
    authz.verifier().prefetch().await.unwrap();
    assert_eq!(jwks.fetches(), 2);

    let reply = get_bearer(&http, &url, &token_b).await;
    assert_invalid_token(&reply, &token_b, "cached token of a removed key");
    let reply = get_bearer(&http, &url, &fresh_b).await;
    assert_invalid_token(&reply, &fresh_b, "fresh token of a removed key");
    let reply = get_bearer(&http, &url, &token_a).await;
    assert_eq!(
        reply.status, 200,
        "the remaining key still verifies: {reply:?}"
    );
    assert!(matches!(
        authz.verifier().verify(&token_b).await,
        Err(TokenError::UnknownKeyId)
    ));
}

#[tokio::test]

async fn a_key_replaced_under_the_same_kid_invalidates_cached_tokens() {
    let old = RsaKey::generate("key_1");
    let new = RsaKey::generate("key_1");
    let jwks = JwksServer::start(vec![old.jwk()]).await;
    let authz = authz_for(verifier_for(&jwks, LONG, LONG));
    let url = serve_me(&authz).await;
    let http = client();

    let cached = old.sign(&claims("user_old"));
    let reply = get_bearer(&http, &url, &cached).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // The issuer replaces the key material but keeps the kid.
    jwks.set_keys(vec![new.jwk()]);
    authz.verifier().prefetch().await.unwrap();

    // A token of the old key that was never cached is refused (signature mismatch) ...
    let uncached = old.sign(&claims("user_old_2"));
    let reply = get_bearer(&http, &url, &uncached).await;
    assert_invalid_token(&reply, &uncached, "uncached token of the replaced key");
    // ... and so must be the one the cache remembers.
    let reply = get_bearer(&http, &url, &cached).await;
    assert_invalid_token(&reply, &cached, "cached token of the replaced key");
    let reply = get_bearer(&http, &url, &new.sign(&claims("user_new"))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn a_jwks_server_that_goes_down_keeps_the_last_good_key_set() {
    for mode in [JwksMode::Error500, JwksMode::Garbage, JwksMode::Huge] {
        let a = RsaKey::generate("key_a");
        let jwks = JwksServer::start(vec![a.jwk()]).await;
        let verifier = verifier_for(&jwks, SHORT, LONG);
        verifier.verify(&a.sign(&claims("user_a"))).await.unwrap();
        assert_eq!(jwks.fetches(), 1);

        jwks.set_mode(mode);
        // Unknown kids make the verifier refetch once the cooldown allows: that refetch fails.
        let mut outcomes = Vec::new();
        let refetched = poll_until(async || {
            let token = a.sign_header(
                &json!({"alg": "RS256", "kid": random_id("kid_")}),
                &claims("user_x"),
            );
            outcomes.push(verifier.verify(&token).await);
            jwks.fetches() >= 2
        })
        .await;
        assert!(refetched, "{mode:?}: no refetch was attempted");
        assert_eq!(jwks.fetches(), 2, "{mode:?}: one failed refetch");
        // Within the cooldown the set that answered says the kids are unknown (401); the kid
        // that needed the failed refetch is not the token's fault (503).
        let failed = outcomes.pop().expect("at least one outcome").unwrap_err();
        assert_eq!(failed, TokenError::KeysUnavailable, "{mode:?}");
        for outcome in outcomes {
            assert_eq!(
                outcome.unwrap_err(),
                TokenError::UnknownKeyId,
                "{mode:?}: within the cooldown of an answered JWKS"
            );
        }

        // The key loaded before the failure still verifies new (uncached) tokens.
        let session = verifier.verify(&a.sign(&claims("user_fresh"))).await;
        assert_eq!(session.unwrap().user_id(), "user_fresh", "{mode:?}");
        assert_eq!(jwks.fetches(), 2, "{mode:?}: a known kid needs no fetch");
    }
}

#[tokio::test]
async fn a_jwks_that_never_answered_gives_503_not_401() {
    let a = RsaKey::generate("key_a");
    let token = a.sign(&claims("user_a"));
    let http = client();

    // Nothing listens on the URL.
    let dead = closed_port().await;
    let verifier = SessionVerifier::builder()
        .jwks_url(format!("http://{dead}/jwks.json"))
        .build()
        .unwrap();
    let url = serve_me(&authz_for(verifier)).await;
    let reply = get_bearer(&http, &url, &token).await;
    assert_problem(&reply, 503, "JWKS unreachable");
    assert!(!reply.challenge().contains("invalid_token"), "{reply:?}");
    assert_no_echo(&reply, &token, "JWKS unreachable");

    // The server answers 500 from the start; then it recovers.
    let jwks = JwksServer::start(vec![a.jwk()]).await;
    jwks.set_mode(JwksMode::Error500);
    let url = serve_me(&authz_for(verifier_for(&jwks, SHORT, LONG))).await;
    let reply = get_bearer(&http, &url, &token).await;
    assert_problem(&reply, 503, "JWKS answering 500");
    assert_eq!(jwks.fetches(), 1);

    jwks.set_mode(JwksMode::Up);
    let recovered = poll_until(async || {
        let reply = get_bearer(&http, &url, &token).await;
        assert!(matches!(reply.status, 200 | 503), "{reply:?}");
        reply.status == 200
    })
    .await;
    assert!(recovered, "the verifier never retried the JWKS");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_over_http_fetches_the_jwks_once() {
    let a = RsaKey::generate("key_a");
    let jwks = JwksServer::start(vec![a.jwk()]).await;
    // Default cooldown (30 s): the whole flood is in one window.
    let verifier = SessionVerifier::builder()
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let url = serve_me(&authz_for(verifier)).await;
    let http = client();

    let payload = claims("user_flood").to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        // The kid is looked up before the signature is checked, so no signature is needed.
        let header = json!({"alg": "RS256", "kid": random_id("kid_")}).to_string();
        let token = with_signature(header.as_bytes(), payload.as_bytes(), "c2lnbmF0dXJl");
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            let reply = get_bearer(&http, &url, &token).await;
            assert_invalid_token(&reply, &token, "flood");
        });
    }
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
        done += 1;
    }
    assert_eq!(done, 1000);
    assert_eq!(
        jwks.fetches(),
        1,
        "1,000 unknown kids in one cooldown window: one fetch"
    );

    let reply = get_bearer(&http, &url, &a.sign(&claims("user_a"))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn unknown_kids_cause_at_most_one_fetch_per_cooldown_window() {
    const COOLDOWN: Duration = Duration::from_millis(400);
    let a = RsaKey::generate("key_a");
    let jwks = JwksServer::start(vec![a.jwk()]).await;
    let verifier = verifier_for(&jwks, COOLDOWN, LONG);
    let payload = claims("user_flood").to_string();

    // Waves of concurrent verifications with fresh random kids, for about four windows.
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let mut verified = 0usize;
    for _ in 0..200 {
        if start.elapsed() > COOLDOWN * 4 {
            break;
        }
        ticker.tick().await;
        let wave = if verified == 0 { 1000 } else { 50 };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..wave {
            let header = json!({"alg": "RS256", "kid": random_id("kid_")}).to_string();
            let token = with_signature(header.as_bytes(), payload.as_bytes(), "c2ln");
            let verifier = verifier.clone();
            tasks.spawn(async move { verifier.verify(&token).await });
        }
        while let Some(result) = tasks.join_next().await {
            assert_eq!(result.unwrap().unwrap_err(), TokenError::UnknownKeyId);
            verified += 1;
        }
    }
    let elapsed = start.elapsed();
    let times = jwks.fetch_times();
    let windows = (elapsed.as_millis() / COOLDOWN.as_millis()) as usize + 1;
    assert!(
        times.len() >= 2,
        "unknown kids kept coming for {elapsed:?}: the window must reopen ({} fetches)",
        times.len()
    );
    assert!(
        times.len() <= windows,
        "{} fetches in {elapsed:?} with a {COOLDOWN:?} cooldown ({verified} verifications)",
        times.len()
    );
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // Fetches are timed on arrival at the server; allow for loopback latency.
        assert!(
            gap >= COOLDOWN / 2,
            "two fetches {gap:?} apart with a {COOLDOWN:?} cooldown"
        );
    }
}

#[tokio::test]
async fn the_periodic_refresh_picks_up_new_keys_and_drops_removed_ones() {
    let (a, b, c) = (
        RsaKey::generate("key_a"),
        RsaKey::generate("key_b"),
        RsaKey::generate("key_c"),
    );
    let jwks = JwksServer::start(vec![a.jwk(), b.jwk()]).await;
    // Unknown kids may not trigger a refetch for an hour: only the periodic refresh can
    // change the key set.
    let verifier = verifier_for(&jwks, LONG, Duration::from_millis(200));
    let token_a = a.sign(&claims("user_a"));
    let token_b = b.sign(&claims("user_b"));
    let token_c = c.sign(&claims("user_c"));
    verifier.verify(&token_a).await.unwrap();
    verifier.verify(&token_b).await.unwrap();
    assert_eq!(
        verifier.verify(&token_c).await.unwrap_err(),
        TokenError::UnknownKeyId
    );

    jwks.set_keys(vec![a.jwk(), c.jwk()]);
    let changed_at = jwks.fetches();
    // Wait for the effect (key_c accepted), not just the fetch: the fetch is counted before
    // its answer is installed. Verifying key_c cannot itself cause a fetch here.
    let accepted = poll_until(async || verifier.verify(&token_c).await.is_ok()).await;
    assert!(
        accepted,
        "key_c never accepted: no periodic refresh within 5 s"
    );
    assert_eq!(verifier.verify(&token_c).await.unwrap().user_id(), "user_c");
    assert!(jwks.fetches() > changed_at);
    assert_eq!(
        verifier.verify(&token_b).await.unwrap_err(),
        TokenError::UnknownKeyId,
        "the removed key's cached token is dropped by the periodic refresh"
    );
    assert_eq!(verifier.verify(&token_a).await.unwrap().user_id(), "user_a");
}

#[tokio::test]
async fn from_lookup_accepts_the_three_workos_issuers_and_no_other() {
    let key = RsaKey::generate("key_workos");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let base = jwks.base.clone();
    let lookup = |name: &str| match name {
        "WORKOS_CLIENT_ID" => Some("client_123".to_owned()),
        "WORKOS_BASE_URL" => Some(base.clone()),
        _ => None,
    };
    let authz = Authz::from_lookup(lookup).unwrap();
    assert!(matches!(authz.mode(), workos_authz::Mode::WorkOs { .. }));
    let url = serve_me(&authz).await;
    let http = client();

    let token_with = |iss: Option<&str>| {
        let mut claims = claims("user_w");
        match iss {
            Some(iss) => claims["iss"] = json!(iss),
            None => {
                claims.as_object_mut().unwrap().remove("iss");
            }
        }
        key.sign(&claims)
    };
    for iss in [
        base.clone(),
        format!("{base}/"),
        format!("{base}/user_management/client_123"),
    ] {
        let reply = get_bearer(&http, &url, &token_with(Some(&iss))).await;
        assert_eq!(reply.status, 200, "issuer {iss}: {reply:?}");
    }
    for iss in [
        Some("https://api.workos.com".to_owned()),
        Some(format!("{base}/user_management/client_other")),
        Some(format!("{base}//")),
        Some(base.to_uppercase()),
        None,
    ] {
        let token = token_with(iss.as_deref());
        let reply = get_bearer(&http, &url, &token).await;
        assert_invalid_token(&reply, &token, &format!("issuer {iss:?}"));
    }
    let paths = jwks.paths();
    assert!(!paths.is_empty());
    assert!(
        paths.iter().all(|p| p == "/sso/jwks/client_123"),
        "JWKS fetched from {paths:?}"
    );

    // WORKOS_ISSUER narrows the list to exactly that issuer.
    let only = format!("{base}/user_management/client_123");
    let authz = Authz::from_lookup(|name: &str| match name {
        "WORKOS_CLIENT_ID" => Some("client_123".to_owned()),
        "WORKOS_BASE_URL" => Some(base.clone()),
        "WORKOS_ISSUER" => Some(only.clone()),
        _ => None,
    })
    .unwrap();
    let url = serve_me(&authz).await;
    let reply = get_bearer(&http, &url, &token_with(Some(&only))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let token = token_with(Some(&base));
    let reply = get_bearer(&http, &url, &token).await;
    assert_invalid_token(&reply, &token, "issuer outside WORKOS_ISSUER");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch_and_all_succeed() {
    let key = RsaKey::generate("key_a");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let url = serve_me(&authz_for(verifier_for(&jwks, LONG, LONG))).await;
    let http = client();

    // Nothing is loaded yet: 200 requests with valid tokens arrive at once and all wait for
    // the same fetch.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let token = key.sign(&claims(&format!("user_{i}")));
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            let reply = get_bearer(&http, &url, &token).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.json()["user_id"], format!("user_{i}"));
        });
    }
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
        done += 1;
    }
    assert_eq!(done, 200);
    assert_eq!(jwks.fetches(), 1, "the waiting requests shared one fetch");
}

#[tokio::test]
async fn a_flood_while_the_jwks_is_down_does_not_hammer_it() {
    let key = RsaKey::generate("key_a");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    jwks.set_mode(JwksMode::Error500);
    // Default cooldown; with no key at all the verifier retries sooner, but at most once a
    // second.
    let verifier = SessionVerifier::builder()
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let kid = if i % 2 == 0 {
            "key_a".to_owned()
        } else {
            random_id("kid_")
        };
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        let token = with_signature(header.as_bytes(), b"{}", "c2ln");
        let verifier = verifier.clone();
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        let error = result.unwrap().unwrap_err();
        assert!(
            matches!(error, TokenError::KeysUnavailable),
            "no key was ever loaded: 503, not 401 ({error:?})"
        );
    }
    let seconds = start.elapsed().as_secs() as usize;
    assert!(jwks.fetches() >= 1);
    assert!(
        jwks.fetches() <= seconds + 1,
        "{} fetches of a failing JWKS in {:?}",
        jwks.fetches(),
        start.elapsed()
    );
}

#[tokio::test]

async fn a_symmetric_key_published_in_a_fetched_jwks_is_never_trusted() {
    let rsa = RsaKey::generate("key_a");
    let secret = b"published-for-everyone-to-read-0123456789";
    let oct =
        json!({"kty": "oct", "kid": "key_hs", "use": "sig", "alg": "HS256", "k": b64(secret)});
    let jwks = JwksServer::start(vec![rsa.jwk(), oct]).await;
    let verifier = SessionVerifier::builder()
        .jwks_url(&jwks.url)
        .algorithms([
            jsonwebtoken::Algorithm::RS256,
            jsonwebtoken::Algorithm::HS256,
        ])
        .build()
        .unwrap();
    verifier.verify(&rsa.sign(&claims("user_a"))).await.unwrap();
    // Anyone who read the JWKS can sign with its "secret".
    let forged = hmac_sign(
        secret,
        &json!({"alg": "HS256", "kid": "key_hs"}),
        &claims("user_forged"),
    );
    let result = verifier.verify(&forged).await;
    assert!(
        result.is_err(),
        "a token signed with a key published in the JWKS was accepted as {:?}",
        result.map(|s| s.user_id().to_owned())
    );
}

#[tokio::test]

async fn an_unnamed_key_replaced_by_another_invalidates_cached_tokens() {
    let old = RsaKey::generate("unused");
    let new = RsaKey::generate("unused");
    let unnamed = |key: &RsaKey| {
        let mut jwk = key.jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        jwk
    };
    let jwks = JwksServer::start(vec![unnamed(&old)]).await;
    let authz = authz_for(verifier_for(&jwks, LONG, LONG));
    let url = serve_me(&authz).await;
    let http = client();
    let header = json!({"alg": "RS256", "typ": "JWT"});

    let cached = old.sign_header(&header, &claims("user_old"));
    let reply = get_bearer(&http, &url, &cached).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    jwks.set_keys(vec![unnamed(&new)]);
    authz.verifier().prefetch().await.unwrap();
    let reply = get_bearer(&http, &url, &new.sign_header(&header, &claims("user_new"))).await;
    assert_eq!(reply.status, 200, "the new key is in use: {reply:?}");
    let uncached = old.sign_header(&header, &claims("user_old_2"));
    let reply = get_bearer(&http, &url, &uncached).await;
    assert_invalid_token(&reply, &uncached, "uncached token of the replaced key");
    let reply = get_bearer(&http, &url, &cached).await;
    assert_invalid_token(&reply, &cached, "cached token of the replaced key");
}

#[test]

fn the_periodic_refresh_outlives_the_runtime_of_the_first_verification() {
    let (a, b) = (RsaKey::generate("key_a"), RsaKey::generate("key_b"));
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let jwks = main.block_on(JwksServer::start(vec![a.jwk()]));
    // Unknown kids never refetch: only the periodic refresh can bring key_b in.
    let verifier = verifier_for(&jwks, LONG, Duration::from_millis(200));
    let token_a = a.sign(&claims("user_a"));
    {
        // A start-up check in a short-lived runtime, as `#[tokio::main]`-less code may do.
        let startup = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        startup.block_on(verifier.verify(&token_a)).unwrap();
    }
    jwks.set_keys(vec![a.jwk(), b.jwk()]);
    main.block_on(async {
        assert_eq!(verifier.verify(&token_a).await.unwrap().user_id(), "user_a");
        let token_b = b.sign(&claims("user_b"));
        let accepted = poll_until(async || verifier.verify(&token_b).await.is_ok()).await;
        assert!(
            accepted,
            "no periodic refresh after the first runtime ended ({} fetches)",
            jwks.fetches()
        );
    });
}
