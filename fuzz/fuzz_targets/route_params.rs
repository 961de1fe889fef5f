//! Route parameters and resource bindings through a real router (`oneshot`).
//!
//! Input: `[route][segment]` or `[route][segment NUL segment]`, each segment put in the path
//! as it is except that bytes a URI cannot hold are percent-encoded (so `%zz`, `%FF`, `%2F`
//! and `..` reach the router as written). Properties: never a 5xx; a check only ever names the
//! resource the path names (the parameter decoded once); a 200 only after that check.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use tower::ServiceExt as _;
use workos_authz::check::{Authorizer, CheckFuture, CheckRequest, Decision, ResourceRef};
use workos_authz::{Authz, SessionVerifier, require_org_param, require_permission};
use workos_authz_fuzz::{AUDIENCE, DEFAULT_HEADER, ISSUER, runtime, sign_raw, verifier};

/// What may stay unescaped: everything printable a path can carry, `%` included.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'%')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Allows every check and remembers what it was asked.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<CheckRequest>>>);

impl Authorizer for Recorder {
    fn check<'a>(&'a self, request: &'a CheckRequest) -> CheckFuture<'a> {
        self.0.lock().unwrap().push(request.clone());
        Box::pin(std::future::ready(Ok(Decision::Allow)))
    }
}

/// Alice of Acme, holding no permission in her claims, so every guard must ask the authority.
fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let claims = serde_json::json!({
            "sub": "user_alice", "sid": "session_fuzz", "org_id": "org_acme",
            "organization_membership_id": "om_alice", "role": "member",
            "iss": ISSUER, "aud": AUDIENCE, "iat": 1_700_000_000u64, "exp": 4_102_444_800u64,
        });
        sign_raw(DEFAULT_HEADER, claims.to_string().as_bytes())
    })
}

fn app(recorder: Recorder) -> Router {
    static VERIFIER: OnceLock<SessionVerifier> = OnceLock::new();
    // Shared, so its verified-token cache is warm: a fresh Authz (and decision cache) per
    // input keeps the decisions of one input from answering the next.
    let authz = Authz::builder()
        .verifier(VERIFIER.get_or_init(verifier).clone())
        .authorizer(recorder)
        .build()
        .expect("a valid setup");
    let read = || require_permission("projects:read");
    Router::new()
        .route(
            "/projects/{project_id}",
            get(|| async { "ok" }).route_layer(read().on_resource("project", "project_id")),
        )
        .route(
            "/orgs/{org_id}/projects/{project_id}",
            get(|| async { "ok" })
                .route_layer(read().on_resource("project", "project_id"))
                .route_layer(require_org_param("org_id")),
        )
        .route(
            "/resources/{resource_id}",
            get(|| async { "ok" }).route_layer(read().on_resource_id("resource_id")),
        )
        .layer(authz.layer())
}

fn decoded(segment: &[u8]) -> Option<String> {
    percent_decode(segment)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some((&route, rest)) = data.split_first() else {
        return;
    };
    let (first, second) = match rest.iter().position(|&byte| byte == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"apollo"[..]),
    };
    let escape = |segment: &[u8]| percent_encode(segment, ESCAPED).to_string();
    let (path, expected) = match route % 3 {
        0 => (
            format!("/projects/{}", escape(first)),
            decoded(first.as_ref()).map(|id| ResourceRef::external("project", id)),
        ),
        1 => (
            format!("/orgs/{}/projects/{}", escape(first), escape(second)),
            decoded(second).map(|id| ResourceRef::external("project", id)),
        ),
        _ => (
            format!("/resources/{}", escape(first)),
            decoded(first).map(ResourceRef::id),
        ),
    };
    let Ok(request) = Request::get(path.as_str())
        .header("authorization", format!("Bearer {}", token()))
        .body(Body::empty())
    else {
        return;
    };
    let recorder = Recorder::default();
    let response = runtime()
        .block_on(app(recorder.clone()).oneshot(request))
        .expect("a router never fails");
    let status = response.status();
    assert!(!status.is_server_error(), "{path} answered {status}");

    let checks = recorder.0.lock().unwrap().clone();
    assert!(checks.len() <= 1, "{path}: more than one check: {checks:?}");
    for check in &checks {
        assert_eq!(
            Some(&check.resource),
            expected.as_ref(),
            "{path}: checked another resource"
        );
        assert_eq!(check.organization_id, "org_acme");
        assert_eq!(check.organization_membership_id, "om_alice");
        assert_eq!(check.permission, "projects:read");
    }
    if route % 3 == 1 && checks.len() == 1 {
        assert_eq!(
            decoded(first).as_deref(),
            Some("org_acme"),
            "{path}: another organization"
        );
    }
    if status.is_success() {
        assert_eq!(checks.len(), 1, "{path}: allowed without a check");
    }
});
