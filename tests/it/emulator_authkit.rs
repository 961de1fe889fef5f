//! The emulator as AuthKit, over loopback HTTP and without a browser: the sign-in page, the
//! code exchange (PKCE, client secret, single use, expiry), organization choice, refresh
//! rotation and its replay window, organization switching, sign-out, HTML escaping, the
//! emulator mounted under a prefix inside an application (with `Authz::from_lookup`'s WorkOS
//! mode trusting it), the crate's own AuthKit cookie refreshed through it, and sessions that
//! survive a restart of the binary.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use workos_authz::authkit::{AuthKitCookie, CookieConfig, Password, SessionPayload, SessionUser};
use workos_authz::emulator::Emulator;
use workos_authz::local::{LocalEngine, NewPermission, NewRole, NewUser};
use workos_authz::session::TokenSource;
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Session, SessionVerifier, require_permission};

use crate::common::*;

const API_KEY: &str = "sk_test_authkit_emulator";
const CLIENT_ID: &str = "client_authkit_emulator";
/// Never contacted: the tests read the redirect instead of following it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";

/// Acme and Globex; admin (projects:read, projects:delete, posts:read) and member
/// (posts:read); alice admin of acme, bob member of acme (and inactive in globex), dave member
/// of acme and admin of globex, erin in no organization.
struct Model {
    engine: LocalEngine,
    /// Membership ids.
    alice: String,
    dave_acme: String,
    dave_globex: String,
}

fn model() -> Model {
    let engine = LocalEngine::new();
    for slug in ["projects:read", "projects:delete", "posts:read"] {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine
        .create_environment_role(NewRole::new("admin", "Admin").permissions([
            "projects:read",
            "projects:delete",
            "posts:read",
        ]))
        .unwrap();
    engine
        .set_environment_role_permissions("member", &["posts:read"])
        .unwrap();
    engine
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    engine
        .create_organization_with_id("org_globex", "Globex")
        .unwrap();
    for (id, email, first, last) in [
        ("user_alice", "alice@example.com", "Alice", "Liddell"),
        ("user_bob", "bob@example.com", "Bob", "Builder"),
        ("user_dave", "dave@example.com", "Dave", "Bowman"),
        ("user_erin", "erin@example.com", "Erin", "Brockovich"),
    ] {
        engine
            .create_user_with_id(
                id,
                NewUser::new(email)
                    .first_name(first)
                    .last_name(last)
                    .email_verified(true),
            )
            .unwrap();
    }
    let alice = engine
        .create_membership("user_alice", "org_acme", &["admin"])
        .unwrap()
        .id;
    engine
        .create_membership("user_bob", "org_acme", &[])
        .unwrap();
    engine
        .create_membership_with_status(
            "user_bob",
            "org_globex",
            &["admin"],
            workos_authz::local::MembershipStatus::Inactive,
        )
        .unwrap();
    let dave_acme = engine
        .create_membership("user_dave", "org_acme", &["member"])
        .unwrap()
        .id;
    let dave_globex = engine
        .create_membership("user_dave", "org_globex", &["admin"])
        .unwrap()
        .id;
    Model {
        engine,
        alice,
        dave_acme,
        dave_globex,
    }
}

/// An emulator over `engine` with this file's API key, served on loopback.
async fn serve_emulator(emulator: Emulator) -> String {
    format!("http://{}", serve(emulator.router()).await)
}

fn emulator(engine: &LocalEngine) -> Emulator {
    Emulator::new(engine.clone()).with_api_key(API_KEY).unwrap()
}

/// Signs `user_id` in (in `organization_id`) with a fresh PKCE pair; returns the code and the
/// verifier.
async fn code_for(base: &str, user_id: &str, organization_id: Option<&str>) -> (String, String) {
    let pkce = pkce();
    let query = authorize_query(CLIENT_ID, REDIRECT_URI, &pkce.challenge, "state-1");
    let (_, answer) = sign_in_as(base, &query, user_id, organization_id).await;
    let (code, state) = redirected_code(&answer, REDIRECT_URI);
    assert_eq!(state.as_deref(), Some("state-1"));
    (code, pkce.verifier)
}

async fn authenticate(base: &str, body: Value) -> Reply {
    send(
        client()
            .post(format!("{base}/user_management/authenticate"))
            .json(&body),
    )
    .await
}

async fn exchange(base: &str, code: &str, verifier: &str) -> Reply {
    authenticate(
        base,
        json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
               "client_secret": API_KEY, "code": code, "code_verifier": verifier}),
    )
    .await
}

async fn refresh(base: &str, refresh_token: &str, organization_id: Option<&str>) -> Reply {
    let mut body = json!({"grant_type": "refresh_token", "client_id": CLIENT_ID,
                          "client_secret": API_KEY, "refresh_token": refresh_token});
    if let Some(organization) = organization_id {
        body["organization_id"] = json!(organization);
    }
    authenticate(base, body).await
}

fn trusting(base: &str) -> SessionVerifier {
    SessionVerifier::builder()
        .workos_jwks(base, CLIENT_ID)
        .issuers([base])
        .build()
        .unwrap()
}

fn assert_invalid_grant(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 400, "{context}: {reply:?}");
    assert_eq!(
        reply.json()["error"],
        "invalid_grant",
        "{context}: {reply:?}"
    );
    assert!(
        reply.json()["error_description"].is_string(),
        "{context}: {reply:?}"
    );
}

