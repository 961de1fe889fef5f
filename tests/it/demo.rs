//! The demo app (examples/demo.rs) over real HTTP on loopback, on the embedded setup: the
//! README's main job does what the README says.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/demo.rs"]
pub(crate) mod demo_app;

use std::collections::HashMap;

use serde_json::json;
use workos_authz::Authz;

struct Demo {
    authz: Authz,
    base: String,
    tokens: HashMap<&'static str, String>,
    cookies: HashMap<&'static str, String>,
    http: reqwest::Client,
}

async fn start() -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let addr = listener.local_addr().expect("address");
    let base = format!("http://{addr}");
    let demo = demo_app::build(|_| None, addr).expect("embedded setup");
    let authz = demo.authz.clone();
    let engine = authz.local_engine().expect("embedded engine");
    let signer = authz.signer().expect("embedded signer");
    let tokens = demo_app::SAMPLE_USERS
        .iter()
        .map(|user| {
            (
                user.name,
                signer
                    .sign(&demo_app::sample_claims(engine, user).expect("claims"))
                    .expect("token"),
            )
        })
        .collect();
    let cookies = demo_app::SAMPLE_USERS
        .iter()
        .map(|user| {
            let cookie = demo_app::sample_cookie(&authz, engine, user)
                .expect("sealed")
                .expect("embedded mode reads the cookie");
            (user.name, cookie)
        })
        .collect();
    tokio::spawn(async move { axum::serve(listener, demo.router).await });
    Demo {
        authz,
        base,
        tokens,
        cookies,
        http: reqwest::Client::new(),
    }
}

impl Demo {
    async fn status(&self, method: reqwest::Method, path: &str, user: Option<&str>) -> u16 {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(user) = user {
            request = request.bearer_auth(&self.tokens[user]);
        }
        request
            .send()
            .await
            .expect("the demo answers")
            .status()
            .as_u16()
    }

    async fn get(&self, path: &str, user: Option<&str>) -> u16 {
        self.status(reqwest::Method::GET, path, user).await
    }

    async fn json(&self, path: &str, user: &str) -> serde_json::Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[user])
            .send()
            .await
            .expect("the demo answers");
        assert_eq!(response.status(), 200, "GET {path} as {user}");
        response.json().await.expect("a JSON body")
    }
}

