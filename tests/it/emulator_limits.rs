//! WorkOS's limits and charsets over real HTTP: each field at its limit passes, one past it gets
//! a WorkOS-shaped 422 naming the field and quoting only a short prefix; bodies over the limit
//! get 413. And the smaller defects of issue 10: `bearer` in lowercase, an environment role
//! read through the organization path, an organization role named with symbols only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::emulator_api::{Reply, Server, assert_error, fresh};

/// A 422 about `field` whose message stays short whatever the value was.
fn assert_field_error(reply: &Reply, field: &str, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{context}: {}",
        reply.body
    );
    assert_eq!(
        reply.body["errors"][0]["field"], field,
        "{context}: {}",
        reply.body
    );
    assert!(reply.body["errors"][0]["code"].is_string(), "{context}");
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.len() < 300, "{context}: a long message: {message}");
}

/// POSTs `base` with `field` set to `at_limit` (must pass) and to `past_limit` (must be a 422
/// about `field`). `base` is a closure so every call gets fresh unique values.
async fn at_and_past(
    server: &Server,
    path: &str,
    field: &str,
    base: impl Fn(u32) -> Value,
    at_limit: String,
    past_limit: String,
) {
    let mut passing = base(1);
    passing[field] = Value::String(at_limit.clone());
    let reply = server.post(path, passing).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{path} {field} at its limit ({} characters): {}",
        at_limit.chars().count(),
        reply.body
    );
    let mut failing = base(2);
    failing[field] = Value::String(past_limit.clone());
    let reply = server.post(path, failing).await;
    assert_field_error(&reply, field, &format!("{path} {field} past its limit"));
}

fn repeat(c: char, count: usize) -> String {
    std::iter::repeat_n(c, count).collect()
}

#[tokio::test]
async fn every_field_passes_at_its_limit_and_is_refused_one_past_it() {
    let (emulator, server) = fresh().await;
    let permissions = "/authorization/permissions";
    let permission = |n: u32| json!({ "slug": format!("p{n}:read"), "name": "Read" });
    at_and_past(
        &server,
        permissions,
        "slug",
        permission,
        repeat('a', 48),
        repeat('b', 49),
    )
    .await;
    at_and_past(
        &server,
        permissions,
        "name",
        permission,
        repeat('n', 48),
        repeat('n', 49),
    )
    .await;
    let permission = |n: u32| json!({ "slug": format!("q{n}:read"), "name": "Read" });
    at_and_past(
        &server,
        permissions,
        "description",
        permission,
        repeat('d', 150),
        repeat('d', 151),
    )
    .await;
    let permission = |n: u32| json!({ "slug": format!("r{n}:read"), "name": "Read" });
    at_and_past(
        &server,
        permissions,
        "resource_type_slug",
        permission,
        repeat('t', 48),
        repeat('t', 49),
    )
    .await;

    let roles = "/authorization/roles";
    let role = |n: u32| json!({ "slug": format!("role-{n}"), "name": "Role" });
    at_and_past(
        &server,
        roles,
        "slug",
        role,
        repeat('s', 48),
        repeat('z', 49),
    )
    .await;
    let role = |n: u32| json!({ "slug": format!("named-{n}"), "name": "Role" });
    at_and_past(
        &server,
        roles,
        "name",
        role,
        repeat('é', 48),
        repeat('é', 49),
    )
    .await;
    let role = |n: u32| json!({ "slug": format!("described-{n}"), "name": "Role" });
    at_and_past(
        &server,
        roles,
        "description",
        role,
        repeat('d', 150),
        repeat('d', 151),
    )
    .await;

    let organization = emulator
        .engine()
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    let organization_roles = format!("/authorization/organizations/{}/roles", organization.id);
    let role = |n: u32| json!({ "slug": format!("org-r{n}"), "name": "Role" });
    at_and_past(
        &server,
        &organization_roles,
        "slug",
        role,
        repeat('o', 48),
        repeat('o', 49),
    )
    .await;

    let resources = "/authorization/resources";
    let resource = |n: u32| {
        json!({ "organization_id": "org_acme", "resource_type_slug": "project",
                "external_id": format!("proj-{n}"), "name": "Project" })
    };
    at_and_past(
        &server,
        resources,
        "external_id",
        resource,
        repeat('x', 128),
        repeat('x', 129),
    )
    .await;
    let resource = |n: u32| {
        json!({ "organization_id": "org_acme", "resource_type_slug": "project",
                "external_id": format!("named-{n}"), "name": "Project" })
    };
    at_and_past(
        &server,
        resources,
        "name",
        resource,
        repeat('n', 48),
        repeat('n', 49),
    )
    .await;
    let resource = |n: u32| {
        json!({ "organization_id": "org_acme", "resource_type_slug": "project",
                "external_id": format!("described-{n}"), "name": "Project" })
    };
    at_and_past(
        &server,
        resources,
        "description",
        resource,
        repeat('d', 150),
        repeat('d', 151),
    )
    .await;
    let resource = |n: u32| {
        json!({ "organization_id": "org_acme", "resource_type_slug": "project",
                "external_id": format!("typed-{n}"), "name": "Project" })
    };
    at_and_past(
        &server,
        resources,
        "resource_type_slug",
        resource,
        repeat('k', 48),
        repeat('k', 49),
    )
    .await;

    let organization = |_: u32| json!({ "name": "Org" });
    at_and_past(
        &server,
        "/organizations",
        "name",
        organization,
        repeat('o', 255),
        repeat('o', 256),
    )
    .await;
    let membership =
        |n: u32| json!({ "organization_id": "org_acme", "user_id": format!("user_{n}") });
    at_and_past(
        &server,
        "/user_management/organization_memberships",
        "user_id",
        membership,
        format!("user_{}", repeat('u', 123)),
        format!("user_{}", repeat('u', 124)),
    )
    .await;

    // Updates are held to the same limits.
    let reply = server
        .call(
            Method::PATCH,
            "/authorization/permissions/p1:read",
            Some(json!({ "name": repeat('n', 49) })),
        )
        .await;
    assert_field_error(&reply, "name", "PATCH name");
    let reply = server
        .call(
            Method::PATCH,
            "/authorization/permissions/p1:read",
            Some(json!({ "description": repeat('d', 151) })),
        )
        .await;
    assert_field_error(&reply, "description", "PATCH description");
}

