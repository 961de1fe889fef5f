//! Route guards over HTTP: 401 without a session, 403 without the requirement, 200 with it;
//! `Option<Session>`; tenant isolation with `require_org_param`; a custom `Responder`; and the
//! 500 a route answers when no layer was installed.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use workos_authz::rejection::{AuthzRejection, Responder};
use workos_authz::session::SessionClaims;
use workos_authz::{
    Authz, Session, require_all_permissions, require_any_permission, require_entitlement,
    require_feature_flag, require_org_param, require_permission, require_role,
};

use crate::common::*;

struct Users {
    authz: Authz,
}

impl Users {
    fn new() -> Self {
        Users {
            authz: Authz::embedded().unwrap(),
        }
    }

    fn sign(&self, claims: SessionClaims) -> String {
        self.authz.signer().unwrap().sign(&claims).unwrap()
    }

    /// Alice: admin of org_acme, every permission of the demo, the `sso` entitlement and
    /// the `beta` flag.
    fn alice(&self) -> String {
        self.sign(
            SessionClaims::new("user_alice")
                .organization("org_acme")
                .role("admin")
                .permissions([
                    "posts:read",
                    "posts:write",
                    "members:read",
                    "projects:read",
                    "projects:delete",
                ])
                .entitlements(["sso"])
                .feature_flags(["beta"]),
        )
    }

    /// Bob: member of org_acme, posts:read only.
    fn bob(&self) -> String {
        self.sign(
            SessionClaims::new("user_bob")
                .organization("org_acme")
                .role("member")
                .permissions(["posts:read"]),
        )
    }

    /// Carol: admin of org_globex.
    fn carol(&self) -> String {
        self.sign(
            SessionClaims::new("user_carol")
                .organization("org_globex")
                .role("admin")
                .permissions(["posts:read", "posts:write", "members:read"]),
        )
    }

    /// Dave: a session without organization, with members:read.
    fn dave(&self) -> String {
        self.sign(SessionClaims::new("user_dave").permissions(["members:read"]))
    }
}

async fn ok(session: Option<Session>) -> Json {
    axum::Json(json!({ "user_id": session.as_ref().map(Session::user_id) }))
}

type Json = axum::Json<Value>;

/// A guarded route, tokens that pass, tokens that lack the requirement, the challenge's scope.
type GuardCase<'a> = (&'a str, Vec<&'a String>, Vec<&'a String>, Option<&'a str>);

async fn members(Path(org_id): Path<String>, session: Session) -> Json {
    axum::Json(json!({ "org_id": org_id, "user_id": session.user_id() }))
}

fn guarded_routes() -> Router {
    Router::new()
        .route(
            "/perm",
            get(ok).route_layer(require_permission("posts:write")),
        )
        .route(
            "/any",
            get(ok).route_layer(require_any_permission(["posts:write", "posts:publish"])),
        )
        .route(
            "/all",
            get(ok).route_layer(require_all_permissions(["posts:read", "posts:write"])),
        )
        .route("/role", get(ok).route_layer(require_role("admin")))
        .route(
            "/entitlement",
            get(ok).route_layer(require_entitlement("sso")),
        )
        .route("/flag", get(ok).route_layer(require_feature_flag("beta")))
        .route(
            "/orgs/{org_id}/members",
            get(members)
                .route_layer(require_permission("members:read"))
                .route_layer(require_org_param("org_id")),
        )
        .route(
            "/wrong/{id}",
            get(ok).route_layer(require_org_param("org_id")),
        )
        .route("/whoami", get(ok))
        .route(
            "/me",
            get(|s: Session| async move { s.user_id().to_owned() }),
        )
}

async fn serve_optional(authz: &Authz) -> String {
    format!(
        "http://{}",
        serve(guarded_routes().layer(authz.optional_layer())).await
    )
}

