//! The workos-authz demo: a small API whose routes are guarded by permissions, some of them on
//! the resource the route names.
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! Without `WORKOS_CLIENT_ID` it runs on the embedded setup: it generates an RSA key, serves its
//! JWKS at `/.well-known/jwks.json`, seeds the embedded engine with two organizations, three
//! users and three projects, and prints for each user a ready bearer token and a ready AuthKit
//! `wos-session` cookie (sealed with `WORKOS_COOKIE_PASSWORD`, or a password generated at
//! start), each with a curl line.
//!
//! `GET /` is a page for a browser: sign in (on the emulator's sign-in page, in process under
//! `/workos`), see who you are and the projects you may read, call the guarded routes and see
//! each outcome, switch organization (dave belongs to two), sign out.
//!
//! With `WORKOS_CLIENT_ID` (and `WORKOS_BASE_URL` to point elsewhere than
//! `https://api.workos.com`) it verifies real AuthKit tokens against
//! `{WORKOS_BASE_URL}/sso/jwks/{WORKOS_CLIENT_ID}`; with `WORKOS_API_KEY` too, resource checks
//! go to WorkOS's `check` endpoint, the project list to its resources-for-membership list and
//! a project's permissions to its effective-permissions endpoint; with `WORKOS_COOKIE_PASSWORD`
//! too, it reads the `wos-session` cookie of a Next.js (AuthKit) front end and refreshes it
//! through `{WORKOS_BASE_URL}/user_management/authenticate`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::StatusCode;
use serde_json::{Value, json};
use workos_authz::authkit::{AuthKitCookie, CookieConfig, Password, SessionPayload, SessionUser};
use workos_authz::check::{AccessibleResources, ResourceRef};
use workos_authz::emulator::Emulator;
use workos_authz::guard::AuthorizedResource;
use workos_authz::local::{EngineError, LocalEngine, NewPermission, NewResource, NewRole, NewUser};
use workos_authz::session::SessionClaims;
use workos_authz::workos::WorkOsClient;
use workos_authz::{Authz, Mode, Session, require_org_param, require_permission};

/// A sample user of the embedded setup.
pub(crate) struct SampleUser {
    pub(crate) name: &'static str,
    pub(crate) user_id: &'static str,
    pub(crate) organization_id: &'static str,
    pub(crate) role: &'static str,
}

pub(crate) const SAMPLE_USERS: [SampleUser; 3] = [
    SampleUser {
        name: "alice",
        user_id: "user_alice",
        organization_id: "org_acme",
        role: "admin",
    },
    SampleUser {
        name: "bob",
        user_id: "user_bob",
        organization_id: "org_acme",
        role: "member",
    },
    SampleUser {
        name: "carol",
        user_id: "user_carol",
        organization_id: "org_globex",
        role: "admin",
    },
];

/// Dave: a member of `org_acme` and an admin of `org_globex`, for the browser's organization
/// switcher. Not among [`SAMPLE_USERS`], whose printed tokens and cookies stay as they were.
pub(crate) const DAVE: SampleUser = SampleUser {
    name: "dave",
    user_id: "user_dave",
    organization_id: "org_acme",
    role: "member",
};

/// Everyone the embedded sign-in page lists: (user id, first name, last name).
const SIGN_IN_USERS: [(&str, &str, &str); 4] = [
    ("user_alice", "alice", "Admin"),
    ("user_bob", "bob", "Member"),
    ("user_carol", "carol", "Globex"),
    ("user_dave", "dave", "Both"),
];

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The demo's projects: (organization, external id, name). Stands in for the application's
/// own database, which handlers always query inside the session's organization.
pub(crate) const PROJECTS: [(&str, &str, &str); 3] = [
    ("org_acme", "proj_apollo", "Apollo"),
    ("org_acme", "proj_zeus", "Zeus"),
    ("org_globex", "proj_hermes", "Hermes"),
];