#[tokio::test]
async fn charsets_are_workos_s_and_a_refusal_quotes_a_short_prefix() {
    let (emulator, server) = fresh().await;
    emulator
        .engine()
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    let resource = |external_id: &str, resource_type: &str| {
        json!({ "organization_id": "org_acme", "resource_type_slug": resource_type,
                "external_id": external_id, "name": "Project" })
    };
    for (external_id, resource_type, field) in [
        ("proj\u{1}one", "project", "external_id"),
        ("proj\none", "project", "external_id"),
        ("..", "project", "external_id"),
        ("projét", "project", "external_id"),
        ("proj-1", "Project", "resource_type_slug"),
        ("proj-1", "pro ject", "resource_type_slug"),
        ("proj-1", "", "resource_type_slug"),
    ] {
        let reply = server
            .post(
                "/authorization/resources",
                resource(external_id, resource_type),
            )
            .await;
        assert_field_error(&reply, field, &format!("{external_id:?} {resource_type:?}"));
    }
    // A name with a control character cannot be created either.
    let reply = server
        .post(
            "/authorization/permissions",
            json!({ "slug": "a:b", "name": "bad\u{7}name" }),
        )
        .await;
    assert_field_error(&reply, "name", "control character in a name");

    // 200 KB of slug: refused, and the message repeats a prefix, never the value.
    let huge = repeat('a', 200_000);
    let reply = server
        .post(
            "/authorization/permissions",
            json!({ "slug": huge, "name": "A" }),
        )
        .await;
    assert_field_error(&reply, "slug", "a 200 KB slug");
    let reply = server
        .post(
            "/authorization/roles/member/permissions",
            json!({ "slug": repeat('b', 200_000) }),
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.body);
    assert!(reply.body.to_string().len() < 400, "{}", reply.body);
    assert!(emulator.engine().list_permissions().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let (_emulator, server) = fresh().await;
    let big = json!({ "slug": "a:b", "name": repeat('n', 300 * 1024) });
    for headers in [
        vec![("authorization", "Bearer sk_test")],
        vec![
            ("authorization", "Bearer sk_test"),
            ("idempotency-key", "big-1"),
        ],
    ] {
        let reply = server
            .send(
                Method::POST,
                "/authorization/permissions",
                Some(big.clone()),
                &headers,
            )
            .await;
        assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "request_too_large");
    }
    // Just under the limit is read (and then refused for its content, not its size).
    let reply = server
        .post(
            "/authorization/permissions",
            json!({ "slug": "a:b", "name": repeat('n', 200 * 1024) }),
        )
        .await;
    assert_field_error(&reply, "name", "a 200 KB name");
}

#[tokio::test]
async fn the_smaller_defects_of_issue_10_stay_fixed() {
    let (emulator, server) = fresh().await;
    // `bearer` in lowercase is the same scheme.
    let reply = server
        .send(
            Method::GET,
            "/authorization/roles",
            None,
            &[("authorization", "bearer sk_test")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // getOrganizationRole(org, 'member'): an environment role through the organization path.
    let organization = emulator.engine().create_organization("Acme").unwrap();
    let member = server
        .get(&format!(
            "/authorization/organizations/{}/roles/member",
            organization.id
        ))
        .await;
    assert_eq!(member["slug"], "member");
    assert_eq!(member["type"], "EnvironmentRole");
    let missing = server
        .call(
            Method::GET,
            &format!(
                "/authorization/organizations/{}/roles/nobody",
                organization.id
            ),
            None,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "entity_not_found");

    // A name of symbols only still gives a usable slug, not a bare `org-`.
    let roles = format!("/authorization/organizations/{}/roles", organization.id);
    let first = server.create(&roles, json!({ "name": "!!!" })).await;
    let second = server.create(&roles, json!({ "name": "%%%" })).await;
    for role in [&first, &second] {
        let slug = role["slug"].as_str().unwrap();
        assert!(
            slug.starts_with("org-") && slug.len() > "org-".len(),
            "{slug}"
        );
        assert!(workos_authz::guard::is_valid_role_slug(slug), "{slug}");
    }
    assert_ne!(first["slug"], second["slug"]);
    // A long name is cut to the slug limit.
    let long = server
        .create(
            &roles,
            json!({ "name": "Abcdefghij Abcdefghij Abcdefghij Abcdefghij Abcd" }),
        )
        .await;
    assert!(long["slug"].as_str().unwrap().len() <= 48);
}
