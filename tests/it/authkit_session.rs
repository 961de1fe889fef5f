//! AuthKit's `wos-session` cookie on the request path, against a loopback fake of WorkOS's
//! `POST /user_management/authenticate` that counts its calls and rotates refresh tokens:
//! reading the cookie, refreshing it once for many concurrent requests, the replay window,
//! failures that keep the session (503) and those that end it (401 and a clearing cookie), the
//! sealed user against the token's subject, the same-origin rule, and private responses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use workos_authz::authkit::{AuthKitCookie, CookieConfig, Password, SessionPayload, SessionUser};
use workos_authz::session::{SessionClaims, TokenSigner, TokenSource};
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Session};

use crate::common::*;

const PASSWORD: &str = "a cookie password of at least thirty-two characters";
const API_KEY: &str = "sk_test_authkit_session";
const CLIENT_ID: &str = "client_authkit_session";
/// The deadline of every remote call of the apps in this file.
const DEADLINE: Duration = Duration::from_millis(700);

/// How the fake token endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// A new session: a fresh access token for the same user and a new refresh token.
    Rotate,
    /// A new session whose user is someone else than the token's subject.
    WrongUser,
    Status(u16),
    InvalidGrant,
    MfaEnrollment,
    Hang,
}

#[derive(Clone)]
struct FakeAuthKit {
    signer: Arc<TokenSigner>,
    answer: Arc<Mutex<Answer>>,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl FakeAuthKit {
    async fn start(signer: Arc<TokenSigner>) -> (String, FakeAuthKit) {
        let fake = FakeAuthKit {
            signer,
            answer: Arc::new(Mutex::new(Answer::Rotate)),
            calls: Arc::new(AtomicUsize::new(0)),
            bodies: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route("/user_management/authenticate", post(authenticate))
            .with_state(fake.clone());
        (format!("http://{}", serve(app).await), fake)
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn authenticate(State(fake): State<FakeAuthKit>, Json(body): Json<Value>) -> Response {
    let call = fake.calls.fetch_add(1, Ordering::SeqCst);
    fake.bodies.lock().unwrap().push(body.clone());
    let answer = *fake.answer.lock().unwrap();
    let user = match answer {
        Answer::WrongUser => "user_mallory",
        _ => "user_ada",
    };
    match answer {
        Answer::Rotate | Answer::WrongUser => {
            let mut claims = SessionClaims::new("user_ada").expires_in(Duration::from_secs(300));
            if let Some(organization) = body["organization_id"].as_str() {
                claims = claims.organization(organization);
            }
            let access_token = fake.signer.sign(&claims).unwrap();
            Json(json!({
                "user": {"object": "user", "id": user, "email": "ada@example.com",
                         "first_name": "Ada", "last_name": "Lovelace", "email_verified": true},
                "organization_id": body["organization_id"],
                "access_token": access_token,
                "refresh_token": format!("refresh_{call}"),
            }))
            .into_response()
        }
        Answer::Status(status) => (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"message": "scripted failure"})),
        )
            .into_response(),
        Answer::InvalidGrant => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Session has already ended."})),
        )
            .into_response(),
        Answer::MfaEnrollment => (
            StatusCode::FORBIDDEN,
            Json(json!({"code": "mfa_enrollment", "message": "The user must enroll in MFA."})),
        )
            .into_response(),
        Answer::Hang => std::future::pending().await,
    }
}

/// The app under test: bearer tokens and the AuthKit cookie, refreshed at `workos`.
struct World {
    base: String,
    authz: Authz,
    signer: Arc<TokenSigner>,
    fake: FakeAuthKit,
}

async fn world() -> World {
    let signer = Arc::new(TokenSigner::generate().unwrap());
    let (workos, fake) = FakeAuthKit::start(signer.clone()).await;
    world_at(&workos, signer, fake).await
}

async fn world_at(workos: &str, signer: Arc<TokenSigner>, fake: FakeAuthKit) -> World {
    let client = WorkOsClient::builder(API_KEY)
        .base_url(workos)
        .build()
        .unwrap();
    let cookie = AuthKitCookie::new(CookieConfig::new(Password::new(PASSWORD).unwrap()))
        .refresh_through(client, CLIENT_ID);
    let authz = Authz::builder()
        .verifier(verifier_for(&signer))
        .token_sources([TokenSource::Bearer, TokenSource::authkit_cookie(cookie)])
        .upstream_timeout(DEADLINE)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/posts", post(|| async { "created" }))
        .layer(authz.layer());
    let base = format!("http://{}", serve(app).await);
    World {
        base,
        authz,
        signer,
        fake,
    }
}