#[tokio::test]
async fn each_guard_answers_401_without_session_403_without_requirement_200_with_it() {
    let users = Users::new();
    let base = serve_optional(&users.authz).await;
    let http = client();
    let (alice, bob) = (users.alice(), users.bob());
    let publisher = users.sign(
        SessionClaims::new("user_pub")
            .organization("org_acme")
            .permissions(["posts:publish"]),
    );
    let multi_role = users.sign(
        SessionClaims::new("user_multi")
            .organization("org_acme")
            .role("member")
            .roles(["member", "admin"]),
    );

    // (route, tokens that pass, tokens that lack the requirement, scope in the challenge)
    let table: Vec<GuardCase<'_>> = vec![
        (
            "/perm",
            vec![&alice],
            vec![&bob, &publisher],
            Some("posts:write"),
        ),
        (
            "/any",
            vec![&alice, &publisher],
            vec![&bob],
            Some("posts:write posts:publish"),
        ),
        (
            "/all",
            vec![&alice],
            vec![&bob, &publisher],
            Some("posts:read posts:write"),
        ),
        (
            "/role",
            vec![&alice, &multi_role],
            vec![&bob, &publisher],
            None,
        ),
        ("/entitlement", vec![&alice], vec![&bob], None),
        ("/flag", vec![&alice], vec![&bob], None),
    ];
    for (route, pass, lack, scope) in table {
        let url = format!("{base}{route}");
        let reply = send(http.get(&url)).await;
        assert_missing_token(&reply, &format!("{route} without a token"));

        for token in lack {
            let reply = get_bearer(&http, &url, token).await;
            let context = format!("{route} lacking the requirement");
            assert_forbidden(&reply, &context);
            assert_no_echo(&reply, token, &context);
            if let Some(scope) = scope {
                assert!(
                    reply.challenge().contains(&format!("scope=\"{scope}\"")),
                    "{context}: {}",
                    reply.challenge()
                );
            }
        }
        for token in pass {
            let reply = get_bearer(&http, &url, token).await;
            assert_eq!(reply.status, 200, "{route}: {reply:?}");
            assert!(reply.json()["user_id"].is_string(), "{route}: {reply:?}");
        }
    }

    // The 403 of require_all_permissions names what is missing.
    let reply = get_bearer(&http, &format!("{base}/all"), &bob).await;
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("posts:write") && !detail.contains("posts:read"),
        "{detail}"
    );

    // A bad token never reaches a guard: 401 invalid_token, not 403.
    let reply = get_bearer(&http, &format!("{base}/perm"), "a.b.c").await;
    assert_invalid_token(&reply, "a.b.c", "bad token on a guarded route");
}

