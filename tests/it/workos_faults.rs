//! The WorkOS client against loopback servers that misbehave on purpose: rate limits, server
//! errors, slow and broken answers, bad JSON. Each test counts the attempts the server saw and
//! measures the time the client waited.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use workos_authz::check::{
    Authorizer, AuthorizerError, CheckRequest, Decision, MembershipResolver, ResourceRef,
};
use workos_authz::workos::{
    AssignRole, CreatePermission, ErrorKind, Jitter, ListEvents, ListResourcesForMembership,
    Pagination, RetryPolicy, WorkOsClient,
};

const API_KEY: &str = "sk_test_fault_injection_key";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// What the scripted server does with attempt `n` (0-based).
enum Reply {
    Now(Response),
    /// Never answers: the client's timeout must fire.
    Never,
}

type Respond = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

#[derive(Clone)]
struct Script {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Respond>,
}

impl Script {
    fn hits(&self) -> usize {
        self.seen.lock().map(|seen| seen.len()).unwrap_or(0)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }
}

async fn handle(
    State(script): State<Script>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        uri: uri.to_string(),
        headers,
        body,
    };
    let attempt = {
        let mut all = script.seen.lock().expect("the log is not poisoned");
        all.push(seen.clone());
        all.len() - 1
    };
    match (script.respond)(attempt, &seen) {
        Reply::Now(response) => response,
        Reply::Never => std::future::pending::<Response>().await,
    }
}

/// Serves `respond` on 127.0.0.1 and returns its base URL and the request log.
async fn scripted(
    respond: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
) -> (String, Script) {
    let script = Script {
        seen: Arc::new(Mutex::new(Vec::new())),
        respond: Arc::new(respond),
    };
    let app = Router::new().fallback(handle).with_state(script.clone());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), script)
}

fn json_reply(status: StatusCode, request_id: &str, body: Value) -> Reply {
    Reply::Now((status, [("x-request-id", request_id)], axum::Json(body)).into_response())
}