async fn me(session: Session) -> Json<Value> {
    Json(json!({
        "user_id": session.user_id(),
        "organization_id": session.organization_id(),
        "email": session.user().map(|user| user.email.clone()),
        "first_name": session.user().and_then(|user| user.first_name.clone()),
        "from_cookie": session.from_cookie(),
    }))
}

impl World {
    /// A sealed session for ada in org_acme whose access token was issued `age` ago and lives
    /// `lifetime` (so it may have expired), with refresh token `refresh`.
    fn cookie(&self, age: Duration, lifetime: Duration, refresh: &str) -> String {
        let mut claims = SessionClaims::new("user_ada").organization("org_acme");
        let now = now();
        claims.iat = Some(now - age.as_secs());
        claims.exp = now - age.as_secs() + lifetime.as_secs();
        self.cookie_for(&claims, "user_ada", refresh)
    }

    fn cookie_for(&self, claims: &SessionClaims, sealed_user: &str, refresh: &str) -> String {
        let token = self.signer.sign(claims).unwrap();
        let payload = SessionPayload::new(
            token,
            refresh,
            SessionUser::new(sealed_user, "ada@example.com"),
        )
        .with_organization("org_acme");
        let sealed = self
            .authz
            .authkit_cookie()
            .expect("a cookie source")
            .config()
            .seal(&payload)
            .unwrap();
        format!("wos-session={}", sealed.as_str())
    }

    fn fresh(&self) -> String {
        self.cookie(
            Duration::from_secs(10),
            Duration::from_secs(3600),
            "refresh_fresh",
        )
    }

    fn expired(&self, refresh: &str) -> String {
        self.cookie(Duration::from_secs(400), Duration::from_secs(300), refresh)
    }

    async fn get(&self, cookie: &str) -> Reply {
        send(
            client()
                .get(format!("{}/me", self.base))
                .header("cookie", cookie),
        )
        .await
    }
}

fn set_cookie(reply: &Reply) -> Option<&str> {
    reply.header("set-cookie")
}

fn assert_private(reply: &Reply, context: &str) {
    assert_eq!(
        reply.header("cache-control"),
        Some("private, no-store"),
        "{context}: {reply:?}"
    );
    assert_eq!(reply.header("vary"), Some("Cookie"), "{context}: {reply:?}");
}

fn assert_cleared(reply: &Reply, context: &str) {
    let cookie = set_cookie(reply).unwrap_or_else(|| panic!("{context}: no clearing cookie"));
    assert!(
        cookie.starts_with("wos-session=;") && cookie.contains("Max-Age=0"),
        "{context}: {cookie}"
    );
}

#[tokio::test]
async fn a_valid_cookie_authenticates_like_a_bearer_token_and_the_response_is_private() {
    let world = world().await;
    let reply = world.get(&world.fresh()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["user_id"], "user_ada");
    assert_eq!(body["organization_id"], "org_acme");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["from_cookie"], true);
    assert_private(&reply, "valid cookie");
    assert_eq!(set_cookie(&reply), None, "nothing to refresh");
    assert_eq!(world.fake.calls(), 0);

    // A bearer token's response is none of the cookie's business.
    let token = world.signer.sign(&SessionClaims::new("user_ada")).unwrap();
    let reply = get_bearer(&client(), &format!("{}/me", world.base), &token).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["from_cookie"], false);
    assert_eq!(reply.header("cache-control"), None);
    assert_eq!(reply.header("vary"), None);
}

/// 50 concurrent requests with one expired cookie make one refresh call and all get 200 with
/// the same new cookie; within the replay window the old cookie gets that same new session
/// again without a call; the new cookie needs no refresh at all.
#[tokio::test]
async fn fifty_requests_with_one_expired_cookie_make_one_refresh() {
    let world = world().await;
    let expired = world.expired("refresh_old");
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (url, cookie) = (format!("{}/me", world.base), expired.clone());
        requests.spawn(async move { send(client().get(url).header("cookie", cookie)).await });
    }
    let mut seals = std::collections::HashSet::new();
    while let Some(reply) = requests.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_private(&reply, "refreshed");
        let cookie = set_cookie(&reply)
            .expect("the new session cookie")
            .to_owned();
        assert!(cookie.starts_with("wos-session=Fe26.2*"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("Max-Age=34560000"));
        seals.insert(cookie);
    }
    assert_eq!(world.fake.calls(), 1, "one refresh for fifty requests");
    assert_eq!(seals.len(), 1, "every request got the same new session");
    let body = world.fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(
        body,
        json!({"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": API_KEY,
               "refresh_token": "refresh_old", "organization_id": "org_acme"})
    );

    // A request that was on its way with the old cookie: the same new session, no call.
    let reply = world.get(&expired).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(set_cookie(&reply), seals.iter().next().map(String::as_str));
    assert_eq!(world.fake.calls(), 1, "answered from the replay window");

    // The new cookie is valid for five minutes: no refresh, no Set-Cookie.
    let new_cookie = seals.into_iter().next().unwrap();
    let new_cookie = new_cookie.split(';').next().unwrap();
    let reply = world.get(new_cookie).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json()["first_name"],
        "Ada",
        "the refreshed user is sealed"
    );
    assert_eq!(set_cookie(&reply), None);
    assert_eq!(world.fake.calls(), 1);
}