const PERMISSIONS: [&str; 5] = [
    "posts:read",
    "posts:write",
    "members:read",
    "projects:read",
    "projects:delete",
];

/// Builds the demo's model in `engine`: roles admin (every permission), member (posts:read)
/// and viewer (projects:read, for projects); the users' memberships; the projects; and bob's
/// viewer assignment on proj_apollo.
pub(crate) fn seed(engine: &LocalEngine) -> Result<(), EngineError> {
    for slug in PERMISSIONS {
        engine.create_permission(NewPermission::new(slug, slug))?;
    }
    engine.create_environment_role(NewRole::new("admin", "Admin").permissions(PERMISSIONS))?;
    engine.set_environment_role_permissions("member", &["posts:read"])?;
    engine.create_environment_role(
        NewRole::new("viewer", "Viewer")
            .resource_type("project")
            .permissions(["projects:read"]),
    )?;
    engine.create_organization_with_id("org_acme", "Acme")?;
    engine.create_organization_with_id("org_globex", "Globex")?;
    for user in &SAMPLE_USERS {
        engine.create_membership(user.user_id, user.organization_id, &[user.role])?;
    }
    // Dave belongs to both organizations, to show switching between them in the browser.
    engine.create_membership(DAVE.user_id, "org_acme", &["member"])?;
    engine.create_membership(DAVE.user_id, "org_globex", &["admin"])?;
    for (user_id, name, last_name) in SIGN_IN_USERS {
        let mut user = NewUser::new(format!("{name}@example.com"));
        user.first_name = Some(capitalized(name));
        user.last_name = Some(last_name.to_owned());
        user.email_verified = true;
        engine.create_user_with_id(user_id, user)?;
    }
    for (organization, external_id, name) in PROJECTS {
        engine.create_resource(NewResource::new(organization, "project", external_id, name))?;
    }
    let bob = engine
        .active_membership("user_bob", "org_acme")
        .expect("seeded above");
    engine.assign_role(
        &bob.id,
        "viewer",
        &ResourceRef::external("project", "proj_apollo"),
    )?;
    Ok(())
}

/// The token WorkOS would issue `user`: its organization-level role and that role's
/// permissions, as the engine knows them, and the membership id a JWT template would add.
pub(crate) fn sample_claims(
    engine: &LocalEngine,
    user: &SampleUser,
) -> Result<SessionClaims, EngineError> {
    let membership = engine
        .active_membership(user.user_id, user.organization_id)
        .ok_or_else(|| EngineError::NotFound {
            entity: "organization_membership",
            id: user.user_id.to_owned(),
        })?;
    Ok(SessionClaims::new(user.user_id)
        .organization(user.organization_id)
        .role(user.role)
        .permissions(engine.organization_permissions(&membership.id)?)
        .organization_membership(membership.id)
        .expires_in(Duration::from_secs(8 * 3600)))
}

/// The demo's routes, behind `authz`.
pub(crate) fn app(authz: &Authz) -> Router {
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/posts",
            get(list_posts)
                .route_layer(require_permission("posts:read"))
                .merge(
                    axum::routing::post(create_post).route_layer(require_permission("posts:write")),
                ),
        )
        .route(
            "/orgs/{org_id}/members",
            get(list_members)
                .route_layer(require_permission("members:read"))
                .route_layer(require_org_param("org_id")),
        )
        .route("/projects", get(list_projects))
        .route(
            "/projects/{project_id}/permissions",
            // A project the user may not read answers 404, like one that does not exist: the
            // list of another tenant's projects cannot be probed.
            get(project_permissions).route_layer(
                require_permission("projects:read")
                    .on_resource("project", "project_id")
                    .not_found_on_deny(),
            ),
        )
        .route(
            "/projects/{project_id}",
            get(show_project)
                .route_layer(
                    require_permission("projects:read").on_resource("project", "project_id"),
                )
                .merge(axum::routing::delete(delete_project).route_layer(
                    require_permission("projects:delete").on_resource("project", "project_id"),
                )),
        )
        .layer(authz.layer());
    let mut public = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/", get(pages::home).layer(authz.optional_layer()));
    if let Some(signer) = authz.signer() {
        let jwks = signer.jwks();
        public = public.route(
            "/.well-known/jwks.json",
            get(move || async move { Json(jwks) }),
        );
    }
    public
        .merge(protected)
        .layer(middleware::from_fn(log_request))
}