fn permission_json(slug: &str) -> Value {
    json!({"object": "permission", "id": format!("perm_{slug}"), "slug": slug, "name": slug,
        "description": null, "resource_type_slug": "project", "system": false,
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"})
}

/// Fast, deterministic retries so that waits are the ones the test sets.
fn client(base_url: &str, retry: RetryPolicy) -> WorkOsClient {
    WorkOsClient::builder(API_KEY)
        .base_url(base_url)
        .timeout(Duration::from_secs(5))
        .retry_policy(retry)
        .build()
        .expect("valid settings")
}

fn quick_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_retries)
        .with_backoff(Duration::from_millis(20), 1.5, Duration::from_millis(100))
        .with_jitter(Jitter::None)
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let (base, script) = scripted(|attempt, _| match attempt {
        0 => Reply::Now(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1"), ("x-request-id", "req_limited")],
                axum::Json(
                    json!({"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}),
                ),
            )
                .into_response(),
        ),
        _ => json_reply(StatusCode::OK, "req_ok", permission_json("docs:read")),
    })
    .await;
    let workos = client(&base, quick_retries(3));

    let started = Instant::now();
    let permission = workos
        .get_permission("docs:read")
        .await
        .expect("the retry succeeds");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(permission.slug, "docs:read");
    assert_eq!(script.hits(), 2);
    // Retry-After: 1 replaces the 20 ms backoff.
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

#[tokio::test]
async fn persistent_rate_limit_ends_in_rate_limited_with_its_details() {
    let (base, script) = scripted(|attempt, _| {
        Reply::Now(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", "0"),
                    ("x-request-id", &*format!("req_{attempt}")),
                ],
                axum::Json(
                    json!({"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}),
                ),
            )
                .into_response(),
        )
    })
    .await;
    let workos = client(&base, quick_retries(2));

    let error = workos
        .get_permission("docs:read")
        .await
        .expect_err("always limited");

    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(error.code(), Some("rate_limit_exceeded"));
    assert_eq!(error.retry_after(), Some(Duration::ZERO));
    assert_eq!(error.request_id(), Some("req_2"), "the last answer's id");
    assert_eq!(error.attempts(), 3);
    assert_eq!(script.hits(), 3);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let (base, script) = scripted(|attempt, _| match attempt {
        0 => {
            // A date in the past: retry at once.
            let date = httpdate_in_the_past();
            Reply::Now(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", date)],
                    "busy",
                )
                    .into_response(),
            )
        }
        _ => json_reply(StatusCode::OK, "req_ok", permission_json("a")),
    })
    .await;
    // A long backoff proves the date, not the backoff, set the wait.
    let retry =
        quick_retries(1).with_backoff(Duration::from_secs(30), 1.5, Duration::from_secs(30));
    let workos = client(&base, retry);

    let started = Instant::now();
    workos
        .get_permission("a")
        .await
        .expect("the retry succeeds");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(script.hits(), 2);
}

fn httpdate_in_the_past() -> String {
    "Wed, 21 Oct 2015 07:28:00 GMT".to_owned()
}

#[tokio::test]
async fn server_error_then_success_is_retried_after_the_backoff() {
    let (base, script) = scripted(|attempt, _| match attempt {
        0 => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "req_500",
            json!({"message": "Internal error"}),
        ),
        _ => json_reply(StatusCode::OK, "req_ok", permission_json("docs:read")),
    })
    .await;
    let retry =
        quick_retries(3).with_backoff(Duration::from_millis(200), 1.5, Duration::from_secs(1));
    let workos = client(&base, retry);

    let started = Instant::now();
    workos
        .get_permission("docs:read")
        .await
        .expect("the retry succeeds");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(script.hits(), 2);
    assert!(
        waited >= Duration::from_millis(200),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn server_errors_exhaust_the_retries_and_report_server() {
    let (base, script) = scripted(|_, _| {
        json_reply(
            StatusCode::BAD_GATEWAY,
            "req_502",
            json!({"message": "upstream"}),
        )
    })
    .await;
    let workos = client(&base, quick_retries(3));

    let started = Instant::now();
    let error = workos
        .get_permission("x")
        .await
        .expect_err("always failing");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(error.kind(), ErrorKind::Server);
    assert_eq!(error.status(), Some(StatusCode::BAD_GATEWAY));
    assert_eq!(error.request_id(), Some("req_502"));
    assert_eq!(error.attempts(), 4);
    assert_eq!(script.hits(), 4);
    // Backoff 20 + 30 + 45 ms between the four attempts.
    assert!(
        waited >= Duration::from_millis(95),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_on_every_attempt() {
    let (base, script) = scripted(|_, _| Reply::Never).await;
    let workos = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .timeout(Duration::from_millis(200))
        .retry_policy(quick_retries(2))
        .build()
        .expect("valid settings");

    let started = Instant::now();
    let error = workos.get_permission("x").await.expect_err("never answers");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.status(), None);
    assert_eq!(error.attempts(), 3);
    assert_eq!(script.hits(), 3);
    // Three 200 ms attempts and two short backoffs.
    assert!(
        waited >= Duration::from_millis(600),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[tokio::test]
async fn the_overall_deadline_cuts_attempts_and_waits_short() {
    let (base, script) = scripted(|_, _| Reply::Never).await;
    let workos = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .timeout(Duration::from_secs(2))
        .retry_policy(quick_retries(5))
        .deadline(Duration::from_millis(300))
        .build()
        .expect("valid settings");

    let started = Instant::now();
    let error = workos.get_permission("x").await.expect_err("never answers");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.attempts(), 1, "no time was left for a second attempt");
    assert_eq!(script.hits(), 1);
    assert!(
        waited >= Duration::from_millis(300),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
}

/// A raw server: the first `broken` connections get half a response and are closed, the
/// others a complete one. Returns the base URL and the connection count.
async fn half_answering_server(broken: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        // Bounded: no test makes more than a handful of connections.
        for _ in 0..16 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let index = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Read the request head so closing does not reset the connection early.
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let body = permission_json("docs:read").to_string();
                let response = if index < broken {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
                        body.len(),
                        &body[..body.len() / 2]
                    )
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        body.len(),
                        body
                    )
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{address}"), connections)
}

#[tokio::test]
async fn a_connection_closed_mid_response_is_retried() {
    let (base, connections) = half_answering_server(1).await;
    let workos = client(&base, quick_retries(2));

    let permission = workos
        .get_permission("docs:read")
        .await
        .expect("the second connection answers in full");

    assert_eq!(permission.slug, "docs:read");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connections_always_closed_mid_response_end_in_transport() {
    let (base, connections) = half_answering_server(usize::MAX).await;
    let workos = client(&base, quick_retries(2));

    let error = workos
        .get_permission("docs:read")
        .await
        .expect_err("never complete");

    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert_eq!(error.attempts(), 3);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // Bind then drop: nothing listens on the port any more.
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        listener.local_addr().expect("local address")
    };
    let workos = client(&format!("http://{address}"), quick_retries(1));
    let error = workos
        .get_permission("x")
        .await
        .expect_err("nothing listens");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert_eq!(error.attempts(), 2);
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_and_not_retried() {
    let (base, script) = scripted(|_, _| {
        Reply::Now(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE.as_str(), "application/json"),
                    ("x-request-id", "req_bad_json"),
                ],
                "{\"id\": \"perm_1\", \"slug\": ",
            )
                .into_response(),
        )
    })
    .await;
    let workos = client(&base, quick_retries(3));

    let error = workos.get_permission("x").await.expect_err("bad JSON");

    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.status(), Some(StatusCode::OK));
    assert_eq!(error.request_id(), Some("req_bad_json"));
    assert_eq!(script.hits(), 1);
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn well_formed_json_of_the_wrong_shape_is_a_decode_error() {
    let (base, script) =
        scripted(|_, _| json_reply(StatusCode::OK, "req_shape", json!({"data": 42}))).await;
    let workos = client(&base, quick_retries(3));
    let error = workos.get_permission("x").await.expect_err("wrong shape");
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(script.hits(), 1);

    let error = workos
        .list_permissions(&Pagination::default())
        .await
        .expect_err("data is not a list");
    assert_eq!(error.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn a_non_json_success_is_a_decode_error() {
    let (base, _) =
        scripted(|_, _| Reply::Now((StatusCode::OK, "<html>proxy</html>").into_response())).await;
    let error = client(&base, quick_retries(0))
        .get_permission("x")
        .await
        .expect_err("not JSON");
    assert_eq!(error.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn unprocessable_carries_field_errors_and_is_not_retried() {
    let (base, script) = scripted(|_, _| {
        json_reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            "req_422",
            json!({"message": "Validation failed", "code": "invalid_request_parameters",
                "errors": [{"field": "slug", "code": "slug_invalid"},
                           {"field": "name", "code": "name_required"}]}),
        )
    })
    .await;
    let workos = client(&base, quick_retries(3));

    let error = workos
        .create_permission(&CreatePermission::new("Bad Slug", ""))
        .await
        .expect_err("invalid");

    assert_eq!(error.kind(), ErrorKind::Unprocessable);
    assert_eq!(error.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(error.code(), Some("invalid_request_parameters"));
    assert_eq!(error.message(), "Validation failed");
    assert_eq!(error.request_id(), Some("req_422"));
    let fields: Vec<(&str, &str)> = error
        .field_errors()
        .iter()
        .map(|field| (field.field.as_str(), field.code.as_str()))
        .collect();
    assert_eq!(
        fields,
        [("slug", "slug_invalid"), ("name", "name_required")]
    );
    assert_eq!(script.hits(), 1);
}

#[tokio::test]
async fn error_statuses_map_to_their_kinds() {
    let (base, _) = scripted(|_, seen| {
        let status = match seen.uri.rsplit('/').next().unwrap_or_default() {
            "401" => StatusCode::UNAUTHORIZED,
            "404" => StatusCode::NOT_FOUND,
            "409" => StatusCode::CONFLICT,
            "403" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        json_reply(
            status,
            "req_status",
            json!({"message": "no", "code": "some_code"}),
        )
    })
    .await;
    let workos = client(&base, quick_retries(3));
    for (slug, kind) in [
        ("401", ErrorKind::Unauthorized),
        ("404", ErrorKind::NotFound),
        ("409", ErrorKind::Conflict),
        ("403", ErrorKind::Other),
        ("400", ErrorKind::Other),
    ] {
        let error = workos
            .get_permission(slug)
            .await
            .expect_err("an error status");
        assert_eq!(error.kind(), kind, "{slug}");
        assert_eq!(error.request_id(), Some("req_status"));
        assert_eq!(error.code(), Some("some_code"));
        assert_eq!(error.attempts(), 1, "{slug} is not retried");
        assert!(!error.to_string().contains(API_KEY));
    }
}

#[tokio::test]
async fn idempotency_key_is_stable_across_retries_and_new_per_call() {
    let (base, script) = scripted(|attempt, _| match attempt {
        0 => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "req_503",
            json!({"message": "busy"}),
        ),
        _ => json_reply(StatusCode::CREATED, "req_ok", permission_json("docs:read")),
    })
    .await;
    let workos = client(&base, quick_retries(3));

    let create = CreatePermission::new("docs:read", "Read docs");
    workos
        .create_permission(&create)
        .await
        .expect("second attempt");
    workos
        .create_permission(&create)
        .await
        .expect("one attempt");
    workos.get_permission("docs:read").await.expect("a GET");

    let seen = script.seen();
    assert_eq!(seen.len(), 4);
    let keys: Vec<Option<&str>> = seen.iter().map(|s| s.header("idempotency-key")).collect();
    let first = keys[0].expect("a POST carries a key");
    assert_eq!(keys[1], Some(first), "a retry reuses its call's key");
    let second = keys[2].expect("a POST carries a key");
    assert_ne!(second, first, "each call has its own key");
    assert_eq!(keys[3], None, "a GET carries none");
    for key in [first, second] {
        let uuid = key
            .strip_prefix("retry-")
            .expect("the Node SDK's retry- prefix");
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4', "UUID version 4: {key}");
    }
}

#[tokio::test]
async fn every_request_carries_the_wire_headers_and_encodings() {
    let (base, script) = scripted(|_, seen| {
        let body = if seen.uri.contains("/resources?") {
            json!({"object": "list", "data": [], "list_metadata": {"before": null, "after": null}})
        } else {
            permission_json("docs:read")
        };
        json_reply(StatusCode::OK, "req_wire", body)
    })
    .await;
    let workos = WorkOsClient::builder(API_KEY)
        .base_url(format!("{base}/"))
        .user_agent("wire-test/1.0")
        .build()
        .expect("valid settings");

    workos.get_permission("docs:read").await.expect("ok");
    workos
        .list_resources_for_membership(
            "om_1",
            &ListResourcesForMembership {
                permission_slug: "docs:read".into(),
                parent: ResourceRef::external("folder", "a b&c"),
                pagination: Pagination::limit(5),
            },
        )
        .await
        .expect("ok");
    workos
        .remove_role(
            "om_1",
            &AssignRole {
                role_slug: "editor".into(),
                resource: ResourceRef::external("project", "p/1"),
            },
        )
        .await
        .expect("ok");
    workos
        .delete_resource("authz_resource_1", Some(true))
        .await
        .expect("ok");

    let seen = script.seen();
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(&*format!("Bearer {API_KEY}"))
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("user-agent"), Some("wire-test/1.0"));
    }
    assert_eq!(seen[0].uri, "/authorization/permissions/docs:read");
    assert_eq!(
        seen[1].uri,
        "/authorization/organization_memberships/om_1/resources?permission_slug=docs%3Aread\
         &parent_resource_type_slug=folder&parent_resource_external_id=a+b%26c&limit=5&order=desc"
    );
    assert_eq!(seen[2].method, Method::DELETE);
    assert_eq!(
        seen[2].uri,
        "/authorization/organization_memberships/om_1/role_assignments"
    );
    let body: Value = serde_json::from_slice(&seen[2].body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"role_slug": "editor", "resource_external_id": "p/1", "resource_type_slug": "project"})
    );
    assert_eq!(
        seen[3].uri,
        "/authorization/resources/authz_resource_1?cascade_delete=true"
    );
}

#[tokio::test]
async fn auto_paging_walks_every_page_once() {
    const TOTAL: usize = 250;
    let (base, script) = scripted(|_, seen| {
        let query = seen.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let after: usize = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("after=perm_"))
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(0, |n| n + 1);
        let end = (after + 100).min(TOTAL);
        let data: Vec<Value> = (after..end).map(|n| permission_json(&n.to_string())).collect();
        let next = (end < TOTAL).then(|| format!("perm_{}", end - 1));
        json_reply(
            StatusCode::OK,
            "req_page",
            json!({"object": "list", "data": data, "list_metadata": {"before": null, "after": next}}),
        )
    })
    .await;
    let workos = client(&base, quick_retries(0));

    let mut stream = workos.stream_permissions(&Pagination::default());
    let mut seen_slugs = Vec::new();
    while let Some(item) = stream.next_item().await {
        seen_slugs.push(item.expect("every page answers").slug);
        assert!(seen_slugs.len() <= TOTAL, "the walk must end");
    }
    assert_eq!(stream.pages_fetched(), 3);
    let mut sorted: Vec<usize> = seen_slugs.iter().filter_map(|s| s.parse().ok()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, (0..TOTAL).collect::<Vec<_>>());
    assert_eq!(seen_slugs.len(), TOTAL);
    let uris: Vec<String> = script.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        [
            "/authorization/permissions?limit=100&order=desc",
            "/authorization/permissions?limit=100&after=perm_99&order=desc",
            "/authorization/permissions?limit=100&after=perm_199&order=desc",
        ]
    );
}