/// A failure that may pass (5xx, 429, no answer, a reset connection) is a 503 within the
/// deadline and keeps the cookie: no Set-Cookie at all.
#[tokio::test]
async fn transient_refresh_failures_are_503_within_the_deadline_and_keep_the_cookie() {
    let world = world().await;
    for answer in [Answer::Status(500), Answer::Status(429), Answer::Hang] {
        world.fake.set(answer);
        let started = std::time::Instant::now();
        let reply = world
            .get(&world.expired(&format!("refresh_{answer:?}")))
            .await;
        let context = format!("{answer:?}");
        assert_problem(&reply, 503, &context);
        assert!(
            started.elapsed() < DEADLINE + Duration::from_millis(500),
            "{context}: {:?}",
            started.elapsed()
        );
        assert_eq!(
            set_cookie(&reply),
            None,
            "{context}: the cookie was touched"
        );
        assert_private(&reply, &context);
    }

    // A token endpoint that resets every connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    let resetting = world_at(
        &format!("http://{address}"),
        world.signer.clone(),
        world.fake.clone(),
    )
    .await;
    let reply = resetting.get(&resetting.expired("refresh_reset")).await;
    assert_problem(&reply, 503, "reset");
    assert_eq!(set_cookie(&reply), None);
}

/// WorkOS saying the session is over (`invalid_grant`, or a 403 such as `mfa_enrollment`) is a
/// 401 that clears the cookie.
#[tokio::test]
async fn a_refused_refresh_is_401_and_clears_the_cookie() {
    let world = world().await;
    for answer in [Answer::InvalidGrant, Answer::MfaEnrollment] {
        world.fake.set(answer);
        let reply = world
            .get(&world.expired(&format!("refresh_{answer:?}")))
            .await;
        let context = format!("{answer:?}");
        assert_problem(&reply, 401, &context);
        assert_cleared(&reply, &context);
        assert_eq!(reply.header("www-authenticate"), None, "{context}");
    }
}

/// A token about to expire is refreshed early; when that early refresh fails, the request is
/// served with the current token.
#[tokio::test]
async fn an_early_refresh_that_fails_serves_the_request_with_the_current_token() {
    let world = world().await;
    // Issued 280 s ago, lives 300 s: 20 s left, inside the 30 s buffer of short-lived tokens.
    let expiring = world.cookie(
        Duration::from_secs(280),
        Duration::from_secs(300),
        "refresh_early",
    );
    world.fake.set(Answer::Status(500));
    let reply = world.get(&expiring).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(set_cookie(&reply), None);
    world.fake.set(Answer::InvalidGrant);
    let reply = world.get(&expiring).await;
    assert_eq!(reply.status, 200, "still valid: {reply:?}");
    assert_eq!(set_cookie(&reply), None);
    world.fake.set(Answer::Rotate);
    let calls = world.fake.calls();
    let reply = world.get(&expiring).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(set_cookie(&reply).is_some(), "refreshed early: {reply:?}");
    assert_eq!(world.fake.calls(), calls + 1);
    // A token with a long life left is not refreshed.
    let calls = world.fake.calls();
    assert_eq!(set_cookie(&world.get(&world.fresh()).await), None);
    assert_eq!(world.fake.calls(), calls);
}

