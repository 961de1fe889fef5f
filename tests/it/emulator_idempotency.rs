//! `Idempotency-Key` over real HTTP: scoped to the API key, method and path, bound to the
//! body, serialized per key and never globally (a stalled body blocks nobody), only
//! successes replayed, and a memory that stays bounded under a stream of distinct keys.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use workos_authz::emulator::{Emulator, IdempotencyLimits};
use workos_authz::local::LocalEngine;

use super::emulator_api::{Reply, Server, assert_error, fresh, serve};

async fn keyed(server: &Server, path: &str, key: &str, body: Value) -> Reply {
    keyed_as(server, "sk_test", path, key, body).await
}

async fn keyed_as(server: &Server, api_key: &str, path: &str, key: &str, body: Value) -> Reply {
    let authorization = format!("Bearer {api_key}");
    server
        .send(
            Method::POST,
            path,
            Some(body),
            &[
                ("authorization", authorization.as_str()),
                ("idempotency-key", key),
            ],
        )
        .await
}

#[tokio::test]
async fn one_key_on_two_endpoints_is_two_requests() {
    let (emulator, server) = fresh().await;
    let organization = keyed(
        &server,
        "/organizations",
        "retry-same",
        json!({ "name": "Acme" }),
    )
    .await;
    assert_eq!(organization.status, StatusCode::CREATED);
    assert_eq!(organization.body["object"], "organization");
    let permission = keyed(
        &server,
        "/authorization/permissions",
        "retry-same",
        json!({ "slug": "docs:read", "name": "Read" }),
    )
    .await;
    assert_eq!(
        permission.status,
        StatusCode::CREATED,
        "{}",
        permission.body
    );
    assert_eq!(permission.body["object"], "permission");
    assert!(emulator.engine().get_permission("docs:read").is_ok());
}

#[tokio::test]
async fn one_key_with_another_body_is_refused_and_does_not_act() {
    let (emulator, server) = fresh().await;
    let first = keyed(
        &server,
        "/authorization/permissions",
        "retry-body",
        json!({ "slug": "docs:read", "name": "Read" }),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let other = keyed(
        &server,
        "/authorization/permissions",
        "retry-body",
        json!({ "slug": "docs:write", "name": "Write" }),
    )
    .await;
    assert_error(&other, StatusCode::BAD_REQUEST, "idempotency_key_reused");
    assert!(emulator.engine().get_permission("docs:write").is_err());
    // The same request again is the first answer, marked as a replay.
    let again = server
        .send(
            Method::POST,
            "/authorization/permissions",
            Some(json!({ "slug": "docs:read", "name": "Read" })),
            &[
                ("authorization", "Bearer sk_test"),
                ("idempotency-key", "retry-body"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    // Another API key is another scope: the request acts (and conflicts with the first).
    let other_key = keyed_as(
        &server,
        "sk_other_tenant",
        "/authorization/permissions",
        "retry-body",
        json!({ "slug": "docs:read", "name": "Read" }),
    )
    .await;
    assert_error(&other_key, StatusCode::CONFLICT, "entity_conflict");
}

#[tokio::test]
async fn a_replay_is_marked_and_only_successes_are_replayed() {
    let (emulator, server) = fresh().await;
    let path = "/authorization/permissions";
    let invalid = keyed(
        &server,
        path,
        "retry-fix",
        json!({ "slug": "Bad Slug", "name": "X" }),
    )
    .await;
    assert_error(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "invalid_slug");
    // The retry with the body fixed acts: a 422 is never kept.
    let body = json!({ "slug": "docs:read", "name": "Read" });
    let fixed = keyed(&server, path, "retry-fix", body.clone()).await;
    assert_eq!(fixed.status, StatusCode::CREATED, "{}", fixed.body);
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth("sk_test")
        .header("idempotency-key", "retry-fix")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(emulator.engine().list_permissions().len(), 1);
    let too_long = keyed(&server, path, &"k".repeat(256), body).await;
    assert_error(
        &too_long,
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_keyed_body_blocks_no_other_keyed_post() {
    let (emulator, server) = fresh().await;
    let organization = emulator
        .engine()
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    let membership = emulator
        .engine()
        .create_membership("user_alice", &organization.id, &[])
        .unwrap();
    // A keyed POST that sends its headers and half its body, then stalls.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = r#"{"slug": "stalled:one", "name": "Stalled"}"#;
    let head = format!(
        "POST /authorization/permissions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer sk_test\r\nIdempotency-Key: stalled-key\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.flush().await.unwrap();

    // Meanwhile other keyed POSTs, the crate client's check among them, are answered at once.
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        for index in 0..5 {
            let check = keyed(
                &server,
                &format!(
                    "/authorization/organization_memberships/{}/check",
                    membership.id
                ),
                &format!("check-{index}"),
                json!({ "permission_slug": "docs:read", "resource_external_id": "org_acme",
                        "resource_type_slug": "organization" }),
            )
            .await;
            assert_eq!(check.status, StatusCode::OK, "{}", check.body);
            assert_eq!(check.body, json!({ "authorized": false }));
            let created = keyed(
                &server,
                "/authorization/permissions",
                &format!("create-{index}"),
                json!({ "slug": format!("other:{index}"), "name": "Other" }),
            )
            .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        }
    })
    .await;
    assert!(answered.is_ok(), "keyed POSTs waited for a stalled body");

    // The stalled request completes once its body arrives.
    stalled.write_all(&body.as_bytes()[10..]).await.unwrap();
    stalled.flush().await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&reply).contains("\"object\"") {
            let count = stalled.read(&mut buffer).await.unwrap();
            if count == 0 {
                break;
            }
            reply.extend_from_slice(&buffer[..count]);
        }
    })
    .await;
    assert!(read.is_ok());
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 201"));
    assert!(emulator.engine().get_permission("stalled:one").is_ok());
}

#[tokio::test]
async fn the_memory_stays_bounded_under_a_stream_of_distinct_keys() {
    let limits = IdempotencyLimits {
        max_entries: 50,
        max_bytes: 32 * 1024,
        ..IdempotencyLimits::default()
    };
    let emulator = Emulator::new(LocalEngine::new()).with_idempotency_limits(limits);
    let server = serve(&emulator).await;
    let path = "/authorization/permissions";
    let mut peak = (0, 0);
    for index in 0..400 {
        let reply = keyed(
            &server,
            path,
            &format!("stream-{index}"),
            json!({ "slug": format!("stream:{index}"), "name": "Streamed",
                    "description": "x".repeat(140) }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let usage = emulator.idempotency_usage();
        assert!(usage.entries <= limits.max_entries, "{usage:?}");
        assert!(usage.bytes <= limits.max_bytes, "{usage:?}");
        peak = (peak.0.max(usage.entries), peak.1.max(usage.bytes));
    }
    eprintln!(
        "idempotency memory under 400 distinct keys: peak {} entries, {} bytes (bounds {} and {})",
        peak.0, peak.1, limits.max_entries, limits.max_bytes
    );
    // The oldest answers were forgotten: the first key acts again (and conflicts), while the
    // newest is still replayed.
    let first = keyed(
        &server,
        path,
        "stream-0",
        json!({ "slug": "stream:0", "name": "Streamed", "description": "x".repeat(140) }),
    )
    .await;
    assert_error(&first, StatusCode::CONFLICT, "entity_conflict");
    let last = keyed(
        &server,
        path,
        "stream-399",
        json!({ "slug": "stream:399", "name": "Streamed", "description": "x".repeat(140) }),
    )
    .await;
    assert_eq!(last.status, StatusCode::CREATED);
}