/// A session for `user_id`: the whole answer of the code exchange.
async fn session_for(base: &str, user_id: &str, organization_id: Option<&str>) -> Value {
    let (code, verifier) = code_for(base, user_id, organization_id).await;
    let reply = exchange(base, &code, &verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

#[tokio::test]
async fn the_sign_in_loop_ends_with_a_session_whose_token_verifies_and_carries_the_engines_claims()
{
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let pkce = pkce();
    let state = "opaque state & more = /?";
    let query = authorize_query(CLIENT_ID, REDIRECT_URI, &pkce.challenge, state);
    let (page, answer) = sign_in_as(&base, &query, "user_alice", Some("org_acme")).await;

    // The page lists every user, each with the organizations they may choose.
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    for email in [
        "alice@example.com",
        "bob@example.com",
        "dave@example.com",
        "erin@example.com",
    ] {
        assert!(page.body.contains(email), "{email} listed");
    }
    assert!(page.body.contains("data-user-id=\"user_alice\""));
    assert!(page.body.contains("Alice Liddell"));
    assert!(
        page.body
            .contains(&format!("action=\"{base}/user_management/authorize\"")),
        "the form posts back to the emulator"
    );
    assert!(!page.body.contains("<script"), "no script");

    let (code, returned_state) = redirected_code(&answer, REDIRECT_URI);
    assert_eq!(
        returned_state.as_deref(),
        Some(state),
        "the state comes back whole"
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    let reply = exchange(&base, &code, &pkce.verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    let user = &body["user"];
    assert_eq!(
        (
            &user["object"],
            &user["id"],
            &user["email"],
            &user["first_name"],
            &user["last_name"],
            &user["email_verified"],
        ),
        (
            &json!("user"),
            &json!("user_alice"),
            &json!("alice@example.com"),
            &json!("Alice"),
            &json!("Liddell"),
            &json!(true),
        )
    );
    for field in ["profile_picture_url", "created_at", "updated_at"] {
        assert!(user.get(field).is_some(), "user.{field}");
    }
    assert_eq!(body["organization_id"], "org_acme");
    assert_eq!(body["authentication_method"], "Password");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let token = body["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(&unb64(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let session = trusting(&base).verify(token).await.expect("verifies");
    assert_eq!(session.user_id(), "user_alice");
    assert_eq!(session.organization_id(), Some("org_acme"));
    assert_eq!(session.role(), Some("admin"));
    assert_eq!(session.roles(), ["admin"]);
    assert_eq!(
        session.permissions(),
        ["posts:read", "projects:delete", "projects:read"]
    );
    assert_eq!(
        session.organization_membership_id(),
        Some(model.alice.as_str())
    );
    let claims = session.claims();
    assert_eq!(claims.iss.as_deref(), Some(base.as_str()));
    assert!(
        claims
            .sid
            .as_deref()
            .is_some_and(|sid| sid.starts_with("session_"))
    );
    assert!(claims.jti.as_deref().is_some_and(|jti| !jti.is_empty()));
    assert_eq!(
        claims.exp - claims.iat.unwrap(),
        300,
        "five minutes by default"
    );
}

#[tokio::test]
async fn a_code_needs_the_right_verifier_secret_and_client_and_is_used_once() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;

    // A wrong client secret changes nothing: the code still works afterwards.
    let (code, verifier) = code_for(&base, "user_alice", None).await;
    for secret in ["sk_test_wrong", "not-a-key"] {
        let reply = authenticate(
            &base,
            json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
                   "client_secret": secret, "code": code, "code_verifier": verifier}),
        )
        .await;
        assert_eq!(reply.status, 401, "{secret}: {reply:?}");
        assert_eq!(reply.json()["error"], "invalid_client");
    }
    let reply = authenticate(
        &base,
        json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
               "code": code, "code_verifier": verifier}),
    )
    .await;
    assert_eq!(reply.status, 401, "no secret: {reply:?}");
    assert_eq!(exchange(&base, &code, &verifier).await.status, 200);
    // A second use of the code.
    assert_invalid_grant(&exchange(&base, &code, &verifier).await, "second use");

    // A wrong verifier spends the code.
    let (code, verifier) = code_for(&base, "user_alice", None).await;
    let wrong = pkce().verifier;
    assert_invalid_grant(&exchange(&base, &code, &wrong).await, "wrong verifier");
    assert_invalid_grant(&exchange(&base, &code, &verifier).await, "spent by the try");

    // No verifier for a code with a challenge; another client; garbage.
    let (code, _) = code_for(&base, "user_alice", None).await;
    let reply = authenticate(
        &base,
        json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
               "client_secret": API_KEY, "code": code}),
    )
    .await;
    assert_invalid_grant(&reply, "no verifier");
    let (code, verifier) = code_for(&base, "user_alice", None).await;
    let reply = authenticate(
        &base,
        json!({"grant_type": "authorization_code", "client_id": "client_other",
               "client_secret": API_KEY, "code": code, "code_verifier": verifier}),
    )
    .await;
    assert_invalid_grant(&reply, "another client");
    assert_invalid_grant(&exchange(&base, "not-a-code", &verifier).await, "unknown");

    // Form-encoded, as WorkOS accepts it too; an unknown grant; a missing grant.
    let (code, verifier) = code_for(&base, "user_alice", None).await;
    let reply = send(
        client()
            .post(format!("{base}/user_management/authenticate"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("client_secret", API_KEY),
                ("code", &code),
                ("code_verifier", &verifier),
            ])),
    )
    .await;
    assert_eq!(reply.status, 200, "form-encoded: {reply:?}");
    assert_eq!(reply.json()["user"]["id"], "user_alice");
    let reply = authenticate(
        &base,
        json!({"grant_type": "password", "client_id": CLIENT_ID, "client_secret": API_KEY}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
    let reply = authenticate(&base, json!({"client_id": CLIENT_ID})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");

    // An expired code (an emulator whose codes expire on arrival).
    let expiring = serve_emulator(emulator(&model.engine).with_code_lifetime(Duration::ZERO)).await;
    let (code, verifier) = code_for(&expiring, "user_alice", None).await;
    let reply = exchange(&expiring, &code, &verifier).await;
    assert_invalid_grant(&reply, "expired");
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_user_with_two_memberships_picks_one_and_the_token_is_scoped_to_it() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let pkce = pkce();
    let query = authorize_query(CLIENT_ID, REDIRECT_URI, &pkce.challenge, "s");

    // The page offers dave both organizations, and bob only his active one.
    let (page, answer) = sign_in_as(&base, &query, "user_dave", None).await;
    let dave = &page.body[page.body.find("data-user-id=\"user_dave\"").unwrap()..];
    let dave = &dave[..dave.find("</form>").unwrap()];
    assert!(dave.contains("data-organization-id=\"org_acme\""), "{dave}");
    assert!(
        dave.contains("data-organization-id=\"org_globex\""),
        "{dave}"
    );
    let bob = &page.body[page.body.find("data-user-id=\"user_bob\"").unwrap()..];
    let bob = &bob[..bob.find("</form>").unwrap()];
    assert!(
        !bob.contains("org_globex"),
        "an inactive membership is not offered: {bob}"
    );
    // Without a choice, no code.
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.header("location").is_none());
    assert!(answer.body.contains("choose"), "{}", answer.body);

    for (organization, membership, role) in [
        ("org_globex", &model.dave_globex, "admin"),
        ("org_acme", &model.dave_acme, "member"),
    ] {
        let (code, verifier) = code_for(&base, "user_dave", Some(organization)).await;
        let reply = exchange(&base, &code, &verifier).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["organization_id"], organization);
        let token = reply.json()["access_token"].as_str().unwrap().to_owned();
        let session = trusting(&base).verify(&token).await.unwrap();
        assert_eq!(session.organization_id(), Some(organization));
        assert_eq!(session.role(), Some(role));
        assert_eq!(
            session.organization_membership_id(),
            Some(membership.as_str())
        );
    }

    // bob may not pick globex (inactive there), nor erin anything but no organization.
    let pair = crate::common::pkce();
    let query = authorize_query(CLIENT_ID, REDIRECT_URI, &pair.challenge, "s");
    let (_, answer) = sign_in_as(&base, &query, "user_bob", Some("org_globex")).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let (code, verifier) = code_for(&base, "user_erin", None).await;
    let reply = exchange(&base, &code, &verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.json().get("organization_id").is_none());
    let session = trusting(&base)
        .verify(reply.json()["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(session.organization_id(), None);
    assert!(session.permissions().is_empty());

    // A login hint puts its user first; a sign-up hint says there is no sign-up form.
    let hinted = format!("{query}&login_hint=DAVE%40example.com&screen_hint=sign-up");
    let page = send(
        browser()
            .get(format!("{base}/user_management/authorize?{hinted}"))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    let first = page.body.find("<form").unwrap();
    assert!(
        page.body[first..].starts_with("<form class=\"user hinted\"")
            && page.body[first..].contains("data-user-id=\"user_dave\""),
        "{}",
        page.body
    );
    assert!(
        page.body[first..first + 200].contains("user_dave"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<h1>Sign up</h1>"));
    let page = send(browser().get(format!(
        "{base}/user_management/authorize?{query}&screen_hint=register"
    )))
    .await;
    assert_eq!(page.status, 400, "an unknown screen hint: {page:?}");

    // An authorization restricted to one organization lists its members only.
    let query = format!("{query}&organization_id=org_globex");
    let page = send(
        browser()
            .get(format!("{base}/user_management/authorize?{query}"))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-user-id=\"user_dave\""));
    assert!(!page.body.contains("data-user-id=\"user_alice\""));
    assert!(!page.body.contains("data-organization-id=\"org_acme\""));
}

#[tokio::test]
async fn bad_authorize_requests_are_refused_without_a_redirect() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let challenge = pkce().challenge;
    let good = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("provider", "authkit"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |name: &str, value: Option<&str>| {
        let mut pairs: Vec<(&str, &str)> = good
            .iter()
            .copied()
            .filter(|(key, _)| *key != name)
            .collect();
        if let Some(value) = value {
            pairs.push((name, value));
        }
        form(&pairs)
    };
    let cases = [
        ("no redirect_uri", with("redirect_uri", None)),
        (
            "javascript:",
            with("redirect_uri", Some("javascript:alert(1)")),
        ),
        ("ftp", with("redirect_uri", Some("ftp://files.example/cb"))),
        ("relative", with("redirect_uri", Some("/callback"))),
        (
            "fragment",
            with("redirect_uri", Some("http://app.example/cb#x")),
        ),
        ("token", with("response_type", Some("token"))),
        ("no response_type", with("response_type", None)),
        ("plain", with("code_challenge_method", Some("plain"))),
        ("method without challenge", with("code_challenge", None)),
        ("another provider", with("provider", Some("GoogleOAuth"))),
        ("no client", with("client_id", None)),
        (
            "unknown organization",
            format!("{}&organization_id=org_nope", form(&good)),
        ),
        (
            "twice",
            format!("{}&redirect_uri=http%3A%2F%2Fevil.example%2F", form(&good)),
        ),
    ];
    for (context, query) in cases {
        let url = format!("{base}/user_management/authorize?{query}");
        let json_reply = send(browser().get(&url)).await;
        assert_eq!(json_reply.status, 400, "{context}: {json_reply:?}");
        assert!(json_reply.header("location").is_none(), "{context}");
        assert!(json_reply.json()["message"].is_string(), "{context}");
        let page = send(browser().get(&url).header("accept", "text/html")).await;
        assert_eq!(page.status, 400, "{context}: {page:?}");
        assert!(page.header("location").is_none(), "{context}");
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{context}"
        );
        assert!(!page.body.contains("name=\"authorization\""), "{context}");
    }
    // The good request is a page.
    let page =
        send(browser().get(format!("{base}/user_management/authorize?{}", form(&good)))).await;
    assert_eq!(page.status, 200, "{page:?}");

    // The form can only complete the authorization it came from, once.
    let query = authorize_query(CLIENT_ID, REDIRECT_URI, &challenge, "s");
    let page = send(browser().get(format!("{base}/user_management/authorize?{query}"))).await;
    let authorization = hidden_value(&page.body, "authorization").unwrap();
    let submit = |fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        send(
            browser()
                .post(format!("{base}/user_management/authorize"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&fields)),
        )
    };
    // A tampered form cannot add a redirect_uri of its own: the authorization decides.
    let answer = submit(vec![
        ("authorization", authorization.clone()),
        ("user_id", "user_alice".into()),
        ("redirect_uri", "http://evil.example/steal".into()),
    ])
    .await;
    let (code, _) = redirected_code(&answer, REDIRECT_URI);
    assert!(!code.is_empty());
    let again = submit(vec![
        ("authorization", authorization),
        ("user_id", "user_alice".into()),
    ])
    .await;
    assert_eq!(again.status, 400, "a replayed form: {again:?}");
    assert!(again.header("location").is_none());
    let forged = submit(vec![
        ("authorization", "made-up".into()),
        ("user_id", "user_alice".into()),
    ])
    .await;
    assert_eq!(forged.status, 400, "{forged:?}");
}

#[tokio::test]
async fn refresh_tokens_rotate_replay_within_the_window_and_switch_organizations() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let first = session_for(&base, "user_dave", Some("org_acme")).await;
    let old = first["refresh_token"].as_str().unwrap();
    let verify = trusting(&base);
    let sid = verify
        .verify(first["access_token"].as_str().unwrap())
        .await
        .unwrap()
        .session_id()
        .unwrap()
        .to_owned();

    // Rotation: a new pair, same session.
    let reply = refresh(&base, old, Some("org_acme")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let second = reply.json();
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["user"]["id"], "user_dave");
    let session = verify
        .verify(second["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(session.session_id(), Some(sid.as_str()));
    assert_eq!(session.organization_id(), Some("org_acme"));

    // Replayed within the window: the very same pair. With another organization: refused.
    let replay = refresh(&base, old, Some("org_acme")).await;
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.json(), second, "the same answer again");
    assert_invalid_grant(
        &refresh(&base, old, Some("org_globex")).await,
        "a replay asking for another organization",
    );

    // Switching organization: the token is scoped to globex, with dave's role there.
    let reply = refresh(&base, new, Some("org_globex")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let third = reply.json();
    assert_eq!(third["organization_id"], "org_globex");
    let session = verify
        .verify(third["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(session.organization_id(), Some("org_globex"));
    assert_eq!(session.role(), Some("admin"));
    assert_eq!(
        session.organization_membership_id(),
        Some(model.dave_globex.as_str())
    );
    // The session stays in globex when the next refresh names no organization.
    let current = third["refresh_token"].as_str().unwrap();
    let reply = refresh(&base, current, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["organization_id"], "org_globex");
    let current = reply.json()["refresh_token"].as_str().unwrap().to_owned();

    // No membership there: WorkOS's 403, and the token is not spent by the refusal.
    for organization in ["org_nowhere", "org_acme_not"] {
        let reply = refresh(&base, &current, Some(organization)).await;
        assert_eq!(reply.status, 403, "{reply:?}");
        assert_eq!(reply.json()["code"], "organization_membership_not_found");
        assert!(reply.json()["message"].is_string());
    }
    let bob = session_for(&base, "user_bob", Some("org_acme")).await;
    let reply = refresh(
        &base,
        bob["refresh_token"].as_str().unwrap(),
        Some("org_globex"),
    )
    .await;
    assert_eq!(reply.status, 403, "bob is inactive in globex: {reply:?}");
    assert_eq!(
        refresh(&base, &current, None).await.status,
        200,
        "still good"
    );

    // Another client, a bad secret, garbage.
    let reply = authenticate(
        &base,
        json!({"grant_type": "refresh_token", "client_id": "client_other",
               "client_secret": API_KEY, "refresh_token": bob["refresh_token"]}),
    )
    .await;
    assert_invalid_grant(&reply, "another client");
    let reply = authenticate(
        &base,
        json!({"grant_type": "refresh_token", "client_id": CLIENT_ID,
               "client_secret": "sk_wrong", "refresh_token": bob["refresh_token"]}),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_invalid_grant(&refresh(&base, "garbage", None).await, "unknown");
}

#[tokio::test]
async fn a_spent_refresh_token_is_invalid_grant_once_the_window_has_passed() {
    let model = model();
    let base =
        serve_emulator(emulator(&model.engine).with_replay_window(Duration::from_millis(200)))
            .await;
    let first = session_for(&base, "user_alice", Some("org_acme")).await;
    let old = first["refresh_token"].as_str().unwrap();
    let second = refresh(&base, old, Some("org_acme")).await;
    assert_eq!(second.status, 200);
    // Within the window (or already past it, on a slow machine): never a third pair.
    let replay = refresh(&base, old, Some("org_acme")).await;
    assert!(
        replay.status == 400 || replay.json() == second.json(),
        "{replay:?}"
    );
    let ended =
        poll_until(async || refresh(&base, old, Some("org_acme")).await.status == 400).await;
    assert!(ended, "the replay window never closed");
    assert_invalid_grant(
        &refresh(&base, old, Some("org_acme")).await,
        "after the window",
    );
    // The rotated token is unaffected.
    let new = second.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&base, &new, None).await.status, 200);

    // With replays off, a spent token is refused at once.
    let strict = serve_emulator(emulator(&model.engine).with_replay_window(Duration::ZERO)).await;
    let first = session_for(&strict, "user_alice", None).await;
    let old = first["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&strict, old, None).await.status, 200);
    assert_invalid_grant(&refresh(&strict, old, None).await, "no window");
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_to_http_return_urls_only() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let verify = trusting(&base);
    let logout = |query: String| {
        send(browser().get(format!("{base}/user_management/sessions/logout?{query}")))
    };

    let session = session_for(&base, "user_alice", Some("org_acme")).await;
    let sid = verify
        .verify(session["access_token"].as_str().unwrap())
        .await
        .unwrap()
        .session_id()
        .unwrap()
        .to_owned();
    let refresh_token = session["refresh_token"].as_str().unwrap();
    let reply = logout(form(&[
        ("session_id", &sid),
        ("return_to", "http://127.0.0.1:9/signed-out?x=1"),
    ]))
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(
        reply.header("location"),
        Some("http://127.0.0.1:9/signed-out?x=1")
    );
    assert_invalid_grant(
        &refresh(&base, refresh_token, None).await,
        "the session has ended",
    );
    // Again: still ended, still redirected.
    let reply = logout(form(&[
        ("session_id", &sid),
        ("return_to", "https://app.example/"),
    ]))
    .await;
    assert_eq!(reply.status, 302);

    // A token spent just before the logout is not replayed after it.
    let session = session_for(&base, "user_alice", None).await;
    let old = session["refresh_token"].as_str().unwrap();
    let rotated = refresh(&base, old, None).await;
    assert_eq!(rotated.status, 200);
    let sid = verify
        .verify(rotated.json()["access_token"].as_str().unwrap())
        .await
        .unwrap()
        .session_id()
        .unwrap()
        .to_owned();
    // A return_to that is not an http(s) URL: a page, no redirect.
    for return_to in ["javascript:alert(1)", "/relative", ""] {
        let reply = logout(form(&[("session_id", &sid), ("return_to", return_to)])).await;
        assert_eq!(reply.status, 200, "{return_to}: {reply:?}");
        assert!(reply.header("location").is_none());
        assert!(reply.body.contains("signed out"), "{}", reply.body);
    }
    assert_invalid_grant(&refresh(&base, old, None).await, "replay after logout");
    let new = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_invalid_grant(
        &refresh(&base, &new, None).await,
        "current token after logout",
    );

    // No session id, or an unknown one: refused, no redirect.
    let reply = logout(form(&[("return_to", "http://127.0.0.1:9/")])).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.header("location").is_none());
    let reply = logout(form(&[
        ("session_id", "session_unknown"),
        ("return_to", "http://127.0.0.1:9/"),
    ]))
    .await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn everything_the_sign_in_page_echoes_is_html_escaped() {
    let engine = LocalEngine::new();
    engine
        .create_organization_with_id("org_evil", "<img src=x onerror=alert(1)>")
        .unwrap();
    let user = engine
        .create_user(
            NewUser::new("\"><script>alert('e')</script>@example.com")
                .first_name("<script>alert(1)</script>")
                .last_name("O'Hara & \"Sons\""),
        )
        .unwrap();
    engine.create_membership(&user.id, "org_evil", &[]).unwrap();
    let base = serve_emulator(emulator(&engine)).await;
    let challenge = pkce().challenge;
    let query = form(&[
        ("client_id", "client_<b>bold</b>"),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("state", "\"><script>alert('state')</script>"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("login_hint", "<script>hint</script>"),
    ]);
    let page = send(
        browser()
            .get(format!("{base}/user_management/authorize?{query}"))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(!page.body.contains("<b>"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.body.contains("O&#39;Hara &amp; &quot;Sons&quot;"));
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.body.contains("client_&lt;b&gt;bold&lt;/b&gt;"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // A refusal page escapes what it quotes too.
    let bad = form(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "<script>rt</script>"),
    ]);
    let page = send(
        browser()
            .get(format!("{base}/user_management/authorize?{bad}"))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;rt"), "{}", page.body);
}

/// The emulator's router inside an application under `/workos`, as the demo's embedded mode
/// mounts it: the page's form posts under the prefix, tokens are issued by
/// `http://127.0.0.1:PORT/workos`, and `Authz::from_lookup` in WorkOS mode pointed there
/// (JWKS, issuer, the client's code exchange) trusts them on the application's own routes.
#[tokio::test]
async fn nested_under_a_prefix_the_emulator_renders_prefixed_urls_and_authz_trusts_its_tokens() {
    let model = model();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let base = format!("{origin}/workos");
    let authz = Authz::from_lookup(|name| match name {
        "WORKOS_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "WORKOS_API_KEY" => Some(API_KEY.to_owned()),
        "WORKOS_BASE_URL" => Some(base.clone()),
        _ => None,
    })
    .unwrap();
    let protected = Router::new()
        .route(
            "/projects",
            get(|session: Session| async move {
                format!(
                    "{} {}",
                    session.user_id(),
                    session.organization_id().unwrap_or("")
                )
            })
            .route_layer(require_permission("projects:read")),
        )
        .layer(authz.layer());
    let app = Router::new()
        .nest("/workos", emulator(&model.engine).router())
        .merge(protected);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let pkce = pkce();
    let redirect = format!("{origin}/callback");
    let query = authorize_query(CLIENT_ID, &redirect, &pkce.challenge, "nested");
    let (page, answer) = sign_in_as(&base, &query, "user_alice", Some("org_acme")).await;
    assert!(
        page.body.contains(&format!(
            "action=\"{origin}/workos/user_management/authorize\""
        )),
        "{}",
        page.body
    );
    let (code, state) = redirected_code(&answer, &redirect);
    assert_eq!(state.as_deref(), Some("nested"));

    // The crate's own client exchanges the code at the prefixed base.
    let client = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .build()
        .unwrap();
    let authentication = client
        .authenticate_with_code(CLIENT_ID, &code, Some(&pkce.verifier))
        .await
        .unwrap();
    assert_eq!(authentication.user.id, "user_alice");
    assert_eq!(authentication.organization_id.as_deref(), Some("org_acme"));
    let token = &authentication.access_token;
    let claims: Value = serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["iss"], json!(base));

    let reply = get_bearer(&browser(), &format!("{origin}/projects"), token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "user_alice org_acme");
    // The development token endpoint issues under the prefix too.
    let minted = send(
        browser()
            .post(format!("{base}/_emulator/sessions"))
            .bearer_auth(API_KEY)
            .json(&json!({"organization_membership_id": model.alice})),
    )
    .await;
    let minted = minted.json()["access_token"].as_str().unwrap().to_owned();
    let reply = get_bearer(&browser(), &format!("{origin}/projects"), &minted).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // A refresh through the client, switching organization: refused with the 403's code.
    let error = client
        .authenticate_with_refresh_token(
            CLIENT_ID,
            &authentication.refresh_token,
            Some("org_globex"),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(error.code(), Some("organization_membership_not_found"));
    let refreshed = client
        .authenticate_with_refresh_token(CLIENT_ID, &authentication.refresh_token, Some("org_acme"))
        .await
        .unwrap();
    assert_ne!(refreshed.refresh_token, authentication.refresh_token);
    let error = client
        .authenticate_with_refresh_token(CLIENT_ID, "spent-or-never", None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("invalid_grant"));
}

/// The crate's AuthKit cookie, refreshed through the emulator: a session signed in over HTTP
/// and sealed as the sign-in callback would seal it; its access token lives 20 s, inside the
/// 30 s early-refresh buffer, so the first request refreshes it through the emulator's token
/// endpoint and sets the new cookie, whose tokens the emulator issued.
#[tokio::test]
async fn the_authkit_cookie_refreshes_through_the_emulator_end_to_end() {
    const PASSWORD: &str = "a cookie password of at least thirty-two characters";
    let model = model();
    let emulator_base = serve_emulator(
        emulator(&model.engine)
            .with_access_token_lifetime(Duration::from_secs(20))
            .unwrap(),
    )
    .await;
    let client = WorkOsClient::builder(API_KEY)
        .base_url(&emulator_base)
        .build()
        .unwrap();
    let cookie = AuthKitCookie::new(CookieConfig::new(Password::new(PASSWORD).unwrap()))
        .refresh_through(client.clone(), CLIENT_ID);
    let authz = Authz::builder()
        .verifier(trusting(&emulator_base))
        .token_sources([TokenSource::Bearer, TokenSource::authkit_cookie(cookie)])
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|session: Session| async move {
                axum::Json(json!({
                    "user_id": session.user_id(),
                    "organization_id": session.organization_id(),
                    "email": session.user().map(|user| user.email.clone()),
                    "sid": session.session_id(),
                }))
            }),
        )
        .layer(authz.layer());
    let app_base = format!("http://{}", serve(app).await);

    let (code, verifier) = code_for(&emulator_base, "user_dave", Some("org_globex")).await;
    let signed_in = client
        .authenticate_with_code(CLIENT_ID, &code, Some(&verifier))
        .await
        .unwrap();
    let config = authz.authkit_cookie().unwrap().config();
    let mut user = SessionUser::new(&signed_in.user.id, &signed_in.user.email);
    user.first_name = signed_in.user.first_name.clone();
    let payload = SessionPayload::new(
        signed_in.access_token.clone(),
        signed_in.refresh_token.clone(),
        user,
    )
    .with_organization("org_globex");
    let sealed = config.seal(&payload).unwrap();

    let reply = send(
        browser()
            .get(format!("{app_base}/me"))
            .header("cookie", format!("wos-session={}", sealed.as_str())),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["user_id"], "user_dave");
    assert_eq!(reply.json()["organization_id"], "org_globex");
    let set_cookie = reply
        .header("set-cookie")
        .expect("refreshed early")
        .to_owned();
    let new_seal = set_cookie
        .strip_prefix("wos-session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    let refreshed = config.unseal(new_seal).unwrap();
    assert_ne!(refreshed.refresh_token, signed_in.refresh_token, "rotated");
    assert_ne!(refreshed.access_token, signed_in.access_token);
    assert_eq!(refreshed.organization_id.as_deref(), Some("org_globex"));
    assert_eq!(refreshed.user.email, "dave@example.com");
    assert_eq!(refreshed.user.first_name.as_deref(), Some("Dave"));
    let session = trusting(&emulator_base)
        .verify(&refreshed.access_token)
        .await
        .unwrap();
    assert_eq!(session.session_id(), reply.json()["sid"].as_str());

    // It was the emulator that rotated it: the spent token replays to the same pair there,
    // and the new refresh token is the session's current one.
    let replay = refresh(&emulator_base, &signed_in.refresh_token, Some("org_globex")).await;
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(
        replay.json()["refresh_token"],
        json!(refreshed.refresh_token)
    );
    assert_eq!(replay.json()["access_token"], json!(refreshed.access_token));
    let next = refresh(&emulator_base, &refreshed.refresh_token, None).await;
    assert_eq!(next.status, 200, "{next:?}");
}

/// Sessions live in the `--state` database: signed in before a restart, refreshed after it
/// (by a new signing key, whose JWKS the new token verifies against).
#[tokio::test]
async fn sessions_survive_a_restart_of_the_binary_with_state() {
    use super::emulator_binary::start;
    let directory = tempfile::tempdir().unwrap();
    let policy = directory.path().join("acme.toml");
    std::fs::write(&policy, super::emulator_binary::documented_toml()).unwrap();
    let state = directory.path().join("state.db");
    let args = [
        "--policy",
        policy.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--api-key",
        API_KEY,
        "--access-token-lifetime",
        "120",
    ];

    let first = start(&args);
    // A user created over HTTP, and a member of Acme, next to the documented users.
    let created = send(
        client()
            .post(format!("{}/user_management/users", first.base))
            .bearer_auth(API_KEY)
            .json(&json!({"email": "frank@example.com", "first_name": "Frank"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let frank = created.json()["id"].as_str().unwrap().to_owned();
    let membership = send(
        client()
            .post(format!(
                "{}/user_management/organization_memberships",
                first.base
            ))
            .bearer_auth(API_KEY)
            .json(&json!({"user_id": frank, "organization_id": "org_acme"})),
    )
    .await;
    assert_eq!(membership.status, 201, "{membership:?}");
    let mut sessions = Vec::new();
    for user in ["user_alice", frank.as_str()] {
        let session = session_for(&first.base, user, None).await;
        let claims: Value = serde_json::from_slice(&unb64(
            session["access_token"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        ))
        .unwrap();
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            120
        );
        sessions.push((session, claims["sid"].as_str().unwrap().to_owned()));
    }
    drop(first);

    let second = start(&args);
    for (session, sid) in &sessions {
        let reply = refresh(
            &second.base,
            session["refresh_token"].as_str().unwrap(),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let token = reply.json()["access_token"].as_str().unwrap().to_owned();
        let verified = trusting(&second.base).verify(&token).await.unwrap();
        assert_eq!(
            verified.session_id(),
            Some(sid.as_str()),
            "the same session"
        );
        assert_eq!(verified.organization_id(), Some("org_acme"));
        assert_eq!(reply.json()["user"]["id"], session["user"]["id"]);
    }
    // The state files (the database and its write-ahead log) hold no working refresh token.
    drop(second);
    let mut text = String::new();
    for entry in std::fs::read_dir(directory.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("state.db")
        {
            text += &String::from_utf8_lossy(&std::fs::read(&path).unwrap());
        }
    }
    assert!(text.contains("frank@example.com"), "the files were read");
    for (session, _) in &sessions {
        assert!(!text.contains(session["refresh_token"].as_str().unwrap()));
    }
}

/// The demo's embedded mode: one engine and one key for the application's `Authz` and the
/// emulator nested in it, so the emulator's sign-in gives tokens the embedded verifier
/// accepts, checked against the same engine.
#[tokio::test]
async fn an_embedded_authz_and_a_nested_emulator_share_their_engine_and_key() {
    let model = model();
    let authz = Authz::embedded_with(model.engine.clone()).unwrap();
    let signer = match authz.mode() {
        workos_authz::Mode::Embedded { signer, .. } => signer.clone(),
        other => panic!("not embedded: {other:?}"),
    };
    let emulator = Emulator::with_shared_signer(model.engine.clone(), signer)
        .with_api_key(API_KEY)
        .unwrap();
    let app = Router::new().nest("/workos", emulator.router()).merge(
        Router::new()
            .route(
                "/projects",
                get(|session: Session| async move { session.user_id().to_owned() })
                    .route_layer(require_permission("projects:read")),
            )
            .layer(authz.layer()),
    );
    let origin = format!("http://{}", serve(app).await);
    let base = format!("{origin}/workos");
    let (code, verifier) = code_for(&base, "user_alice", Some("org_acme")).await;
    let client = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .build()
        .unwrap();
    let signed_in = client
        .authenticate_with_code(CLIENT_ID, &code, Some(&verifier))
        .await
        .unwrap();
    let reply = get_bearer(
        &browser(),
        &format!("{origin}/projects"),
        &signed_in.access_token,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "user_alice");
    // bob (member: no projects:read) signs in as well, and is refused by the guard.
    let (code, verifier) = code_for(&base, "user_bob", None).await;
    let bob = client
        .authenticate_with_code(CLIENT_ID, &code, Some(&verifier))
        .await
        .unwrap();
    let reply = get_bearer(&browser(), &format!("{origin}/projects"), &bob.access_token).await;
    assert_forbidden(&reply, "bob");
}

#[test]
fn settings_refuse_what_they_cannot_use_and_never_show_the_key() {
    use workos_authz::emulator::EmulatorConfigError;
    let emulator = || Emulator::new(LocalEngine::new());
    for url in [
        "ftp://host",
        "/workos",
        "http://host/x?y=1",
        "http://u:p@host",
        "http://host/#x",
    ] {
        assert!(
            matches!(
                emulator().with_base_url(url),
                Err(EmulatorConfigError::BaseUrl { .. })
            ),
            "{url}"
        );
    }
    assert!(
        emulator()
            .with_base_url("https://auth.example/workos/")
            .is_ok()
    );
    assert!(matches!(
        emulator().with_access_token_lifetime(Duration::from_millis(900)),
        Err(EmulatorConfigError::AccessTokenLifetime(_))
    ));
    for key in ["", "sk has spaces"] {
        assert!(matches!(
            emulator().with_api_key(key),
            Err(EmulatorConfigError::ApiKey)
        ));
    }
    let configured = emulator().with_api_key("sk_test_very_secret_key").unwrap();
    let debug = format!("{configured:?}");
    assert!(!debug.contains("very_secret"), "{debug}");
    assert!(debug.contains("one configured key"), "{debug}");

    // The binary refuses bad settings before it starts.
    use super::emulator_binary::run_to_end;
    let output = run_to_end(&["--access-token-lifetime", "0"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = run_to_end(&["--addr", "127.0.0.1:0", "--base-url", "ftp://x"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--base-url"));
}

/// With a configured key, the API routes take that key only (any other `sk_` key is 401).
#[tokio::test]
async fn a_configured_api_key_is_the_only_key_the_api_takes() {
    let base = serve_emulator(emulator(&LocalEngine::new())).await;
    let roles = |key: &'static str| {
        send(
            client()
                .get(format!("{base}/authorization/roles"))
                .bearer_auth(key),
        )
    };
    assert_eq!(roles(API_KEY).await.status, 200);
    assert_eq!(roles("sk_test_another").await.status, 401);
    let open = serve_emulator(Emulator::new(LocalEngine::new())).await;
    let reply = send(
        client()
            .get(format!("{open}/authorization/roles"))
            .bearer_auth("sk_test_another"),
    )
    .await;
    assert_eq!(reply.status, 200, "without a configured key, any sk_ key");
}

/// Twenty requests refreshing one token at once (tabs of one browser): one rotation, and every
/// one of them gets the same new pair.
#[tokio::test]
async fn concurrent_refreshes_of_one_token_get_one_rotation_and_the_same_pair() {
    let model = model();
    let base = serve_emulator(emulator(&model.engine)).await;
    let session = session_for(&base, "user_alice", Some("org_acme")).await;
    let token = session["refresh_token"].as_str().unwrap().to_owned();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (base, token) = (base.clone(), token.clone());
        requests.spawn(async move { refresh(&base, &token, Some("org_acme")).await });
    }
    let mut answers = std::collections::HashSet::new();
    while let Some(reply) = requests.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        answers.insert(reply.body);
    }
    assert_eq!(answers.len(), 1, "one pair for all: {answers:?}");
    let pair: Value = serde_json::from_str(answers.iter().next().unwrap()).unwrap();
    assert_eq!(
        refresh(&base, pair["refresh_token"].as_str().unwrap(), None)
            .await
            .status,
        200,
        "the one new token is the session's"
    );
}
