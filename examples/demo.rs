//! The workos-authz demo: a small API whose routes are guarded by permissions.
//!
//! ```sh
//! cargo run --example demo
//! ```
//!
//! Without `WORKOS_CLIENT_ID` it runs on the embedded setup: it generates an RSA key, serves its
//! JWKS at `/.well-known/jwks.json`, and prints a ready token and a curl line for each sample
//! user. With `WORKOS_CLIENT_ID` (and `WORKOS_BASE_URL` to point elsewhere than
//! `https://api.workos.com`) it verifies real WorkOS AuthKit tokens against
//! `{WORKOS_BASE_URL}/sso/jwks/{WORKOS_CLIENT_ID}`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use workos_authz::session::SessionClaims;
use workos_authz::{Authz, Session, require_org_param, require_permission};

/// A sample user of the embedded setup.
pub struct SampleUser {
    pub name: &'static str,
    pub user_id: &'static str,
    pub organization_id: &'static str,
    pub role: &'static str,
    pub permissions: &'static [&'static str],
}

pub const SAMPLE_USERS: [SampleUser; 3] = [
    SampleUser {
        name: "alice",
        user_id: "user_alice",
        organization_id: "org_acme",
        role: "admin",
        permissions: &[
            "posts:read",
            "posts:write",
            "members:read",
            "projects:read",
            "projects:delete",
        ],
    },
    SampleUser {
        name: "bob",
        user_id: "user_bob",
        organization_id: "org_acme",
        role: "member",
        permissions: &["posts:read"],
    },
    SampleUser {
        name: "carol",
        user_id: "user_carol",
        organization_id: "org_globex",
        role: "admin",
        permissions: &[
            "posts:read",
            "posts:write",
            "members:read",
            "projects:read",
            "projects:delete",
        ],
    },
];

impl SampleUser {
    /// The claims WorkOS would put in this user's access token.
    pub fn claims(&self) -> SessionClaims {
        SessionClaims::new(self.user_id)
            .organization(self.organization_id)
            .role(self.role)
            .permissions(self.permissions.iter().copied())
            .expires_in(Duration::from_secs(8 * 3600))
    }
}

/// The demo's routes, behind `authz`.
pub fn app(authz: &Authz) -> Router {
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
        "organization_id": session.organization_id(),
        "role": session.role(),
        "roles": session.roles(),
        "permissions": session.permissions(),
    }))
}

async fn list_posts(session: Session) -> Json<Value> {
    Json(json!({
        "organization_id": session.organization_id(),
        "posts": [{ "id": "post_1", "title": "Hello from the demo" }],
    }))
}

async fn create_post(session: Session) -> (http::StatusCode, Json<Value>) {
    let post = json!({ "id": "post_2", "author": session.user_id(), "organization_id": session.organization_id() });
    (http::StatusCode::CREATED, Json(post))
}

async fn list_members(Path(org_id): Path<String>) -> Json<Value> {
    let members: Vec<&str> = SAMPLE_USERS
        .iter()
        .filter(|user| user.organization_id == org_id)
        .map(|user| user.user_id)
        .collect();
    Json(json!({ "organization_id": org_id, "members": members }))
}

async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed = ?started.elapsed(), "request");
    response
}

fn print_sample_tokens(authz: &Authz, addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let Some(signer) = authz.signer() else {
        return Ok(());
    };
    println!(
        "\nEmbedded mode: tokens signed by a key generated at start (JWKS: http://{addr}/.well-known/jwks.json)\n"
    );
    for user in &SAMPLE_USERS {
        let token = signer.sign(&user.claims())?;
        println!(
            "{} ({} in {}: {})",
            user.name,
            user.role,
            user.organization_id,
            user.permissions.join(", ")
        );
        println!("  export TOKEN_{}={token}", user.name.to_uppercase());
        println!(
            "  curl -s -H \"Authorization: Bearer $TOKEN_{}\" http://{addr}/me\n",
            user.name.to_uppercase()
        );
    }
    println!(
        "Try: GET /posts (posts:read), POST /posts (posts:write), GET /orgs/org_acme/members (members:read)\n"
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
    let authz = Authz::from_env()?;
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
