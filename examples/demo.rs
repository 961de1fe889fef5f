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
use workos_authz::authkit::{SessionPayload, SessionUser};
use workos_authz::check::{AccessibleResources, ResourceRef};
use workos_authz::guard::AuthorizedResource;
use workos_authz::local::{EngineError, LocalEngine, NewPermission, NewResource, NewRole};
use workos_authz::session::SessionClaims;
use workos_authz::{Authz, Session, require_org_param, require_permission};

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
    let mut public = Router::new().route("/health", get(|| async { "ok" }));
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

/// The demo's setup: what the environment says (see [`Authz::from_lookup`]), reading `lookup`,
/// and in embedded mode the AuthKit cookie too, sealed with `WORKOS_COOKIE_PASSWORD` or with a
/// password generated now.
pub(crate) fn demo_authz(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Authz, workos_authz::ConfigError> {
    let embedded = lookup("WORKOS_CLIENT_ID").is_none();
    let generated = (embedded && lookup("WORKOS_COOKIE_PASSWORD").is_none()).then(|| {
        let mut bytes = [0u8; 24];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    });
    Authz::from_lookup(|name| match (name, &generated) {
        ("WORKOS_COOKIE_PASSWORD", Some(password)) => Some(password.clone()),
        _ => lookup(name),
    })
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
    let authz = demo_authz(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))?;
    if let Some(engine) = authz.local_engine() {
        seed(engine)?;
    }
    let addr: SocketAddr = std::env::var("DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(mode = ?authz.mode(), %addr, "demo listening");
    print_sample_tokens(&authz, addr)?;
    axum::serve(listener, app(&authz)).await?;
    Ok(())
}
