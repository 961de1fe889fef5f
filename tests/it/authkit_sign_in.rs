//! The sign-in routes (`authz.authkit_routes()`) against a loopback fake of WorkOS in WorkOS
//! mode, asserting every request the crate sends: `/login`'s redirect and its sealed state,
//! the code exchange (PKCE verifier, client secret), the cookie attributes, forged and replayed
//! states refused without an exchange, open redirects sent home, a code used twice, sign-out
//! with the session's `sid` (expired token included), organization switching (and WorkOS's
//! 403), and the sign-in redirect of page navigations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use workos_authz::{Authz, Session};

use crate::common::*;

const API_KEY: &str = "sk_test_sign_in";
const CLIENT_ID: &str = "client_sign_in";
const PASSWORD: &str = "a cookie password of at least thirty-two characters";

/// The fake's memory of the codes it issued: code -> (PKCE challenge, used).
#[derive(Clone, Default)]
struct FakeWorkOs {
    signer: Option<Arc<workos_authz::session::TokenSigner>>,
    exchanges: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
    codes: Arc<Mutex<HashMap<String, (String, bool)>>>,
    deny_switch: Arc<Mutex<bool>>,
}

impl FakeWorkOs {
    fn issue_code(&self, code: &str, challenge: &str) {
        self.codes
            .lock()
            .unwrap()
            .insert(code.to_owned(), (challenge.to_owned(), false));
    }

    fn token(&self, organization: Option<&str>) -> String {
        let mut claims = workos_authz::session::SessionClaims::new("user_ada")
            .expires_in(Duration::from_secs(300));
        claims.sid = Some("session_01".into());
        if let Some(organization) = organization {
            claims = claims.organization(organization);
        }
        self.signer.as_ref().unwrap().sign(&claims).unwrap()
    }
}

fn session_answer(fake: &FakeWorkOs, organization: Option<&str>, refresh: &str) -> Response {
    Json(json!({
        "user": {"object": "user", "id": "user_ada", "email": "ada@example.com",
                 "first_name": "Ada", "email_verified": true},
        "organization_id": organization,
        "access_token": fake.token(organization),
        "refresh_token": refresh,
    }))
    .into_response()
}

async fn authenticate(State(fake): State<FakeWorkOs>, Json(body): Json<Value>) -> Response {
    fake.bodies.lock().unwrap().push(body.clone());
    let invalid_grant = || {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "no"})),
        )
            .into_response()
    };
    match body["grant_type"].as_str() {
        Some("authorization_code") => {
            fake.exchanges.fetch_add(1, Ordering::SeqCst);
            let code = body["code"].as_str().unwrap_or_default();
            let verifier = body["code_verifier"].as_str().unwrap_or_default();
            let mut codes = fake.codes.lock().unwrap();
            let Some((challenge, used)) = codes.get_mut(code) else {
                return invalid_grant();
            };
            let computed = URL_SAFE_NO_PAD.encode(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
            );
            if *used || computed != *challenge || body["client_secret"] != API_KEY {
                return invalid_grant();
            }
            *used = true;
            drop(codes);
            session_answer(&fake, Some("org_acme"), "refresh_1")
        }
        Some("refresh_token") => {
            if *fake.deny_switch.lock().unwrap() {
                return (
                    StatusCode::FORBIDDEN,
                    Json(json!({"code": "organization_membership_not_found",
                                "message": "The user is not a member of that organization."})),
                )
                    .into_response();
            }
            let organization = body["organization_id"].as_str().map(str::to_owned);
            session_answer(&fake, organization.as_deref(), "refresh_2")
        }
        _ => invalid_grant(),
    }
}

struct World {
    /// The app: `/login`, `/callback`, `/logout`, `/switch-organization`, and `/me`.
    base: String,
    workos: String,
    fake: FakeWorkOs,
    http: reqwest::Client,
}