#[tokio::test]
async fn with_the_required_layer_a_missing_token_is_401_with_a_bare_challenge() {
    let users = Users::new();
    let app = guarded_routes().layer(users.authz.layer());
    let base = format!("http://{}", serve(app).await);
    let http = client();

    let reply = send(http.get(format!("{base}/perm"))).await;
    assert_missing_token(&reply, "required layer, no token");
    assert_eq!(reply.challenge(), "Bearer realm=\"workos-authz\"");
    assert_eq!(reply.json()["title"], "Authentication required");

    // Required mode also refuses anonymous requests on unguarded routes.
    let reply = send(http.get(format!("{base}/whoami"))).await;
    assert_missing_token(&reply, "required layer, unguarded route");

    let reply = get_bearer(&http, &format!("{base}/perm"), &users.bob()).await;
    assert_forbidden(&reply, "required layer, bob");
    let reply = get_bearer(&http, &format!("{base}/perm"), &users.alice()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn option_session_is_none_for_anonymous_some_with_a_token_and_a_bad_token_is_401() {
    let users = Users::new();
    let base = serve_optional(&users.authz).await;
    let http = client();
    let url = format!("{base}/whoami");

    let reply = send(http.get(&url)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["user_id"], Value::Null);

    let reply = get_bearer(&http, &url, &users.alice()).await;
    assert_eq!(reply.json()["user_id"], "user_alice");

    // A token signed by another setup's key is a bad token, not an anonymous request.
    let stranger = Users::new().alice();
    for token in [stranger.as_str(), "garbage", "a.b.c"] {
        let reply = get_bearer(&http, &url, token).await;
        assert_invalid_token(&reply, token, "bad token under optional_layer");
    }
    let expired = users.sign(SessionClaims::new("user_old").expires_in(std::time::Duration::ZERO));
    let reply = get_bearer(&http, &url, &expired).await;
    assert_invalid_token(&reply, &expired, "expired token under optional_layer");

    // The `Session` extractor behind the optional layer: 401 when anonymous.
    let reply = send(http.get(format!("{base}/me"))).await;
    assert_missing_token(&reply, "Session extractor, anonymous");
}

#[tokio::test]
async fn require_org_param_isolates_tenants() {
    let users = Users::new();
    let base = serve_optional(&users.authz).await;
    let http = client();
    let acme = format!("{base}/orgs/org_acme/members");

    let reply = get_bearer(&http, &acme, &users.alice()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({"org_id": "org_acme", "user_id": "user_alice"})
    );

    let carol = users.carol();
    let reply = get_bearer(&http, &acme, &carol).await;
    assert_forbidden(&reply, "carol of org_globex on org_acme");
    assert_no_echo(&reply, &carol, "carol");
    let reply = get_bearer(&http, &format!("{base}/orgs/org_globex/members"), &carol).await;
    assert_eq!(reply.status, 200, "carol on her own org: {reply:?}");

    let reply = get_bearer(&http, &acme, &users.dave()).await;
    assert_forbidden(&reply, "a session without organization");

    let reply = send(http.get(&acme)).await;
    assert_missing_token(&reply, "anonymous on a tenant route");

    // Near misses of the organization id are other organizations.
    let alice = users.alice();
    for path in [
        "ORG_ACME",
        "org_acme2",
        "org_ac",
        "org_acme%20",
        "%20org_acme",
    ] {
        let reply = get_bearer(&http, &format!("{base}/orgs/{path}/members"), &alice).await;
        assert_forbidden(&reply, &format!("alice on /orgs/{path}/members"));
    }
    // A percent-encoded spelling of her own org: whatever the guard decides, the handler never
    // sees another organization than the one the guard compared.
    let reply = get_bearer(&http, &format!("{base}/orgs/org%5Facme/members"), &alice).await;
    match reply.status {
        200 => assert_eq!(reply.json()["org_id"], "org_acme"),
        403 => assert_forbidden(&reply, "percent-encoded org id"),
        other => panic!("percent-encoded org id: {other} {reply:?}"),
    }

    // A guard naming a parameter the route does not have is a wiring mistake: 500.
    let reply = get_bearer(&http, &format!("{base}/wrong/org_acme"), &alice).await;
    assert_problem(
        &reply,
        500,
        "require_org_param on a route without the parameter",
    );
}

/// Renders every refusal as plain text with a marker header.
struct PlainText;

impl Responder for PlainText {
    fn respond(&self, rejection: &AuthzRejection) -> Response {
        (
            rejection.status(),
            [("x-responder", "plain")],
            format!(
                "plain {}: {}",
                rejection.status().as_u16(),
                rejection.title()
            ),
        )
            .into_response()
    }
}

#[tokio::test]
async fn a_custom_responder_renders_the_layers_the_guards_and_the_extractors_refusals() {
    let users = Users::new();
    let authz = Authz::builder()
        .verifier(users.authz.verifier().clone())
        .responder(PlainText)
        .build()
        .unwrap();
    let optional = format!(
        "http://{}",
        serve(guarded_routes().layer(authz.optional_layer())).await
    );
    let required = format!(
        "http://{}",
        serve(guarded_routes().layer(authz.layer())).await
    );
    let http = client();

    let check = |reply: &Reply, status: u16, context: &str| {
        assert_eq!(reply.status, status, "{context}: {reply:?}");
        assert_eq!(
            reply.header("x-responder"),
            Some("plain"),
            "{context}: {reply:?}"
        );
        assert!(
            reply.body.starts_with(&format!("plain {status}: ")),
            "{context}: {reply:?}"
        );
        assert_ne!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{context}"
        );
    };
    // The layer: a bad token, and no token in required mode.
    check(
        &get_bearer(&http, &format!("{optional}/whoami"), "a.b.c").await,
        401,
        "layer, bad token",
    );
    check(
        &send(http.get(format!("{required}/whoami"))).await,
        401,
        "layer, no token",
    );
    // The guards: no session, and a session lacking the permission.
    check(
        &send(http.get(format!("{optional}/perm"))).await,
        401,
        "guard, no session",
    );
    check(
        &get_bearer(&http, &format!("{optional}/perm"), &users.bob()).await,
        403,
        "guard, bob",
    );
    check(
        &get_bearer(
            &http,
            &format!("{optional}/orgs/org_acme/members"),
            &users.carol(),
        )
        .await,
        403,
        "org guard, carol",
    );
    // The extractor: `Session` on an anonymous request.
    check(
        &send(http.get(format!("{optional}/me"))).await,
        401,
        "extractor, anonymous",
    );
    // What is allowed is untouched.
    let reply = get_bearer(&http, &format!("{optional}/perm"), &users.alice()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn a_route_without_any_layer_answers_500_not_401_or_200() {
    let users = Users::new();
    let base = format!("http://{}", serve(guarded_routes()).await);
    let http = client();
    let alice = users.alice();
    for route in ["/me", "/whoami", "/perm", "/orgs/org_acme/members"] {
        for token in [None, Some(&alice)] {
            let url = format!("{base}{route}");
            let reply = match token {
                Some(token) => get_bearer(&http, &url, token).await,
                None => send(http.get(&url)).await,
            };
            let context = format!("{route} without a layer, token: {}", token.is_some());
            assert_problem(&reply, 500, &context);
            assert_eq!(
                reply.json()["title"],
                "Authorization misconfigured",
                "{context}"
            );
            assert!(reply.header("www-authenticate").is_none(), "{context}");
        }
    }
}

#[test]
fn an_invalid_permission_slug_is_refused_when_the_router_is_built() {
    let panic = std::panic::catch_unwind(|| {
        Router::<()>::new().route("/x", get(ok).route_layer(require_permission("posts write")))
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("\"posts write\""), "{message}");
}

/// A resource guard on a route without route parameters is a wiring mistake: 500, not a 400
/// the client could fix.
#[tokio::test]
async fn a_resource_guard_on_a_route_without_parameters_is_500() {
    let users = Users::new();
    let app = Router::new()
        .route(
            "/projects",
            get(ok).route_layer(require_permission("projects:read").on_resource("project", "id")),
        )
        .route(
            "/projects/{project_id}",
            get(ok).route_layer(require_permission("projects:read").on_resource("project", "id")),
        )
        .layer(users.authz.layer());
    let base = format!("http://{}", serve(app).await);
    let http = client();
    for path in ["/projects", "/projects/proj_1"] {
        let reply = get_bearer(&http, &format!("{base}{path}"), &users.alice()).await;
        assert_problem(&reply, 500, path);
    }
}

/// Claims-only decisions are audit events under the same target and with the same fields as
/// resource decisions.
#[tokio::test]
async fn claims_decisions_are_audit_events_like_resource_decisions() {
    let captured = capture_this_thread();
    let users = Users::new();
    let app = Router::new()
        .route(
            "/posts",
            get(ok).route_layer(require_permission("posts:write")),
        )
        .route("/admin", get(ok).route_layer(require_role("admin")))
        .layer(users.authz.layer());
    let base = format!("http://{}", serve(app).await);
    let http = client();
    assert_eq!(
        get_bearer(&http, &format!("{base}/posts"), &users.alice())
            .await
            .status,
        200
    );
    assert_eq!(
        get_bearer(&http, &format!("{base}/posts"), &users.bob())
            .await
            .status,
        403
    );
    assert_eq!(
        get_bearer(&http, &format!("{base}/admin"), &users.bob())
            .await
            .status,
        403
    );

    let text = String::from_utf8_lossy(&captured.lock().unwrap()).replace('"', "");
    let audit: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("workos_authz::audit"))
        .collect();
    assert_eq!(audit.len(), 3, "one event per decision: {audit:#?}");
    let fields = [
        "user_id=",
        "organization_id=org_acme",
        "rule=",
        "permission=",
        "resource=",
        "outcome=",
        "source=claims",
        "latency_us=",
    ];
    for line in &audit {
        for field in fields {
            assert!(line.contains(field), "{field} missing from {line}");
        }
    }
    for needles in [
        [
            "user_id=user_alice",
            "permission=posts:write",
            "outcome=allow",
        ],
        ["user_id=user_bob", "permission=posts:write", "outcome=deny"],
        ["user_id=user_bob", "rule=role admin", "outcome=deny"],
    ] {
        assert!(
            audit
                .iter()
                .any(|line| needles.iter().all(|n| line.contains(n))),
            "no event with {needles:?} in {audit:#?}"
        );
    }
}
