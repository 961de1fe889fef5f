//! What `authz.layer()` + `require_permission` add to a request, against the same route bare.
//!
//! - `bare`: the route without any authorization.
//! - `bare_with_two_noop_layers`: the same route behind two layers that do nothing, to show
//!   what axum's own per-layer plumbing costs.
//! - `steady_state`: a valid RS256 token already verified once (the verified-token cache is warm).
//! - `first_request`: a fresh verifier for every request, so the token is decoded and its RSA
//!   signature checked.
//!
//! Requests go through the axum `Router` as a tower service (no socket), so the difference
//! between the groups is the middleware's own cost.

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::routing::get;
use criterion::{BatchSize, Criterion};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use tower::ServiceExt;
use tower::layer::util::Identity;
use workos_authz::session::{SessionClaims, TokenSigner};
use workos_authz::{Authz, SessionVerifier, require_permission};

// Every router is finalized with `with_state(())`, as `axum::serve` does: used with `oneshot`
// as it is, a router rebuilds its route layers on every request, which is not what a server
// pays.
fn route() -> Router {
    Router::new()
        .route("/posts", get(|| async { "posts" }))
        .with_state(())
}

fn guarded(authz: &Authz) -> Router {
    Router::new()
        .route(
            "/posts",
            get(|| async { "posts" }).route_layer(require_permission("posts:read")),
        )
        .layer(authz.layer())
        .with_state(())
}

fn authz_trusting(signer: &TokenSigner) -> Authz {
    let verifier = SessionVerifier::builder()
        .jwks_document(signer.jwks().to_string().as_bytes())
        .expect("the signer's JWKS is valid")
        .build()
        .expect("verifier builds");
    Authz::builder()
        .verifier(verifier)
        .build()
        .expect("authz builds")
}

// The header value is built once: cloning it shares its bytes, so the request costs the same
// to build with or without a token and the groups differ only by the middleware.
fn request(authorization: Option<&HeaderValue>) -> Request<Body> {
    let mut builder = Request::get("/posts");
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value.clone());
    }
    builder.body(Body::empty()).expect("valid request")
}

async fn call(router: Router, request: Request<Body>) {
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
}

fn middleware(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let signer = TokenSigner::generate().expect("key generation");
    let claims = SessionClaims::new("user_bench")
        .organization("org_bench")
        .permissions(["posts:read", "posts:write"]);
    let token = signer.sign(&claims).expect("signing");
    let authz = authz_trusting(&signer);
    let bearer = HeaderValue::from_maybe_shared(Bytes::from(format!("Bearer {token}")))
        .expect("visible ASCII");

    let mut group = c.benchmark_group("request");
    let bare = route();
    group.bench_function("bare", |b| {
        b.to_async(&runtime)
            .iter(|| call(bare.clone(), request(None)))
    });

    // The same two layers doing nothing: what axum's per-layer boxing costs by itself.
    let plumbing = Router::new()
        .route(
            "/posts",
            get(|| async { "posts" }).route_layer(Identity::new()),
        )
        .layer(Identity::new())
        .with_state(());
    group.bench_function("bare_with_two_noop_layers", |b| {
        b.to_async(&runtime)
            .iter(|| call(plumbing.clone(), request(Some(&bearer))))
    });

    let warm = guarded(&authz);
    runtime.block_on(call(warm.clone(), request(Some(&bearer))));
    group.bench_function("steady_state", |b| {
        b.to_async(&runtime)
            .iter(|| call(warm.clone(), request(Some(&bearer))))
    });

    group.bench_function("first_request", |b| {
        b.to_async(&runtime).iter_batched(
            || (guarded(&authz_trusting(&signer)), request(Some(&bearer))),
            |(router, request)| call(router, request),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

// `criterion_group!` and `criterion_main!` written out: the macros define undocumented `pub fn`s.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    middleware(&mut criterion);
    criterion.final_summary();
}