async fn world() -> World {
    let signer = Arc::new(workos_authz::session::TokenSigner::generate().unwrap());
    let fake = FakeWorkOs {
        signer: Some(signer.clone()),
        ..FakeWorkOs::default()
    };
    let workos_app = Router::new()
        .route("/user_management/authenticate", post(authenticate))
        .with_state(fake.clone());
    let workos = format!("http://{}", serve(workos_app).await);
    // The app's own address is needed for the redirect URI before the app exists.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let variables = HashMap::from([
        ("WORKOS_CLIENT_ID", CLIENT_ID.to_owned()),
        ("WORKOS_API_KEY", API_KEY.to_owned()),
        ("WORKOS_BASE_URL", workos.clone()),
        ("WORKOS_REDIRECT_URI", format!("{base}/callback")),
        ("WORKOS_COOKIE_PASSWORD", PASSWORD.to_owned()),
    ]);
    let authz = Authz::from_lookup(|name| variables.get(name).cloned()).unwrap();
    // Tokens are the fake's: trust its signer rather than fetching a JWKS.
    let authz = Authz::builder()
        .verifier(verifier_for(&signer))
        .token_sources(
            authz
                .authkit_cookie()
                .map(|cookie| {
                    [
                        workos_authz::session::TokenSource::Bearer,
                        workos_authz::session::TokenSource::authkit_cookie(cookie.clone()),
                    ]
                })
                .unwrap(),
        )
        .sign_in_page("/login")
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|session: Session| async move {
                Json(json!({"user_id": session.user_id(), "organization_id": session.organization_id()}))
            }),
        )
        .layer(authz.layer())
        .merge(authz.authkit_routes().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    World {
        base,
        workos,
        fake,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a String> {
    cookies
        .iter()
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` line, as a browser would send it back.
fn sent(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn query_of(location: &str) -> HashMap<String, String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

impl World {
    /// `GET /login`: the authorization URL's parameters and the sign-in cookie.
    async fn login(&self, return_to: &str) -> (HashMap<String, String>, String) {
        let reply = send(
            self.http
                .get(format!("{}/login", self.base))
                .query(&[("return_to", return_to)]),
        )
        .await;
        assert_eq!(reply.status, 302, "{reply:?}");
        let location = reply.header("location").unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{}/user_management/authorize?", self.workos)),
            "{location}"
        );
        let cookies = set_cookies(&reply);
        let verifier = cookie_named(&cookies, "wos-auth-verifier")
            .expect("the sign-in state cookie")
            .clone();
        for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"] {
            assert!(verifier.contains(attribute), "{attribute}: {verifier}");
        }
        (query_of(&location), sent(&verifier))
    }

    async fn callback(&self, query: &[(&str, &str)], cookie: &str) -> Reply {
        send(
            self.http
                .get(format!("{}/callback", self.base))
                .query(query)
                .header("cookie", cookie),
        )
        .await
    }

    /// A whole sign-in: the session cookie as the browser would send it.
    async fn sign_in(&self) -> String {
        let (params, verifier) = self.login("/me").await;
        self.fake.issue_code("code_ok", &params["code_challenge"]);
        let reply = self
            .callback(
                &[("code", "code_ok"), ("state", &params["state"])],
                &verifier,
            )
            .await;
        assert_eq!(reply.status, 302, "{reply:?}");
        sent(cookie_named(&set_cookies(&reply), "wos-session").unwrap())
    }
}

#[tokio::test]
async fn the_sign_in_loop_redirects_exchanges_with_pkce_and_sets_the_session_cookie() {
    let world = world().await;
    let (params, verifier_cookie) = world.login("/projects?tab=1").await;
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], format!("{}/callback", world.base));
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["provider"], "authkit");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43, "{params:?}");
    assert!(params["state"].len() >= 32, "{params:?}");
    assert_eq!(
        world.fake.exchanges.load(Ordering::SeqCst),
        0,
        "nothing exchanged yet"
    );

    world.fake.issue_code("code_1", &params["code_challenge"]);
    let reply = world
        .callback(
            &[("code", "code_1"), ("state", &params["state"])],
            &verifier_cookie,
        )
        .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/projects?tab=1"));
    assert_eq!(reply.header("cache-control"), Some("private, no-store"));
    let cookies = set_cookies(&reply);
    let session = cookie_named(&cookies, "wos-session").expect("the session cookie");
    assert!(session.starts_with("wos-session=Fe26.2*"), "{session}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=34560000"] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    assert!(
        !session.contains("Secure"),
        "an http redirect URI: {session}"
    );
    let cleared = cookie_named(&cookies, "wos-auth-verifier").expect("the state cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // What the crate sent: the code, the PKCE verifier, and the API key as the client secret.
    let body = world.fake.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["client_id"], CLIENT_ID);
    assert_eq!(body["client_secret"], API_KEY);
    assert_eq!(body["code"], "code_1");
    assert_eq!(body["code_verifier"].as_str().unwrap().len(), 43);

    // The new cookie is a session.
    let reply = send(
        world
            .http
            .get(format!("{}/me", world.base))
            .header("cookie", sent(session)),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["organization_id"], "org_acme");
}

#[tokio::test]
async fn a_forged_or_replayed_state_is_400_and_nothing_is_exchanged() {
    let world = world().await;
    let (first, first_cookie) = world.login("/").await;
    let (second, second_cookie) = world.login("/").await;
    world.fake.issue_code("code_a", &first["code_challenge"]);
    for (query, cookie, context) in [
        (
            vec![("code", "code_a"), ("state", "forged")],
            first_cookie.as_str(),
            "forged state",
        ),
        // Another browser's callback replayed in this one: its state is not this one's.
        (
            vec![("code", "code_a"), ("state", first["state"].as_str())],
            second_cookie.as_str(),
            "someone else's state",
        ),
        (
            vec![("code", "code_a"), ("state", second["state"].as_str())],
            "",
            "no sign-in cookie",
        ),
        (vec![("code", "code_a")], first_cookie.as_str(), "no state"),
        (
            vec![("code", "code_a"), ("state", first["state"].as_str())],
            "wos-auth-verifier=Fe26.2*1*tampered",
            "tampered cookie",
        ),
    ] {
        let reply = world.callback(&query, cookie).await;
        assert_problem(&reply, 400, context);
        assert!(
            cookie_named(&set_cookies(&reply), "wos-session").is_none(),
            "{context}"
        );
    }
    assert_eq!(
        world.fake.exchanges.load(Ordering::SeqCst),
        0,
        "a code was exchanged"
    );
}

#[tokio::test]
async fn a_code_used_twice_is_refused_the_second_time() {
    let world = world().await;
    let (params, cookie) = world.login("/").await;
    world
        .fake
        .issue_code("code_twice", &params["code_challenge"]);
    let query = [("code", "code_twice"), ("state", params["state"].as_str())];
    assert_eq!(world.callback(&query, &cookie).await.status, 302);
    let reply = world.callback(&query, &cookie).await;
    assert_problem(&reply, 400, "second use");
    assert!(cookie_named(&set_cookies(&reply), "wos-session").is_none());
}

#[tokio::test]
async fn only_paths_of_this_site_are_returned_to() {
    let world = world().await;
    for attempt in [
        "//evil.example",
        "https://evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let (params, cookie) = world.login(attempt).await;
        let code = format!("code_{}", params["state"]);
        world.fake.issue_code(&code, &params["code_challenge"]);
        let reply = world
            .callback(
                &[("code", code.as_str()), ("state", params["state"].as_str())],
                &cookie,
            )
            .await;
        assert_eq!(reply.status, 302, "{attempt}: {reply:?}");
        assert_eq!(reply.header("location"), Some("/"), "{attempt}");
    }
}

#[tokio::test]
async fn sign_out_clears_the_cookie_and_goes_to_workos_with_the_sid() {
    let world = world().await;
    let session = world.sign_in().await;
    let reply = send(
        world
            .http
            .post(format!("{}/logout", world.base))
            .header("cookie", &session)
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    let location = reply.header("location").unwrap();
    assert!(
        location.starts_with(&format!(
            "{}/user_management/sessions/logout?",
            world.workos
        )),
        "{location}"
    );
    let params = query_of(location);
    assert_eq!(params["session_id"], "session_01");
    assert_eq!(params["return_to"], format!("{}/", world.base));
    let cleared = cookie_named(&set_cookies(&reply), "wos-session")
        .unwrap()
        .clone();
    assert!(
        cleared.starts_with("wos-session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    // A cross-site sign-out is refused: it would sign users out from another site.
    let reply = send(
        world
            .http
            .post(format!("{}/logout", world.base))
            .header("cookie", &session)
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_problem(&reply, 403, "cross-site logout");
}

#[tokio::test]
async fn sign_out_works_with_an_expired_access_token() {
    let world = world().await;
    // A session whose access token expired an hour ago.
    let signer = world.fake.signer.clone().unwrap();
    let mut claims = workos_authz::session::SessionClaims::new("user_ada");
    claims.sid = Some("session_expired".into());
    claims.exp = now() - 3600;
    let payload = workos_authz::authkit::SessionPayload::new(
        signer.sign(&claims).unwrap(),
        "refresh_old",
        workos_authz::authkit::SessionUser::new("user_ada", "ada@example.com"),
    );
    let config = workos_authz::authkit::CookieConfig::new(
        workos_authz::authkit::Password::new(PASSWORD).unwrap(),
    );
    let cookie = format!("wos-session={}", config.seal(&payload).unwrap().as_str());
    let reply = send(
        world
            .http
            .post(format!("{}/logout", world.base))
            .header("cookie", cookie),
    )
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(
        query_of(reply.header("location").unwrap())["session_id"],
        "session_expired"
    );
}

#[tokio::test]
async fn switching_organization_refreshes_into_it_and_a_403_is_shown_not_a_sign_out() {
    let world = world().await;
    let session = world.sign_in().await;
    let switch = async |organization: &str| {
        send(
            world
                .http
                .post(format!("{}/switch-organization", world.base))
                .header("cookie", &session)
                .header("sec-fetch-site", "same-origin")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "organization_id={organization}&return_to=%2Fdashboard"
                )),
        )
        .await
    };
    let reply = switch("org_globex").await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/dashboard"));
    let body = world.fake.bodies.lock().unwrap().last().unwrap().clone();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["organization_id"], "org_globex");
    let switched = sent(cookie_named(&set_cookies(&reply), "wos-session").unwrap());
    let me = send(
        world
            .http
            .get(format!("{}/me", world.base))
            .header("cookie", switched),
    )
    .await;
    assert_eq!(me.json()["organization_id"], "org_globex");

    *world.fake.deny_switch.lock().unwrap() = true;
    let reply = switch("org_initech").await;
    assert_problem(&reply, 403, "no membership");
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("not a member"),
        "{reply:?}"
    );
    assert!(
        set_cookies(&reply).is_empty(),
        "the session was touched: {reply:?}"
    );
}

#[tokio::test]
async fn page_navigations_without_a_session_go_to_sign_in_and_api_calls_get_401() {
    let world = world().await;
    let reply = send(
        world
            .http
            .get(format!("{}/me?tab=2", world.base))
            .header("sec-fetch-mode", "navigate")
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(
        reply.header("location"),
        Some("/login?return_to=%2Fme%3Ftab%3D2")
    );
    let reply = send(
        world
            .http
            .get(format!("{}/me", world.base))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(
        reply.status, 302,
        "an Accept of text/html is a page too: {reply:?}"
    );
    let reply = send(
        world
            .http
            .get(format!("{}/me", world.base))
            .header("accept", "application/json"),
    )
    .await;
    assert_problem(&reply, 401, "an API call");
    let reply = send(
        world
            .http
            .post(format!("{}/me", world.base))
            .header("accept", "text/html"),
    )
    .await;
    assert_ne!(reply.status, 302, "a POST is never redirected to sign in");
}