#[tokio::test]
async fn auto_paging_stops_at_the_first_error() {
    let (base, _) = scripted(|attempt, _| match attempt {
        0 => json_reply(
            StatusCode::OK,
            "req_page",
            json!({"object": "list", "data": [permission_json("a")],
                "list_metadata": {"after": "perm_a"}}),
        ),
        _ => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "req_500",
            json!({"message": "down"}),
        ),
    })
    .await;
    let mut stream = client(&base, quick_retries(0)).stream_permissions(&Pagination::default());
    assert_eq!(
        stream.next_item().await.map(|r| r.map(|p| p.slug).ok()),
        Some(Some("a".into()))
    );
    let error = stream
        .next_item()
        .await
        .expect("an item")
        .expect_err("the error");
    assert_eq!(error.kind(), ErrorKind::Server);
    assert!(stream.next_item().await.is_none());
}

#[tokio::test]
async fn the_authorizer_answers_decisions_and_fails_closed() {
    let (base, script) = scripted(|_, seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        match body["permission_slug"].as_str() {
            Some("docs:read") => json_reply(StatusCode::OK, "req_a", json!({"authorized": true})),
            Some("docs:write") => json_reply(StatusCode::OK, "req_b", json!({"authorized": false})),
            Some("slow") => Reply::Never,
            _ => json_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "req_c",
                json!({"message": "x"}),
            ),
        }
    })
    .await;
    let workos = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .timeout(Duration::from_millis(150))
        .retry_policy(quick_retries(0))
        .build()
        .expect("valid settings");
    let authorizer = workos.authorizer();
    let request = |permission: &str| CheckRequest {
        organization_id: "org_1".into(),
        organization_membership_id: "om_1".into(),
        permission: permission.into(),
        resource: ResourceRef::external("project", "apollo"),
    };

    let allowed = authorizer.check(&request("docs:read")).await;
    assert_eq!(allowed.ok(), Some(Decision::Allow));
    let denied = authorizer.check(&request("docs:write")).await;
    assert_eq!(denied.ok(), Some(Decision::Deny));
    assert!(matches!(
        authorizer.check(&request("broken")).await,
        Err(AuthorizerError::Unavailable { .. })
    ));
    match authorizer.check(&request("slow")).await {
        Err(AuthorizerError::Timeout(after)) => assert!(after >= Duration::from_millis(150)),
        other => panic!("expected a timeout, got {other:?}"),
    }

    let first = &script.seen()[0];
    assert_eq!(first.method, Method::POST);
    assert_eq!(
        first.uri,
        "/authorization/organization_memberships/om_1/check"
    );
    let body: Value = serde_json::from_slice(&first.body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"permission_slug": "docs:read", "resource_external_id": "apollo",
            "resource_type_slug": "project"})
    );
}