/// The sealed user must be the token's subject, in the cookie as it came and in the session
/// WorkOS answered.
#[tokio::test]
async fn a_sealed_user_that_is_not_the_tokens_subject_is_401() {
    let world = world().await;
    let claims = SessionClaims::new("user_ada").organization("org_acme");
    let reply = world
        .get(&world.cookie_for(&claims, "user_mallory", "refresh_x"))
        .await;
    assert_problem(&reply, 401, "sealed mallory, token ada");
    assert_cleared(&reply, "mismatch");

    world.fake.set(Answer::WrongUser);
    let reply = world.get(&world.expired("refresh_wrong_user")).await;
    assert_problem(&reply, 401, "refreshed into another user");
    assert_cleared(&reply, "refreshed mismatch");
}

/// A cookie that is not a seal of this application (another password, tampered, garbage) is a
/// 401 and never a session.
#[tokio::test]
async fn a_cookie_that_does_not_unseal_is_401() {
    let world = world().await;
    let foreign = {
        let other =
            CookieConfig::new(Password::new("another password, also thirty-two chars").unwrap());
        let token = world.signer.sign(&SessionClaims::new("user_ada")).unwrap();
        let payload = SessionPayload::new(token, "r", SessionUser::new("user_ada", "a@x"));
        format!("wos-session={}", other.seal(&payload).unwrap().as_str())
    };
    let genuine = world.fresh();
    let mut tampered = genuine.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (cookie, context) in [
        (foreign.as_str(), "another password"),
        (tampered.as_str(), "one byte changed"),
        ("wos-session=Fe26.2*1*garbage", "garbage"),
        ("wos-session=not-a-seal", "not a seal"),
    ] {
        let reply = world.get(cookie).await;
        assert_problem(&reply, 401, context);
        assert!(
            !reply.body.contains("Fe26"),
            "{context}: the seal was echoed"
        );
    }
    // Two session cookies are refused rather than guessed between.
    let reply = world.get(&format!("{genuine}; {genuine}")).await;
    assert_problem(&reply, 401, "two cookies");
}

/// State-changing requests authenticated by the cookie must be same-origin: a cross-site form
/// post carries the cookie too.
#[tokio::test]
async fn a_cross_site_post_with_a_valid_cookie_is_403_and_a_same_origin_one_passes() {
    let world = world().await;
    let url = format!("{}/posts", world.base);
    let post = |headers: &[(&'static str, &str)]| {
        let mut request = client().post(&url).header("cookie", world.fresh());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request)
    };
    assert_problem(
        &post(&[("sec-fetch-site", "cross-site")]).await,
        403,
        "cross-site",
    );
    assert_problem(
        &post(&[("sec-fetch-site", "same-site")]).await,
        403,
        "same-site",
    );
    assert_problem(
        &post(&[("origin", "https://evil.example")]).await,
        403,
        "another Origin",
    );
    assert_eq!(post(&[("sec-fetch-site", "same-origin")]).await.status, 200);
    let origin = world.base.clone();
    assert_eq!(post(&[("origin", origin.as_str())]).await.status, 200);
    // A bearer token is not sent by the browser on its own: no origin rule for it.
    let token = world.signer.sign(&SessionClaims::new("user_ada")).unwrap();
    let reply = send(
        client()
            .post(&url)
            .bearer_auth(token)
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// Without a refresher (the embedded setup), an expired cookie is a 401 that keeps the cookie:
/// nothing was learned about its refresh token.
#[tokio::test]
async fn without_a_refresher_an_expired_cookie_is_401() {
    let engine = workos_authz::local::LocalEngine::new();
    let cookie = AuthKitCookie::new(CookieConfig::new(Password::new(PASSWORD).unwrap()));
    let authz = Authz::embedded_with_cookie(engine, cookie).unwrap();
    let app = Router::new().route("/me", get(me)).layer(authz.layer());
    let base = format!("http://{}", serve(app).await);
    let signer = authz.signer().unwrap();
    let seal = |claims: &SessionClaims| {
        let payload = SessionPayload::new(
            signer.sign(claims).unwrap(),
            "refresh",
            SessionUser::new(&claims.sub, "ada@example.com"),
        );
        let sealed = authz
            .authkit_cookie()
            .unwrap()
            .config()
            .seal(&payload)
            .unwrap();
        format!("wos-session={}", sealed.as_str())
    };
    let valid = seal(&SessionClaims::new("user_ada"));
    let reply = send(client().get(format!("{base}/me")).header("cookie", valid)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let mut expired = SessionClaims::new("user_ada");
    expired.exp = now() - 10;
    let reply = send(
        client()
            .get(format!("{base}/me"))
            .header("cookie", seal(&expired)),
    )
    .await;
    assert_problem(&reply, 401, "expired, no refresher");
    assert_eq!(set_cookie(&reply), None);
}