#[tokio::test]
async fn public_routes_and_the_jwks_need_no_token() {
    let demo = start().await;
    assert_eq!(demo.get("/health", None).await, 200);
    let jwks: serde_json::Value = demo
        .http
        .get(format!("{}/.well-known/jwks.json", demo.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
}

#[tokio::test]
async fn me_shows_the_session_of_each_sample_user() {
    let demo = start().await;
    assert_eq!(demo.get("/me", None).await, 401);
    let me: serde_json::Value = demo
        .http
        .get(format!("{}/me", demo.base))
        .bearer_auth(&demo.tokens["alice"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user_id"], "user_alice");
    assert_eq!(me["organization_id"], "org_acme");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    let permissions = me["permissions"].as_array().unwrap();
    for permission in [
        "posts:read",
        "posts:write",
        "members:read",
        "projects:read",
        "projects:delete",
    ] {
        assert!(
            permissions.iter().any(|p| p == permission),
            "alice lacks {permission}: {me}"
        );
    }
}

/// The printed `wos-session` cookies authenticate like the tokens, with the sealed user; a
/// cross-site POST carrying one is refused.
#[tokio::test]
async fn the_sample_cookies_authenticate_like_the_tokens() {
    let demo = start().await;
    for user in ["alice", "bob", "carol"] {
        let me: serde_json::Value = demo
            .http
            .get(format!("{}/me", demo.base))
            .header("cookie", &demo.cookies[user])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["user_id"], format!("user_{user}"), "{me}");
        assert_eq!(me["email"], format!("{user}@example.com"), "{me}");
        assert_eq!(me["authenticated_by"], "wos-session cookie", "{me}");
    }
    let cross_site = demo
        .http
        .post(format!("{}/posts", demo.base))
        .header("cookie", &demo.cookies["alice"])
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let same_origin = demo
        .http
        .post(format!("{}/posts", demo.base))
        .header("cookie", &demo.cookies["alice"])
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert!(
        same_origin.status().is_success(),
        "{}",
        same_origin.status()
    );
}

#[tokio::test]
async fn post_routes_follow_the_token_permissions() {
    let demo = start().await;
    assert_eq!(demo.get("/posts", Some("bob")).await, 200);
    assert_eq!(
        demo.status(reqwest::Method::POST, "/posts", Some("bob"))
            .await,
        403
    );
    assert_eq!(
        demo.status(reqwest::Method::POST, "/posts", Some("alice"))
            .await,
        201
    );
    assert_eq!(demo.get("/posts", None).await, 401);
}

#[tokio::test]
async fn members_are_listed_only_inside_the_sessions_organization() {
    let demo = start().await;
    assert_eq!(demo.get("/orgs/org_acme/members", Some("alice")).await, 200);
    assert_eq!(demo.get("/orgs/org_acme/members", Some("carol")).await, 403);
    assert_eq!(
        demo.get("/orgs/org_globex/members", Some("carol")).await,
        200
    );
    assert_eq!(
        demo.get("/orgs/org_acme/members", Some("bob")).await,
        403,
        "bob lacks members:read"
    );
}

#[tokio::test]
async fn projects_follow_roles_assignments_and_tenants() {
    let demo = start().await;
    let expected = [
        // (user, project, GET, DELETE)
        ("alice", "proj_apollo", 200, 200),
        ("alice", "proj_zeus", 200, 200),
        ("alice", "proj_hermes", 403, 403),
        ("bob", "proj_apollo", 200, 403),
        ("bob", "proj_zeus", 403, 403),
        ("bob", "proj_hermes", 403, 403),
        ("carol", "proj_apollo", 403, 403),
        ("carol", "proj_zeus", 403, 403),
        ("carol", "proj_hermes", 200, 200),
    ];
    for (user, project, get, delete) in expected {
        let path = format!("/projects/{project}");
        assert_eq!(
            demo.get(&path, Some(user)).await,
            get,
            "GET {path} as {user}"
        );
        assert_eq!(
            demo.status(reqwest::Method::DELETE, &path, Some(user))
                .await,
            delete,
            "DELETE {path} as {user}"
        );
    }
    assert_eq!(demo.get("/projects/proj_apollo", None).await, 401);
    assert_eq!(demo.get("/projects/proj_unknown", Some("alice")).await, 403);
}

#[tokio::test]
async fn the_project_list_shows_what_each_user_may_read() {
    let demo = start().await;
    let expected = [
        (
            "alice",
            json!([{"id": "proj_apollo", "name": "Apollo"}, {"id": "proj_zeus", "name": "Zeus"}]),
        ),
        ("bob", json!([{"id": "proj_apollo", "name": "Apollo"}])),
        ("carol", json!([{"id": "proj_hermes", "name": "Hermes"}])),
    ];
    for (user, projects) in expected {
        assert_eq!(
            demo.json("/projects", user).await,
            json!({ "projects": projects }),
            "{user}"
        );
    }
    assert_eq!(demo.get("/projects", None).await, 401);
    // Alice's and Carol's come from their tokens' organization-level role, with no call to
    // the authority; Bob's from the authority's list.
    for (user, all) in [("alice", true), ("bob", false), ("carol", true)] {
        let session = demo
            .authz
            .verifier()
            .verify(&demo.tokens[user])
            .await
            .expect("a valid token");
        let readable = demo
            .authz
            .accessible_resources(&session, "projects:read", "project", None)
            .await
            .expect("an answer");
        assert_eq!(readable.is_all(), all, "{user}");
    }
}

#[tokio::test]
async fn a_projects_permissions_show_what_the_user_may_do_and_hide_the_others() {
    let demo = start().await;
    let alice = demo
        .json("/projects/proj_apollo/permissions", "alice")
        .await;
    let bob = demo.json("/projects/proj_apollo/permissions", "bob").await;
    let has = |body: &serde_json::Value, slug: &str| {
        body["permissions"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|p| p == slug)
    };
    assert!(
        has(&alice, "projects:read") && has(&alice, "projects:delete"),
        "{alice}"
    );
    assert!(
        has(&bob, "projects:read") && !has(&bob, "projects:delete"),
        "{bob}"
    );
    // A project the user may not read looks like one that does not exist.
    for (user, path) in [
        ("carol", "/projects/proj_apollo/permissions"),
        ("bob", "/projects/proj_zeus/permissions"),
        ("alice", "/projects/proj_nope/permissions"),
    ] {
        assert_eq!(
            demo.get(path, Some(user)).await,
            404,
            "GET {path} as {user}"
        );
    }
}

/// The demo's browser loop over plain HTTP (what the browser test clicks through): sign in on
/// the in-process emulator's page, see only the readable projects, be refused a delete, sign
/// out; dave switches organization.
mod browser_loop {
    use std::collections::HashMap;

    use super::*;

    /// A browser without a browser: follows nothing by itself, keeps cookies by name.
    struct Visitor {
        http: reqwest::Client,
        cookies: HashMap<String, String>,
    }

    struct Page {
        status: u16,
        location: Option<String>,
        body: String,
    }

    impl Visitor {
        fn new() -> Self {
            Visitor {
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap(),
                cookies: HashMap::new(),
            }
        }

        async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            let response = request
                .header("cookie", cookie.join("; "))
                .header("accept", "text/html")
                .header("sec-fetch-site", "same-origin")
                .send()
                .await
                .expect("the demo answers");
            for set in response.headers().get_all("set-cookie") {
                let pair = set.to_str().unwrap().split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
            Page {
                status: response.status().as_u16(),
                location: response
                    .headers()
                    .get("location")
                    .map(|value| value.to_str().unwrap().to_owned()),
                body: response.text().await.unwrap(),
            }
        }

        async fn get(&mut self, url: &str) -> Page {
            let request = self.http.get(url);
            self.send(request).await
        }

        async fn post_form(&mut self, url: &str, form: &str) -> Page {
            let request = self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
            self.send(request).await
        }

        /// Signs in as `user` (in `organization`) through `/login`, the emulator's page and
        /// `/callback`; lands on `/`.
        async fn sign_in(&mut self, base: &str, user: &str, organization: &str) {
            let login = self.get(&format!("{base}/login?return_to=/")).await;
            assert_eq!(login.status, 302);
            let authorize = login.location.unwrap();
            assert!(
                authorize.starts_with(&format!("{base}/workos/user_management/authorize?")),
                "{authorize}"
            );
            let page = self.get(&authorize).await;
            assert_eq!(page.status, 200, "{}", page.body);
            let form = page
                .body
                .split("<form ")
                .find(|form| form.contains(&format!("data-user-id=\"{user}\"")))
                .unwrap_or_else(|| panic!("{user} is not on the sign-in page"));
            let attribute = |name: &str| {
                let start = form.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                form[start..start + form[start..].find('"').unwrap()].to_owned()
            };
            let action = attribute("action");
            let authorization = {
                let start = form.find("name=\"authorization\" value=\"").unwrap() + 28;
                form[start..start + form[start..].find('"').unwrap()].to_owned()
            };
            let action = if action.starts_with("http") {
                action
            } else {
                format!("{base}{action}")
            };
            let chosen = self
                .post_form(
                    &action,
                    &format!("authorization={authorization}&user_id={user}&organization_id={organization}"),
                )
                .await;
            assert_eq!(chosen.status, 302, "{}", chosen.body);
            let callback = chosen.location.unwrap();
            assert!(
                callback.starts_with(&format!("{base}/callback?")),
                "{callback}"
            );
            let landed = self.get(&callback).await;
            assert_eq!(landed.status, 302, "{}", landed.body);
            assert_eq!(landed.location.as_deref(), Some("/"));
            assert!(self.cookies.contains_key("wos-session"));
            assert!(
                !self.cookies.contains_key("wos-auth-verifier"),
                "the state cookie stays"
            );
        }
    }

    fn projects_list(page: &str) -> &str {
        let start = page
            .find("<ul id=\"projects\">")
            .expect("the projects list");
        &page[start..start + page[start..].find("</ul>").unwrap()]
    }

    #[tokio::test]
    async fn bob_signs_in_sees_apollo_only_is_refused_a_delete_and_signs_out() {
        let demo = start().await;
        let base = demo.base.clone();
        let mut bob = Visitor::new();
        let home = bob.get(&format!("{base}/")).await;
        assert!(home.body.contains("id=\"sign-in\""), "{}", home.body);
        bob.sign_in(&base, "user_bob", "org_acme").await;

        let home = bob.get(&format!("{base}/")).await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("bob@example.com"), "{}", home.body);
        let projects = projects_list(&home.body);
        assert!(
            projects.contains("proj_apollo") && !projects.contains("proj_zeus"),
            "{projects}"
        );
        assert!(
            !projects.contains("Delete"),
            "no delete button for a viewer: {projects}"
        );

        let request = bob.http.delete(format!("{base}/projects/proj_apollo"));
        let refused = bob.send(request).await;
        assert_eq!(refused.status, 403);

        let signed_out = bob.post_form(&format!("{base}/logout"), "").await;
        assert_eq!(signed_out.status, 302);
        let workos_logout = signed_out.location.unwrap();
        assert!(
            workos_logout.contains("/workos/user_management/sessions/logout?session_id=session_"),
            "{workos_logout}"
        );
        assert!(!bob.cookies.contains_key("wos-session"));
        let back = bob.get(&workos_logout).await;
        assert_eq!(back.location.as_deref(), Some(format!("{base}/").as_str()));
        let home = bob.get(&format!("{base}/")).await;
        assert!(
            home.body.contains("id=\"sign-in\""),
            "signed out: {}",
            home.body
        );
        // A guarded page navigation without a session goes to sign in.
        let page = bob.get(&format!("{base}/me")).await;
        assert_eq!(page.status, 302);
        assert_eq!(page.location.as_deref(), Some("/login?return_to=%2Fme"));
    }

    #[tokio::test]
    async fn dave_switches_to_globex_and_sees_hermes() {
        let demo = start().await;
        let base = demo.base.clone();
        let mut dave = Visitor::new();
        dave.sign_in(&base, "user_dave", "org_acme").await;
        let home = dave.get(&format!("{base}/")).await;
        assert!(
            home.body.contains("id=\"switch\""),
            "two organizations: {}",
            home.body
        );
        assert!(!projects_list(&home.body).contains("proj_apollo"));
        let switched = dave
            .post_form(
                &format!("{base}/switch-organization"),
                "organization_id=org_globex&return_to=%2F",
            )
            .await;
        assert_eq!(switched.status, 302, "{}", switched.body);
        let home = dave.get(&format!("{base}/")).await;
        assert!(
            home.body.contains("<b id=\"organization\">org_globex</b>"),
            "{}",
            home.body
        );
        let projects = projects_list(&home.body);
        assert!(projects.contains("proj_hermes"), "{projects}");
        assert!(
            projects.contains("Delete"),
            "an admin of globex may delete: {projects}"
        );
    }
}