#[tokio::test]
async fn the_membership_resolver_finds_the_active_membership() {
    let (base, script) = scripted(|_, seen| {
        let data = if seen.uri.contains("user_id=user_known") {
            json!([{"object": "organization_membership", "id": "om_known",
                "user_id": "user_known", "organization_id": "org_1", "status": "active",
                "role": {"slug": "member"}}])
        } else {
            json!([])
        };
        json_reply(
            StatusCode::OK,
            "req_m",
            json!({"object": "list", "data": data, "list_metadata": {}}),
        )
    })
    .await;
    let resolver = client(&base, quick_retries(0)).membership_resolver();

    let found = resolver
        .resolve("user_known", "org_1")
        .await
        .expect("an answer");
    assert_eq!(found.as_deref(), Some("om_known"));
    let missing = resolver
        .resolve("user_other", "org_1")
        .await
        .expect("an answer");
    assert_eq!(missing, None);
    assert_eq!(
        script.seen()[0].uri,
        "/user_management/organization_memberships?user_id=user_known&organization_id=org_1\
         &statuses=active&limit=10&order=desc"
    );
}

#[tokio::test]
async fn a_long_retry_after_is_capped() {
    let (base, script) = scripted(|attempt, _| match attempt {
        0 => Reply::Now(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "3600")],
                "slow down",
            )
                .into_response(),
        ),
        _ => json_reply(StatusCode::OK, "req_ok", permission_json("a")),
    })
    .await;
    let retry = quick_retries(1).with_max_retry_after(Duration::from_millis(150));
    let workos = client(&base, retry);

    let started = Instant::now();
    workos
        .get_permission("a")
        .await
        .expect("the retry succeeds");
    let waited = started.elapsed();
    eprintln!("measured: {waited:?}");

    assert_eq!(script.hits(), 2);
    assert!(
        waited >= Duration::from_millis(150),
        "waited only {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "an hour was not waited: {waited:?}"
    );
}

