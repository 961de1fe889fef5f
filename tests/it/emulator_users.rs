//! AuthKit's users in the emulator: `POST/GET /user_management/users` and `GET .../{id}` over
//! HTTP (WorkOS's shapes, paging, filters, errors), memberships of real users next to those of
//! bare user ids, users in policy files, and the crate's client (`create_user`, `get_user`,
//! `list_users`, `stream_users`) against it.

use std::collections::HashSet;

use serde_json::{Value, json};
use workos_authz::emulator::Emulator;
use workos_authz::local::{EngineError, LocalEngine, NewUser, Policy};
use workos_authz::workos::{
    CreateOrganizationMembership, CreateUser, ErrorKind, ListUsers, Order, Pagination, WorkOsClient,
};

use crate::common::*;

const API_KEY: &str = "sk_test_users";

async fn start() -> (String, LocalEngine) {
    let engine = LocalEngine::new();
    engine
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    engine
        .create_organization_with_id("org_globex", "Globex")
        .unwrap();
    let emulator = Emulator::new(engine.clone()).with_api_key(API_KEY).unwrap();
    (format!("http://{}", serve(emulator.router()).await), engine)
}

async fn call(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = client()
        .request(method, format!("{base}{path}"))
        .bearer_auth(API_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

#[tokio::test]
async fn users_are_created_read_and_listed_with_workos_shapes_paging_and_filters() {
    let (base, _) = start().await;
    let reply = call(
        &base,
        reqwest::Method::POST,
        "/user_management/users",
        Some(
            json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                    "email_verified": true, "password": "ignored-password"}),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let ada = reply.json();
    assert_eq!(ada["object"], "user");
    assert!(ada["id"].as_str().unwrap().starts_with("user_"));
    assert_eq!(
        (
            &ada["email"],
            &ada["first_name"],
            &ada["last_name"],
            &ada["email_verified"]
        ),
        (
            &json!("ada@example.com"),
            &json!("Ada"),
            &json!("Lovelace"),
            &json!(true)
        )
    );
    assert_eq!(ada["profile_picture_url"], Value::Null);
    assert!(ada["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!reply.body.contains("ignored-password"));
    let plain = call(
        &base,
        reqwest::Method::POST,
        "/user_management/users",
        Some(json!({"email": "grace@example.com"})),
    )
    .await
    .json();
    assert_eq!(plain["email_verified"], false, "not verified by default");
    assert_eq!(plain["first_name"], Value::Null);

    let id = ada["id"].as_str().unwrap();
    let reply = call(
        &base,
        reqwest::Method::GET,
        &format!("/user_management/users/{id}"),
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), ada);
    let reply = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users/user_nobody",
        None,
    )
    .await;
    assert_eq!(reply.status, 404, "{reply:?}");

    // Refusals: a taken address (in any case), a malformed one, none, no key.
    for (body, status, field) in [
        (json!({"email": "ADA@example.com"}), 409, None),
        (json!({"email": "not an email"}), 422, Some("email")),
        (json!({"email": "two@@example.com"}), 422, Some("email")),
        (json!({"first_name": "Nobody"}), 422, Some("email")),
        (
            json!({"email": "x@example.com", "first_name": "a\u{0}b"}),
            422,
            Some("first_name"),
        ),
    ] {
        let reply = call(
            &base,
            reqwest::Method::POST,
            "/user_management/users",
            Some(body.clone()),
        )
        .await;
        assert_eq!(reply.status, status, "{body}: {reply:?}");
        if let Some(field) = field {
            assert_eq!(reply.json()["errors"][0]["field"], field, "{body}");
        }
    }
    let reply = send(client().get(format!("{base}/user_management/users"))).await;
    assert_eq!(reply.status, 401);

    // Paging over 25 users, both orders, both cursors.
    for index in 0..23 {
        call(
            &base,
            reqwest::Method::POST,
            "/user_management/users",
            Some(json!({"email": format!("user{index}@example.com")})),
        )
        .await;
    }
    let page = call(&base, reqwest::Method::GET, "/user_management/users", None)
        .await
        .json();
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"].as_array().unwrap().len(), 10, "10 by default");
    assert_eq!(
        page["data"][0]["email"], "user22@example.com",
        "newest first"
    );
    assert_eq!(page["list_metadata"]["before"], Value::Null);
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/user_management/users?limit=7&order=asc".to_owned(),
            Some(cursor) => format!("/user_management/users?limit=7&order=asc&after={cursor}"),
        };
        let page = call(&base, reqwest::Method::GET, &path, None).await.json();
        for user in page["data"].as_array().unwrap() {
            assert!(seen.insert(user["id"].as_str().unwrap().to_owned()));
        }
        match page["list_metadata"]["after"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let before = call(
        &base,
        reqwest::Method::GET,
        &format!(
            "/user_management/users?order=asc&limit=2&before={}",
            plain["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .json();
    assert_eq!(
        before["data"][0]["id"], ada["id"],
        "the page before grace is ada"
    );
    let reply = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users?limit=101",
        None,
    )
    .await;
    assert_eq!(reply.status, 422);

    // Filters: email (any case), organization.
    let page = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users?email=GRACE%40example.com",
        None,
    )
    .await
    .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], plain["id"]);
    call(
        &base,
        reqwest::Method::POST,
        "/user_management/organization_memberships",
        Some(json!({"user_id": id, "organization_id": "org_globex"})),
    )
    .await;
    let page = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users?organization_id=org_globex",
        None,
    )
    .await
    .json();
    let ids: Vec<&Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["id"])
        .collect();
    assert_eq!(ids, [&ada["id"]]);
    let page = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users?organization_id=org_acme",
        None,
    )
    .await
    .json();
    assert!(page["data"].as_array().unwrap().is_empty());
}

