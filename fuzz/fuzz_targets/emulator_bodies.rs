//! The emulator's request bodies (and query strings) through its router.
//!
//! Input: `[endpoint][content type and idempotency key][body]`; for the GET endpoints the body
//! is the query string. Every input starts from the same model: the one emulator of the run is
//! put back after a change (its AuthKit and idempotency memories are not, and every keyed input
//! has a key of its own). Properties: never a 5xx; a refused request (4xx) leaves the model
//! exactly as it was (same revision, same export).
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::Router;
use axum::body::Body;
use http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;
use workos_authz::emulator::Emulator;
use workos_authz::local::{LocalEngine, Policy};
use workos_authz::session::TokenSigner;
use workos_authz_fuzz::{MODEL, runtime};

const ENDPOINTS: &[(Method, &str)] = &[
    (Method::POST, "/authorization/roles"),
    (Method::PATCH, "/authorization/roles/admin"),
    (Method::PUT, "/authorization/roles/admin/permissions"),
    (Method::POST, "/authorization/roles/admin/permissions"),
    (Method::POST, "/authorization/organizations/org_acme/roles"),
    (
        Method::PATCH,
        "/authorization/organizations/org_acme/roles/billing-clerk",
    ),
    (
        Method::PUT,
        "/authorization/organizations/org_acme/roles/billing-clerk/permissions",
    ),
    (
        Method::POST,
        "/authorization/organizations/org_acme/roles/billing-clerk/permissions",
    ),
    (Method::POST, "/authorization/permissions"),
    (Method::PATCH, "/authorization/permissions/projects:read"),
    (Method::POST, "/authorization/resources"),
    (
        Method::PATCH,
        "/authorization/resources/authz_resource_acme_apollo",
    ),
    (
        Method::PATCH,
        "/authorization/organizations/org_acme/resources/project/apollo",
    ),
    (
        Method::POST,
        "/authorization/organization_memberships/om_bob/check",
    ),
    (
        Method::POST,
        "/authorization/organization_memberships/om_bob/role_assignments",
    ),
    (
        Method::DELETE,
        "/authorization/organization_memberships/om_bob/role_assignments",
    ),
    (Method::POST, "/organizations"),
    (Method::POST, "/user_management/organization_memberships"),
    (
        Method::PUT,
        "/user_management/organization_memberships/om_bob",
    ),
    (Method::POST, "/user_management/users"),
    (Method::POST, "/_emulator/sessions"),
    (Method::POST, "/user_management/authenticate"),
    (
        Method::GET,
        "/authorization/organization_memberships/om_bob/resources",
    ),
    (Method::GET, "/authorization/roles"),
    (Method::GET, "/authorization/permissions"),
    (Method::GET, "/authorization/organizations/org_acme/roles"),
    (Method::GET, "/user_management/users"),
    (Method::GET, "/user_management/organization_memberships"),
    (
        Method::GET,
        "/authorization/resources/authz_resource_acme_apollo/role_assignments",
    ),
];

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    None,
    Some("text/plain"),
];

/// One emulator for the whole run, put back to the model after every input that changed it
/// (its export holds the ids and timestamps, so the state is the same, not an equal copy).
struct World {
    engine: LocalEngine,
    router: Router,
    model: Policy,
    model_json: String,
}

fn world() -> &'static Mutex<World> {
    static WORLD: OnceLock<Mutex<World>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let engine = LocalEngine::from_policy(&Policy::from_json(MODEL).expect("the model loads"))
            .expect("the model loads");
        let signer = Arc::new(TokenSigner::generate().expect("an RSA key"));
        let router = Emulator::with_shared_signer(engine.clone(), signer).router();
        let model = engine.dump_policy();
        let model_json = model.to_json();
        Mutex::new(World {
            engine,
            router,
            model,
            model_json,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    static KEYS: AtomicU64 = AtomicU64::new(0);
    let [endpoint, options, body @ ..] = data else {
        return;
    };
    let (method, path) = &ENDPOINTS[usize::from(*endpoint) % ENDPOINTS.len()];
    let mut request = Request::builder().method(method.clone());
    let body = if *method == Method::GET {
        let query: String = String::from_utf8_lossy(body)
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '#')
            .collect();
        request = request.uri(format!("{path}?{query}"));
        Vec::new()
    } else {
        request = request.uri(*path);
        body.to_vec()
    };
    if let Some(content_type) = CONTENT_TYPES[usize::from(options & 3)] {
        request = request.header("content-type", content_type);
    }
    if options & 4 != 0 {
        // A fresh key per input: a replay of another input's answer would hide this one.
        let key = KEYS.fetch_add(1, Ordering::Relaxed);
        request = request.header("idempotency-key", format!("fuzz-{key}"));
    }
    let Ok(request) = request
        .header("authorization", "Bearer sk_test_fuzz")
        .body(Body::from(body))
    else {
        return;
    };

    let world = world().lock().unwrap_or_else(PoisonError::into_inner);
    let revision = world.engine.revision();
    let response = runtime()
        .block_on(world.router.clone().oneshot(request))
        .expect("a router never fails");
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "{method} {path} answered {status}"
    );
    if status.is_client_error() {
        assert_eq!(
            world.engine.revision(),
            revision,
            "{method} {path}: refused but changed"
        );
        assert_eq!(
            world.engine.dump_policy().to_json(),
            world.model_json,
            "{method} {path}: refused but changed"
        );
    }
    if world.engine.revision() != revision {
        world
            .engine
            .replace_policy(&world.model)
            .expect("the model loads back");
    }
});