#[tokio::test]
async fn a_caller_supplied_http_client_is_used_with_our_headers() {
    let (base, script) =
        scripted(|_, _| json_reply(StatusCode::OK, "req_ok", permission_json("a"))).await;
    let http = reqwest::Client::builder()
        .default_headers(
            [(
                header::HeaderName::from_static("x-proxy-tag"),
                header::HeaderValue::from_static("mine"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .expect("a reqwest client");
    let workos = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .http_client(http)
        .build()
        .expect("valid settings");

    workos.get_permission("a").await.expect("ok");

    let seen = &script.seen()[0];
    assert_eq!(seen.header("x-proxy-tag"), Some("mine"));
    assert_eq!(
        seen.header("authorization"),
        Some(&*format!("Bearer {API_KEY}"))
    );
    assert!(
        seen.header("user-agent")
            .is_some_and(|agent| agent.starts_with("workos-authz/"))
    );
}

#[tokio::test]
async fn events_are_listed_with_filters_and_walked_by_cursor() {
    let (base, script) = scripted(|attempt, _| {
        let (data, after) = match attempt {
            0 => (
                json!([{"object": "event", "id": "event_1", "event": "role.updated",
                    "data": {"slug": "admin"}, "created_at": "2026-11-23T00:00:00.000Z"},
                    {"object": "event", "id": "event_2", "event": "organization_membership.updated",
                    "data": {"id": "om_1", "organization_id": "org_1", "user_id": "user_1"},
                    "created_at": "2026-11-23T00:00:01.000Z"}]),
                json!("event_2"),
            ),
            _ => (json!([]), Value::Null),
        };
        json_reply(
            StatusCode::OK,
            "req_events",
            json!({"object": "list", "data": data, "list_metadata": {"after": after}}),
        )
    })
    .await;
    let workos = client(&base, quick_retries(0));

    let options = ListEvents {
        organization_id: Some("org_1".into()),
        after: Some("event_0".into()),
        limit: Some(2),
        ..ListEvents::of_types(["role.updated", "organization_membership.updated"])
    };
    let page = workos.list_events(&options).await.expect("a page");
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.list_metadata.after.as_deref(), Some("event_2"));
    assert_eq!(page.data[1].organization_membership_id(), Some("om_1"));
    assert_eq!(page.data[1].organization_id(), Some("org_1"));
    assert_eq!(page.data[0].data["slug"], "admin");

    let walked = workos
        .stream_events(&ListEvents::of_types(["role.updated"]))
        .try_collect()
        .await
        .expect("the walk");
    assert!(
        walked.is_empty(),
        "the second answer is the empty end of the feed"
    );

    let uris: Vec<String> = script.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        uris,
        [
            "/events?events=role.updated%2Corganization_membership.updated&organization_id=org_1\
             &after=event_0&limit=2",
            "/events?events=role.updated&limit=100",
        ]
    );
}

#[tokio::test]
async fn logs_and_errors_never_show_the_api_key() {
    let logs = crate::common::capture_this_thread();

    let (base, _) = scripted(|attempt, _| match attempt {
        0 => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "req_503",
            json!({"message": "busy"}),
        ),
        _ => json_reply(
            StatusCode::UNAUTHORIZED,
            "req_401",
            json!({"message": "bad key"}),
        ),
    })
    .await;
    let workos = client(&base, quick_retries(1));
    let error = workos
        .create_permission(&CreatePermission::new("a", "A"))
        .await
        .expect_err("unauthorized");

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("retrying"), "the retry is logged: {text}");
    assert!(!text.contains(API_KEY), "the key leaked into the logs");
    assert!(!format!("{error} {error:?} {workos:?}").contains(API_KEY));
}

/// An id that would change the path (`.`, `..`, empty) is refused before anything is sent:
/// `delete_permission(".")` used to send `DELETE /authorization/permissions/`.
#[tokio::test]
async fn dot_segments_and_empty_ids_are_refused_before_any_request() {
    let (base, script) = scripted(|_, _| json_reply(StatusCode::OK, "req_1", json!({}))).await;
    let workos = client(&base, RetryPolicy::never());
    for id in [".", "..", ""] {
        let error = workos.delete_permission(id).await.expect_err(id);
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{id:?}: {error}");
        let error = workos.get_resource(id).await.expect_err(id);
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{id:?}: {error}");
    }
    assert_eq!(script.hits(), 0, "nothing was sent");
    // Dots inside a segment are ordinary characters.
    workos
        .get_permission("docs.read")
        .await
        .expect_err("the scripted answer is not a permission");
    assert_eq!(script.seen()[0].uri, "/authorization/permissions/docs.read");
}