/// A membership may name a real user or a bare id, as before users existed; only real users
/// are listed and can sign in.
#[tokio::test]
async fn memberships_name_real_users_or_bare_ids() {
    let (base, engine) = start().await;
    let user = engine
        .create_user(NewUser::new("real@example.com"))
        .unwrap();
    for user_id in [user.id.as_str(), "user_not_a_user"] {
        let reply = call(
            &base,
            reqwest::Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": user_id, "organization_id": "org_acme"})),
        )
        .await;
        assert_eq!(reply.status, 201, "{user_id}: {reply:?}");
        assert_eq!(reply.json()["user_id"], user_id);
    }
    let page = call(
        &base,
        reqwest::Method::GET,
        "/user_management/users?organization_id=org_acme",
        None,
    )
    .await
    .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let pkce = pkce();
    let query = authorize_query("client_x", "http://127.0.0.1:9/cb", &pkce.challenge, "s");
    let page = send(browser().get(format!("{base}/user_management/authorize?{query}"))).await;
    assert!(page.body.contains(&format!("data-user-id=\"{}\"", user.id)));
    assert!(!page.body.contains("user_not_a_user"));
}

#[test]
fn users_are_engine_rows_with_chosen_ids_unique_emails_and_policy_entries() {
    let engine = LocalEngine::new();
    let alice = engine
        .create_user_with_id(
            "user_alice",
            NewUser::new("Alice@Example.com").first_name("Alice"),
        )
        .unwrap();
    assert_eq!(alice.id, "user_alice");
    assert_eq!(
        engine.find_user_by_email("alice@example.COM"),
        Some(alice.clone())
    );
    assert!(matches!(
        engine.create_user(NewUser::new("ALICE@example.com")),
        Err(EngineError::Conflict { .. })
    ));
    assert!(matches!(
        engine.create_user_with_id("user_alice", NewUser::new("other@example.com")),
        Err(EngineError::Conflict { .. })
    ));
    assert!(matches!(
        engine.create_user_with_id("usr_bad", NewUser::new("bad@example.com")),
        Err(EngineError::Validation { .. })
    ));
    assert!(matches!(
        engine.create_user(NewUser::new("a@b").first_name("x".repeat(256))),
        Err(EngineError::Validation { .. })
    ));
    engine.create_user(NewUser::new("bob@example.com")).unwrap();

    // A dump carries the users; loading it gives them back, ids and times included.
    let policy = engine.dump_policy();
    assert_eq!(policy.users.len(), 2);
    let reloaded =
        LocalEngine::from_policy(&Policy::from_toml(&policy.to_toml().unwrap()).unwrap()).unwrap();
    assert_eq!(reloaded.list_users(), engine.list_users());
    // A file with two users of one address names the entry.
    let error = LocalEngine::from_policy_json(
        r#"{"users": [{"email": "x@example.com"}, {"email": "X@example.com"}]}"#,
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("users[1]"), "{error}");
    // A policy without users dumps without the section.
    assert!(!LocalEngine::new().dump_policy().to_json().contains("users"));
}

#[tokio::test]
async fn the_client_creates_reads_and_lists_users_against_the_emulator() {
    let (base, _) = start().await;
    let client = WorkOsClient::builder(API_KEY)
        .base_url(&base)
        .build()
        .unwrap();
    let ada = client
        .create_user(
            &CreateUser::new("ada@example.com")
                .first_name("Ada")
                .last_name("Lovelace")
                .email_verified(true)
                .password("correct horse battery staple"),
        )
        .await
        .unwrap();
    assert!(ada.id.starts_with("user_"));
    assert_eq!(ada.first_name.as_deref(), Some("Ada"));
    assert!(ada.email_verified);
    assert!(ada.created_at.is_some());
    assert_eq!(client.get_user(&ada.id).await.unwrap(), ada);
    let error = client.get_user("user_missing").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    let error = client
        .create_user(&CreateUser::new("ADA@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(409));

    for index in 0..12 {
        client
            .create_user(&CreateUser::new(format!("u{index}@example.com")))
            .await
            .unwrap();
    }
    let page = client
        .list_users(&ListUsers {
            pagination: Pagination {
                limit: Some(5),
                order: Some(Order::Asc),
                ..Pagination::default()
            },
            ..ListUsers::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 5);
    assert_eq!(page.data[0], ada);
    assert!(page.list_metadata.after.is_some());
    let everyone = client
        .stream_users(&ListUsers::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everyone.len(), 13);
    let by_email = client
        .list_users(&ListUsers {
            email: Some("u3@example.com".into()),
            ..ListUsers::default()
        })
        .await
        .unwrap();
    assert_eq!(by_email.data.len(), 1);
    client
        .create_organization_membership(&CreateOrganizationMembership::new("org_acme", &ada.id))
        .await
        .unwrap();
    let members = client
        .list_users(&ListUsers {
            organization_id: Some("org_acme".into()),
            ..ListUsers::default()
        })
        .await
        .unwrap();
    assert_eq!(members.data, [ada]);
}
