//! What a resource-scoped guard costs over the claims-only guard, once its decision is cached.
//!
//! - `claims_only`: `require_permission("projects:read")`, answered from the token.
//! - `resource_cache_hit`: `.on_resource("project", "project_id")` with the claims shortcut
//!   off, the token carrying `organization_membership_id`, and the decision already cached;
//!   the authority is remote-like (it does not know resource ownership), as WorkOS is.
//! - `resource_cache_hit_local_engine`: the same on the embedded engine, which also looks the
//!   resource up in the session's organization on every request (tenant check).
//! - `resource_claims_shortcut_local_engine`: the resource guard answered by the token's
//!   permissions (shortcut on), after the engine's ownership lookup.
//! - `resource_claims_shortcut_remote`: the same with a remote-like authority: no lookup.
//!
//! Every variant uses the same token and the same warm verified-token cache; requests go
//! through the axum `Router` as a tower service (no socket), like `benches/middleware.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use tower::ServiceExt;
use workos_authz::check::{Authorizer, CachedAuthorizer, CheckFuture, CheckRequest, Decision};
use workos_authz::guard::GuardLayer;
use workos_authz::local::{LocalEngine, NewPermission, NewResource, NewRole};
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::{Authz, SessionVerifier, require_permission};

/// An authority that allows everything and counts its calls: after warm-up it must not be
/// called again, or the bench would not be measuring cache hits.
#[derive(Clone, Default)]
struct Remote {
    calls: Arc<AtomicUsize>,
}

impl Authorizer for Remote {
    fn check<'a>(&'a self, _: &'a CheckRequest) -> CheckFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(Decision::Allow) })
    }
}

fn verifier(signer: &TokenSigner) -> SessionVerifier {
    SessionVerifier::builder()
        .jwks_document(signer.jwks().to_string().as_bytes())
        .expect("the signer's JWKS is valid")
        .build()
        .expect("verifier builds")
}

/// Acme with proj_apollo; alice is an admin (projects:read).
fn engine() -> (LocalEngine, String) {
    let engine = LocalEngine::new();
    engine
        .create_permission(NewPermission::new("projects:read", "Read projects"))
        .unwrap();
    engine
        .create_environment_role(NewRole::new("admin", "Admin").permissions(["projects:read"]))
        .unwrap();
    engine
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    engine
        .create_resource(NewResource::new(
            "org_acme",
            "project",
            "proj_apollo",
            "Apollo",
        ))
        .unwrap();
    let alice = engine
        .create_membership("user_alice", "org_acme", &["admin"])
        .unwrap()
        .id;
    (engine, alice)
}

fn claims_guarded(authz: &Authz) -> Router {
    Router::new()
        .route(
            "/projects/{project_id}",
            get(|| async { "project" }).route_layer(require_permission("projects:read")),
        )
        .layer(authz.layer())
        // Finalized as `axum::serve` does: no route layers rebuilt per request.
        .with_state(())
}

fn resource_guarded(authz: &Authz) -> Router {
    let guard: GuardLayer =
        require_permission("projects:read").on_resource("project", "project_id");
    Router::new()
        .route(
            "/projects/{project_id}",
            get(|| async { "project" }).route_layer(guard),
        )
        .layer(authz.layer())
        // Finalized as `axum::serve` does: no route layers rebuilt per request.
        .with_state(())
}

fn request(authorization: &HeaderValue) -> Request<Body> {
    Request::get("/projects/proj_apollo")
        .header(AUTHORIZATION, authorization.clone())
        .body(Body::empty())
        .expect("valid request")
}

async fn call(router: Router, request: Request<Body>) {
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
}

fn resource_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let signer = TokenSigner::generate().expect("key generation");
    let (engine, alice) = engine();
    let token = signer
        .sign(
            &SessionClaims::new("user_alice")
                .organization("org_acme")
                .organization_membership(&alice)
                .permissions(["projects:read"]),
        )
        .expect("signing");
    let bearer = HeaderValue::from_maybe_shared(Bytes::from(format!("Bearer {token}")))
        .expect("visible ASCII");

    let remote = Remote::default();
    let setups: Vec<(&str, Router)> = vec![
        (
            "claims_only",
            claims_guarded(
                &Authz::builder()
                    .verifier(verifier(&signer))
                    .build()
                    .expect("authz"),
            ),
        ),
        (
            "resource_cache_hit",
            resource_guarded(
                &Authz::builder()
                    .verifier(verifier(&signer))
                    .cached_authorizer(
                        CachedAuthorizer::builder(remote.clone())
                            .allow_ttl(std::time::Duration::from_secs(3600))
                            .build(),
                    )
                    .claims_shortcut(false)
                    .build()
                    .expect("authz"),
            ),
        ),
        (
            "resource_cache_hit_local_engine",
            resource_guarded(
                &Authz::builder()
                    .verifier(verifier(&signer))
                    .cached_authorizer(
                        CachedAuthorizer::builder(engine.clone())
                            .allow_ttl(std::time::Duration::from_secs(3600))
                            .build(),
                    )
                    .claims_shortcut(false)
                    .build()
                    .expect("authz"),
            ),
        ),
        (
            "resource_claims_shortcut_local_engine",
            resource_guarded(
                &Authz::builder()
                    .verifier(verifier(&signer))
                    .local(engine.clone())
                    .build()
                    .expect("authz"),
            ),
        ),
        (
            "resource_claims_shortcut_remote",
            resource_guarded(
                &Authz::builder()
                    .verifier(verifier(&signer))
                    .authorizer(remote.clone())
                    .build()
                    .expect("authz"),
            ),
        ),
    ];

    let mut group = c.benchmark_group("resource_check");
    for (name, router) in &setups {
        // Warm the verified-token cache and the decision cache.
        runtime.block_on(call(router.clone(), request(&bearer)));
        group.bench_function(*name, |b| {
            b.to_async(&runtime)
                .iter(|| call(router.clone(), request(&bearer)))
        });
    }
    group.finish();
    // One call for the cache-hit variant's warm-up; the shortcut variant never asks.
    assert_eq!(
        remote.calls.load(Ordering::Relaxed),
        1,
        "the remote authority was asked after warm-up: not a cache-hit measurement"
    );
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    resource_check(&mut criterion);
    criterion.final_summary();
}
