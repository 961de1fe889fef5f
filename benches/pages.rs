//! What a list page's authorization costs once cached: the bound is 2 µs added to a
//! request by a cached `accessible_resources` answer.
//!
//! - `baseline`: `GET /projects` behind the layer, the handler extracting the `Authz` and the
//!   `Session` and answering without asking anything.
//! - `accessible_cached`: the same handler asking `accessible_resources` for the session's
//!   250 readable projects, already cached (a remote-like authority, asked once at warm-up;
//!   the token does not hold the permission, so the answer is `Only`).
//! - `accessible_all`: the token holds the permission: `All`, from the claims.
//! - `effective_cached`: the handler asking `effective_permissions` on one project, cached.
//! - `call_accessible_cached` and `call_effective_cached`: the two calls alone, on a session
//!   already verified, with no request around them: exactly what a handler adds, and the
//!   figure least moved by a busy machine (the request variants differ by a few hundred
//!   nanoseconds out of three microseconds).
//!
//! Requests go through the axum `Router` as a tower service (no socket), like the other
//! benches; the handler answers the list's length, so no serialization is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use tower::ServiceExt;
use workos_authz::check::{
    AccessibleResource, Authorizer, CachedAuthorizer, CheckFuture, CheckRequest, Decision,
    ListFuture, ListRequest, PermissionsFuture, PermissionsRequest, ResourceRef,
};
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::{Authz, Session, SessionVerifier};

/// Lists 250 projects and a fixed permission set, counting its calls: after warm-up it must
/// not be asked again, or the bench would not be measuring cache hits.
#[derive(Clone, Default)]
struct Remote {
    calls: Arc<AtomicUsize>,
}

impl Authorizer for Remote {
    fn check<'a>(&'a self, _: &'a CheckRequest) -> CheckFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(Decision::Allow) })
    }

    fn accessible_resources<'a>(&'a self, _: &'a ListRequest, _: usize) -> ListFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let projects = (0..250)
            .map(|i| {
                let id = format!("proj_{i:03}");
                AccessibleResource::new(format!("authz_resource_{i:03}"), &id, &id)
            })
            .collect();
        Box::pin(async move { Ok(projects) })
    }

    fn effective_permissions<'a>(&'a self, _: &'a PermissionsRequest) -> PermissionsFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(vec!["projects:edit".into(), "projects:read".into()]) })
    }
}

#[derive(Clone, Copy)]
enum Asks {
    Nothing,
    Accessible,
    Effective,
}

fn app(authz: &Authz, asks: Asks) -> Router {
    let handler = move |authz: Authz, session: Session| async move {
        match asks {
            Asks::Nothing => 0,
            Asks::Accessible => {
                let projects = authz
                    .accessible_resources(&session, "projects:read", "project", None)
                    .await
                    .expect("cached");
                projects.only().map_or(usize::MAX, |set| set.len())
            }
            Asks::Effective => {
                let resource = ResourceRef::external("project", "proj_001");
                authz
                    .effective_permissions(&session, &resource)
                    .await
                    .expect("cached")
                    .len()
            }
        }
        .to_string()
    };
    Router::new()
        .route("/projects", get(handler))
        .layer(authz.layer())
}

fn request(authorization: &HeaderValue) -> Request<Body> {
    Request::get("/projects")
        .header(AUTHORIZATION, authorization.clone())
        .body(Body::empty())
        .expect("valid request")
}

async fn call(router: Router, request: Request<Body>) {
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
}

fn bearer(signer: &TokenSigner, permissions: &[&str]) -> HeaderValue {
    let token = signer
        .sign(
            &SessionClaims::new("user_alice")
                .organization("org_acme")
                .organization_membership("om_alice")
                .permissions(permissions.iter().copied()),
        )
        .expect("signing");
    HeaderValue::from_maybe_shared(Bytes::from(format!("Bearer {token}"))).expect("visible ASCII")
}

fn pages(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let signer = TokenSigner::generate().expect("key generation");
    let remote = Remote::default();
    let authz = Authz::builder()
        .verifier(
            SessionVerifier::builder()
                .jwks_document(signer.jwks().to_string().as_bytes())
                .expect("the signer's JWKS is valid")
                .build()
                .expect("verifier builds"),
        )
        .cached_authorizer(
            CachedAuthorizer::builder(remote.clone())
                .allow_ttl(Duration::from_secs(3600))
                .deny_ttl(Duration::from_secs(3600))
                .build(),
        )
        .build()
        .expect("authz");
    let member = bearer(&signer, &[]);
    let reader = bearer(&signer, &["projects:read"]);
    let setups = [
        ("baseline", app(&authz, Asks::Nothing), &member),
        ("accessible_cached", app(&authz, Asks::Accessible), &member),
        ("accessible_all", app(&authz, Asks::Accessible), &reader),
        ("effective_cached", app(&authz, Asks::Effective), &member),
    ];

    let mut group = c.benchmark_group("pages");
    for (name, router, bearer) in &setups {
        // Warm the verified-token cache and the list and set caches.
        runtime.block_on(call(router.clone(), request(bearer)));
        group.bench_function(*name, |b| {
            b.to_async(&runtime)
                .iter(|| call(router.clone(), request(bearer)))
        });
    }
    let token = member
        .to_str()
        .expect("ASCII")
        .trim_start_matches("Bearer ");
    let session = runtime
        .block_on(authz.verifier().verify(token))
        .expect("a valid token");
    let resource = ResourceRef::external("project", "proj_001");
    group.bench_function("call_accessible_cached", |b| {
        b.to_async(&runtime).iter(|| async {
            let projects = authz
                .accessible_resources(&session, "projects:read", "project", None)
                .await
                .expect("cached");
            assert_eq!(projects.only().map(|set| set.len()), Some(250));
        })
    });
    group.bench_function("call_effective_cached", |b| {
        b.to_async(&runtime).iter(|| async {
            let permissions = authz
                .effective_permissions(&session, &resource)
                .await
                .expect("cached");
            assert_eq!(permissions.len(), 2);
        })
    });
    group.finish();
    assert_eq!(
        remote.calls.load(Ordering::Relaxed),
        2,
        "the authority was asked after warm-up: not a cache-hit measurement"
    );
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    pages(&mut criterion);
    criterion.final_summary();
}