async fn me(session: Session) -> Json<Value> {
    Json(json!({
        "user_id": session.user_id(),
        "email": session.user().map(|user| user.email.as_str()),
        "organization_id": session.organization_id(),
        "role": session.role(),
        "roles": session.roles(),
        "permissions": session.permissions(),
        "authenticated_by": if session.from_cookie() { "wos-session cookie" } else { "bearer token" },
    }))
}

async fn list_posts(session: Session) -> Json<Value> {
    Json(json!({
        "organization_id": session.organization_id(),
        "posts": [{ "id": "post_1", "title": "Hello from the demo" }],
    }))
}

async fn create_post(session: Session) -> (StatusCode, Json<Value>) {
    let post = json!({ "id": "post_2", "author": session.user_id(), "organization_id": session.organization_id() });
    (StatusCode::CREATED, Json(post))
}

async fn list_members(Path(org_id): Path<String>) -> Json<Value> {
    let members: Vec<&str> = SAMPLE_USERS
        .iter()
        .filter(|user| user.organization_id == org_id)
        .map(|user| user.user_id)
        .collect();
    Json(json!({ "organization_id": org_id, "members": members }))
}

/// The projects of the session's organization the user may read. `All` (the token's
/// organization-level role holds `projects:read`) is every project of the organization in the
/// demo's own table, with no remote call; otherwise the ids the authority lists, with the
/// demo's names where it knows them (in WorkOS mode, WorkOS's names for the others).
async fn list_projects(authz: Authz, session: Session) -> Response {
    let organization = session.organization_id().unwrap_or_default().to_owned();
    let readable = match authz
        .accessible_resources(&session, "projects:read", "project", None)
        .await
    {
        Ok(readable) => readable,
        Err(rejection) => return authz.reject(&rejection),
    };
    let known = |id: &str| {
        PROJECTS
            .iter()
            .find(|(org, project, _)| *org == organization && *project == id)
            .map(|(_, _, name)| *name)
    };
    let projects: Vec<Value> = match &readable {
        AccessibleResources::Only(listed) => listed
            .iter()
            .map(|project| {
                let name = known(&project.external_id).unwrap_or(&project.name);
                json!({ "id": project.external_id, "name": name })
            })
            .collect(),
        // `All`, and any answer a later version adds: the organization's own projects, each
        // checked against the answer.
        _ => PROJECTS
            .iter()
            .filter(|(org, id, _)| *org == organization && readable.contains(id))
            .map(|(_, id, name)| json!({ "id": id, "name": name }))
            .collect(),
    };
    Json(json!({ "projects": projects })).into_response()
}

/// The user's permissions on one project, for a page that shows only the buttons they allow.
/// They also answer the guards on this project for a while, with no further call.
async fn project_permissions(
    authz: Authz,
    Extension(allowed): Extension<AuthorizedResource>,
    session: Session,
) -> Response {
    match authz
        .effective_permissions(&session, &allowed.resource)
        .await
    {
        Ok(permissions) => Json(json!({ "permissions": permissions.slugs() })).into_response(),
        Err(rejection) => authz.reject(&rejection),
    }
}

/// The project, looked up inside the organization the guard checked: never another tenant's.
fn find_project(
    allowed: &AuthorizedResource,
    project_id: &str,
) -> Option<(&'static str, &'static str)> {
    PROJECTS
        .iter()
        .find(|(organization, id, _)| *organization == allowed.organization_id && *id == project_id)
        .map(|(_, id, name)| (*id, *name))
}

async fn show_project(
    Extension(allowed): Extension<AuthorizedResource>,
    Path(project_id): Path<String>,
) -> Response {
    match find_project(&allowed, &project_id) {
        Some((id, name)) => {
            Json(json!({ "id": id, "name": name, "organization_id": allowed.organization_id }))
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete_project(
    Extension(allowed): Extension<AuthorizedResource>,
    Path(project_id): Path<String>,
) -> Response {
    match find_project(&allowed, &project_id) {
        // A demo: nothing is really deleted, so every user can try it again.
        Some((id, _)) => Json(json!({ "deleted": id, "organization_id": allowed.organization_id }))
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed = ?started.elapsed(), "request");
    response
}

/// The WorkOS client id and API key of embedded mode, where the emulator, in process under
/// `/workos`, plays WorkOS for the sign-in pages.
const EMBEDDED_CLIENT_ID: &str = "client_demo";
const EMBEDDED_API_KEY: &str = "sk_demo_embedded_emulator";

/// The demo, ready to serve on `addr`: its `Authz` and everything it serves.
pub(crate) struct Demo {
    pub(crate) authz: Authz,
    pub(crate) router: Router,
}

/// The demo's setup, reading the environment through `lookup`:
///
/// - `WORKOS_CLIENT_ID` set: what [`Authz::from_lookup`] builds (WorkOS mode), the sign-in
///   routes when `WORKOS_REDIRECT_URI`, `WORKOS_API_KEY` and `WORKOS_COOKIE_PASSWORD` are set;
/// - otherwise the embedded setup with the demo's model, the AuthKit cookie (sealed with
///   `WORKOS_COOKIE_PASSWORD`, or a password generated now), and the emulator serving WorkOS's
///   sign-in pages and token endpoint under `/workos` on the demo's own address.
pub(crate) fn build(
    lookup: impl Fn(&str) -> Option<String>,
    addr: SocketAddr,
) -> Result<Demo, Box<dyn std::error::Error>> {
    if lookup("WORKOS_CLIENT_ID").is_some() {
        let authz = Authz::from_lookup(&lookup)?.with_sign_in_page("/login");
        let mut router = app(&authz);
        match authz.authkit_routes() {
            Ok(routes) => router = router.merge(routes),
            Err(error) => tracing::warn!(%error, "the browser pages cannot sign in"),
        }
        return Ok(Demo { authz, router });
    }
    let engine = LocalEngine::new();
    seed(&engine)?;
    let password = lookup("WORKOS_COOKIE_PASSWORD").unwrap_or_else(generated_password);
    let workos = WorkOsClient::builder(EMBEDDED_API_KEY)
        .base_url(format!("http://{addr}/workos"))
        .build()?;
    // Plain http on loopback: a Secure cookie would never come back.
    let cookie = AuthKitCookie::new(CookieConfig::new(Password::new(password)?).with_secure(false))
        .refresh_through(workos, EMBEDDED_CLIENT_ID)
        .sign_in_at(format!("http://{addr}/callback"));
    let authz = Authz::embedded_with_cookie(engine.clone(), cookie)?.with_sign_in_page("/login");
    // The emulator signs with the embedded key, so the printed tokens and the ones a browser
    // sign-in gets are verified alike.
    let signer = match authz.mode() {
        Mode::Embedded { signer, .. } => signer.clone(),
        _ => return Err("the embedded setup has no signer".into()),
    };
    let emulator = Emulator::with_shared_signer(engine, signer).with_api_key(EMBEDDED_API_KEY)?;
    let router = app(&authz)
        .merge(authz.authkit_routes()?)
        .nest("/workos", emulator.router());
    Ok(Demo { authz, router })
}

fn generated_password() -> String {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A `wos-session` cookie for `user`, as AuthKit's sign-in would have set it.
pub(crate) fn sample_cookie(
    authz: &Authz,
    engine: &LocalEngine,
    user: &SampleUser,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let (Some(signer), Some(cookie)) = (authz.signer(), authz.authkit_cookie()) else {
        return Ok(None);
    };
    let token = signer.sign(&sample_claims(engine, user)?)?;
    let sealed_user = SessionUser::new(user.user_id, format!("{}@example.com", user.name));
    let payload = SessionPayload::new(token, format!("refresh_{}", user.name), sealed_user)
        .with_organization(user.organization_id);
    let sealed = cookie.config().seal(&payload)?;
    Ok(Some(format!(
        "{}={}",
        cookie.config().name(),
        sealed.as_str()
    )))
}

fn print_sample_tokens(authz: &Authz, addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let (Some(signer), Some(engine)) = (authz.signer(), authz.local_engine()) else {
        return Ok(());
    };
    println!(
        "\nEmbedded mode: tokens signed by a key generated at start (JWKS: http://{addr}/.well-known/jwks.json)\n"
    );
    for user in &SAMPLE_USERS {
        let claims = sample_claims(engine, user)?;
        let token = signer.sign(&claims)?;
        let variable = format!("TOKEN_{}", user.name.to_uppercase());
        println!(
            "{} ({} in {}: {})",
            user.name,
            user.role,
            user.organization_id,
            claims.permissions.join(", ")
        );
        println!("  export {variable}={token}");
        println!("  curl -s -H \"Authorization: Bearer ${variable}\" http://{addr}/me");
        if let Some(cookie) = sample_cookie(authz, engine, user)? {
            let variable = format!("COOKIE_{}", user.name.to_uppercase());
            println!("  export {variable}='{cookie}'");
            println!("  curl -s -b \"${variable}\" http://{addr}/me");
        }
        println!();
    }
    println!("Routes: GET /posts (posts:read), POST /posts (posts:write),");
    println!("        GET /orgs/{{org_id}}/members (members:read, own organization only),");
    println!("        GET /projects (the projects the user may read),");
    println!(
        "        GET /projects/{{id}} (projects:read on the project), DELETE /projects/{{id}} (projects:delete)"
    );
    println!(
        "        GET /projects/{{id}}/permissions (the user's permissions on it; 404 if unreadable)"
    );
    println!("Projects: proj_apollo and proj_zeus in org_acme, proj_hermes in org_globex;");
    println!(
        "          bob is a viewer of proj_apollo only, carol (org_globex) sees none of acme's.\n"
    );
    println!(
        "In a browser: http://{addr}/ signs in on the emulator's page (no WorkOS account needed);"
    );
    println!("            dave belongs to both organizations and can switch between them.\n");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,workos_authz=debug".into()),
        )
        .init();
    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let demo = build(
        |name| std::env::var(name).ok().filter(|value| !value.is_empty()),
        addr,
    )?;
    tracing::info!(mode = ?demo.authz.mode(), %addr, "demo listening");
    print_sample_tokens(&demo.authz, addr)?;
    axum::serve(listener, demo.router).await?;
    Ok(())
}

/// The browser pages: server-rendered HTML, a few lines of script for the buttons.
mod pages {
    use std::fmt::Write as _;

    use axum::response::Html;
    use workos_authz::check::{AccessibleResources, ResourceRef};
    use workos_authz::workos::{ListOrganizationMemberships, MembershipStatus};
    use workos_authz::{Authz, Session};

    use super::PROJECTS;

    /// `GET /`: signed out, a sign-in button; signed in, who you are, what you may read and
    /// do, and the buttons that try the guarded routes.
    pub(crate) async fn home(authz: Authz, session: Option<Session>) -> Html<String> {
        let mut page = String::from(HEAD);
        match session {
            None => page.push_str(
                r#"<section id="signed-out"><p>You are signed out.</p>
<p><a id="sign-in" class="button" href="/login?return_to=/">Sign in</a></p></section>"#,
            ),
            Some(session) => signed_in(&mut page, &authz, &session).await,
        }
        page.push_str(SCRIPT);
        page.push_str("</body></html>");
        Html(page)
    }

    async fn signed_in(page: &mut String, authz: &Authz, session: &Session) {
        let organization = session.organization_id().unwrap_or_default();
        let name = session
            .user()
            .map(|user| {
                format!(
                    "{} {}",
                    user.first_name.as_deref().unwrap_or_default(),
                    user.last_name.as_deref().unwrap_or_default()
                )
            })
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| session.user_id().to_owned());
        let email = session.user().map(|user| user.email.as_str()).unwrap_or("");
        let _ = write!(
            page,
            r#"<section id="who"><p>Signed in as <b id="user">{}</b> <span id="email">{}</span> (<code>{}</code>)</p>
<p>Organization <b id="organization">{}</b>, role <b id="role">{}</b>; the token's permissions: <span id="permissions">{}</span></p>"#,
            escape(name.trim()),
            escape(email),
            escape(session.user_id()),
            escape(organization),
            escape(session.role().unwrap_or("none")),
            escape(&session.permissions().join(", ")),
        );
        let organizations = memberships(authz, session.user_id()).await;
        if organizations.len() > 1 {
            page.push_str(r#"<form id="switch" method="post" action="/switch-organization"><select name="organization_id" id="organization-choice">"#);
            for other in &organizations {
                let selected = if other == organization {
                    " selected"
                } else {
                    ""
                };
                let _ = write!(
                    page,
                    r#"<option value="{0}"{selected}>{0}</option>"#,
                    escape(other)
                );
            }
            page.push_str(r#"</select><input type="hidden" name="return_to" value="/"><button id="switch-button">Switch organization</button></form>"#);
        }
        page.push_str(r#"<form method="post" action="/logout"><button id="sign-out">Sign out</button></form></section>"#);

        page.push_str(r#"<section><h2>Projects you may read</h2><ul id="projects">"#);
        let readable = authz
            .accessible_resources(session, "projects:read", "project", None)
            .await;
        match &readable {
            Err(rejection) => {
                let _ = write!(
                    page,
                    "<li>unavailable: {}</li>",
                    escape(&rejection.detail())
                );
            }
            Ok(readable) => {
                for (id, name) in readable_projects(organization, readable) {
                    let resource = ResourceRef::external("project", id.clone());
                    let permissions = match authz.effective_permissions(session, &resource).await {
                        Ok(permissions) => permissions.slugs().to_vec(),
                        Err(_) => Vec::new(),
                    };
                    let _ = write!(
                        page,
                        r#"<li data-project="{0}"><b>{1}</b> <code>{0}</code>: you may {2}"#,
                        escape(&id),
                        escape(&name),
                        escape(&permissions.join(", ")),
                    );
                    // Only the buttons the permissions allow.
                    if permissions.iter().any(|slug| slug == "projects:delete") {
                        call_button(page, "DELETE", &format!("/projects/{id}"), "Delete");
                    }
                    page.push_str("</li>");
                }
            }
        }
        page.push_str("</ul></section>");

        page.push_str(r#"<section><h2>Try the guarded routes</h2><p>Every call below goes through the guards; the outcome is what they answered.</p><ul id="calls">"#);
        page.push_str("<li>");
        call_button(page, "POST", "/posts", "Create a post");
        page.push_str("</li>");
        for (org, id, _) in PROJECTS {
            if org == organization {
                page.push_str("<li>");
                call_button(
                    page,
                    "GET",
                    &format!("/projects/{id}"),
                    &format!("Read {id}"),
                );
                call_button(
                    page,
                    "DELETE",
                    &format!("/projects/{id}"),
                    &format!("Delete {id}"),
                );
                page.push_str("</li>");
            }
        }
        page.push_str("</ul></section>");
    }

    /// The projects of the organization `readable` lets the user read: every one of the demo's
    /// for `All`, the listed ones (with the demo's names where it has them) otherwise.
    fn readable_projects(
        organization: &str,
        readable: &AccessibleResources,
    ) -> Vec<(String, String)> {
        match readable {
            AccessibleResources::Only(listed) => listed
                .iter()
                .map(|project| {
                    let name = PROJECTS
                        .iter()
                        .find(|(org, id, _)| *org == organization && *id == project.external_id)
                        .map_or(project.name.as_str(), |(_, _, name)| name);
                    (project.external_id.clone(), name.to_owned())
                })
                .collect(),
            _ => PROJECTS
                .iter()
                .filter(|(org, id, _)| *org == organization && readable.contains(id))
                .map(|(_, id, name)| ((*id).to_owned(), (*name).to_owned()))
                .collect(),
        }
    }

    /// The organizations the user has an active membership in, for the switcher.
    async fn memberships(authz: &Authz, user_id: &str) -> Vec<String> {
        if let Some(engine) = authz.local_engine() {
            return engine
                .list_memberships(Some(user_id), None)
                .into_iter()
                .filter(|membership| {
                    membership.status == workos_authz::local::MembershipStatus::Active
                })
                .map(|membership| membership.organization_id)
                .collect();
        }
        let Some(client) = authz.workos_client() else {
            return Vec::new();
        };
        let options = ListOrganizationMemberships {
            user_id: Some(user_id.to_owned()),
            statuses: vec![MembershipStatus::Active],
            ..ListOrganizationMemberships::default()
        };
        match client.list_organization_memberships(&options).await {
            Ok(page) => page
                .data
                .into_iter()
                .map(|membership| membership.organization_id)
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "memberships for the switcher unavailable");
                Vec::new()
            }
        }
    }

    fn call_button(page: &mut String, method: &str, path: &str, label: &str) {
        let id = format!("{}{}", method.to_lowercase(), path.replace('/', "-"));
        let _ = write!(
            page,
            r#"<button class="call" id="call-{0}" data-method="{1}" data-path="{2}">{3}</button> <span class="outcome" id="outcome-{0}"></span> "#,
            escape(&id),
            escape(method),
            escape(path),
            escape(label),
        );
    }

    /// HTML text or attribute value.
    fn escape(text: &str) -> String {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#39;"),
                c => escaped.push(c),
            }
        }
        escaped
    }

    const HEAD: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>workos-authz demo</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
section{border:1px solid #ddd;border-radius:8px;padding:0.5rem 1rem;margin:1rem 0}
.button,button{display:inline-block;padding:0.3rem 0.8rem;border-radius:6px;border:1px solid #6b5cd3;background:#f4f2ff;color:#3b2fa0;text-decoration:none;font:inherit;cursor:pointer;margin:0.15rem}
.outcome{font-family:monospace} .allowed{color:#1a7f37} .refused{color:#cf222e} .unavailable{color:#9a6700}
form{display:inline-block;margin-right:1rem}</style></head><body><h1>workos-authz demo</h1>"#;

    /// Each call button fetches its route (the browser sends the session cookie, same origin)
    /// and shows what the guards answered.
    const SCRIPT: &str = r#"<script>
for (const button of document.querySelectorAll('button.call')) {
  button.addEventListener('click', async () => {
    const outcome = document.getElementById('outcome-' + button.id.slice(5));
    outcome.textContent = '...';
    const response = await fetch(button.dataset.path, {method: button.dataset.method, credentials: 'same-origin'});
    const meaning = response.ok ? 'allowed' : response.status === 403 ? 'refused' : response.status === 503 ? 'unavailable' : 'status';
    outcome.className = 'outcome ' + meaning;
    outcome.textContent = response.status + ' ' + meaning;
  });
}
</script>"#;
}
