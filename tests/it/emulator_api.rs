//! The emulator over real HTTP on loopback: every endpoint, pagination walks, errors,
//! idempotency, session tokens against the JWKS, and a restart from the state file.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workos_authz::emulator::Emulator;
use workos_authz::local::LocalEngine;
use workos_authz::session::SessionClaims;

pub(crate) struct Server {
    pub(crate) base: String,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) body: Value,
}

pub(crate) async fn serve(emulator: &Emulator) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = emulator.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        task,
    }
}

impl Server {
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (content_type, request_id) = (header("content-type"), header("x-request-id"));
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        assert!(request_id.is_some(), "X-Request-ID on every response");
        if !text.is_empty() {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{path}");
        }
        Reply {
            status,
            content_type,
            request_id,
            body,
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(
            method,
            path,
            body,
            &[("authorization", "Bearer sk_test_123")],
        )
        .await
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let reply = self.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
        reply.body
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn create(&self, path: &str, body: Value) -> Value {
        let reply = self.post(path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "POST {path}: {}",
            reply.body
        );
        reply.body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn fresh() -> (Emulator, Server) {
    let emulator = Emulator::new(LocalEngine::new());
    let server = serve(&emulator).await;
    (emulator, server)
}

pub(crate) fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    // `errors` only names faulty fields: absent, or a non-empty list.
    let errors = &reply.body["errors"];
    assert!(
        errors.is_null() || errors.as_array().is_some_and(|e| !e.is_empty()),
        "{}",
        reply.body
    );
}

/// Permissions `docs:read`, `docs:write`; roles `viewer` (read), `editor` (read, write);
/// organization `org` with a workspace > project tree and a member `om`.
async fn seed(server: &Server) -> (String, String, String, String) {
    for slug in ["docs:read", "docs:write"] {
        server
            .create(
                "/authorization/permissions",
                json!({ "slug": slug, "name": slug }),
            )
            .await;
    }
    for (slug, permissions) in [
        ("viewer", json!(["docs:read"])),
        ("editor", json!(["docs:read", "docs:write"])),
    ] {
        server
            .create(
                "/authorization/roles",
                json!({ "slug": slug, "name": slug }),
            )
            .await;
        let reply = server
            .call(
                Method::PUT,
                &format!("/authorization/roles/{slug}/permissions"),
                Some(json!({ "permissions": permissions })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let organization = server
        .create("/organizations", json!({ "name": "Acme" }))
        .await;
    let org = organization["id"].as_str().unwrap().to_owned();
    let workspace = server
        .create(
            "/authorization/resources",
            json!({ "organization_id": org, "resource_type_slug": "workspace",
                    "external_id": "ws_1", "name": "Workspace" }),
        )
        .await;
    let project = server
        .create(
            "/authorization/resources",
            json!({ "organization_id": org, "resource_type_slug": "project",
                    "external_id": "proj_1", "name": "Project",
                    "parent_resource_type_slug": "workspace", "parent_resource_external_id": "ws_1" }),
        )
        .await;
    assert_eq!(project["parent_resource_id"], workspace["id"]);
    let membership = server
        .create(
            "/user_management/organization_memberships",
            json!({ "organization_id": org, "user_id": "user_alice" }),
        )
        .await;
    (
        org,
        workspace["id"].as_str().unwrap().to_owned(),
        project["id"].as_str().unwrap().to_owned(),
        membership["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_route_but_the_jwks_requires_a_secret_key() {
    let (_emulator, server) = fresh().await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer pk_public")],
        vec![("authorization", "Basic sk_test")],
    ] {
        let reply = server
            .send(Method::GET, "/authorization/roles", None, &headers)
            .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let unknown = server.send(Method::GET, "/nowhere", None, &[]).await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "unauthorized");
    let jwks = server
        .send(Method::GET, "/sso/jwks/client_123", None, &[])
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(jwks.body["keys"][0]["alg"], "RS256");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let (_emulator, server) = fresh().await;
    let reply = server.call(Method::GET, "/nowhere", None).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    let reply = server
        .call(Method::PUT, "/authorization/permissions", None)
        .await;
    assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let reply = server
        .send(
            Method::POST,
            "/authorization/permissions",
            None,
            &[("authorization", "Bearer sk_x")],
        )
        .await;
    assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "required");
    assert_eq!(reply.body["errors"][0]["field"], "slug");
}

/// The Node SDK (`createPermission` and every other call) turns a 422 that carries `errors`
/// into the message "The following requirements must be met:" followed by the codes: an empty
/// `errors` list left no explanation at all. Only field errors carry the list.
#[tokio::test]
async fn a_422_without_field_errors_carries_no_errors_list_so_the_sdk_keeps_its_message() {
    let (_emulator, server) = fresh().await;
    let malformed = server
        .post(
            "/authorization/permissions",
            json!({ "slug": 42, "name": "bad" }),
        )
        .await;
    assert_error(
        &malformed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request_parameters",
    );
    assert!(malformed.body.get("errors").is_none(), "{}", malformed.body);
    assert!(
        malformed.body["message"]
            .as_str()
            .unwrap()
            .contains("expected a string"),
        "{}",
        malformed.body
    );
    let missing = server
        .call(Method::GET, "/authorization/permissions/nothing", None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "entity_not_found");
    assert!(missing.body.get("errors").is_none(), "{}", missing.body);
    let field = server
        .post(
            "/authorization/permissions",
            json!({ "slug": "no spaces", "name": "bad" }),
        )
        .await;
    assert_error(&field, StatusCode::UNPROCESSABLE_ENTITY, "invalid_slug");
    assert_eq!(
        field.body["errors"],
        json!([{ "field": "slug", "code": "invalid_slug" }])
    );
}

#[tokio::test]
async fn environment_roles_are_created_without_permissions_then_given_them() {
    let (_emulator, server) = fresh().await;
    server
        .create(
            "/authorization/permissions",
            json!({ "slug": "posts:read", "name": "Read" }),
        )
        .await;
    server
        .create(
            "/authorization/permissions",
            json!({ "slug": "posts:write", "name": "Write" }),
        )
        .await;
    let role = server
        .create(
            "/authorization/roles",
            json!({ "slug": "editor", "name": "Editor", "description": "Edits",
                    "resource_type_slug": "project" }),
        )
        .await;
    assert_eq!(role["object"], "role");
    assert_eq!(role["type"], "EnvironmentRole");
    assert_eq!(role["resource_type_slug"], "project");
    assert_eq!(role["permissions"], json!([]));
    assert!(role["id"].as_str().unwrap().starts_with("role_"));
    let set = server
        .call(
            Method::PUT,
            "/authorization/roles/editor/permissions",
            Some(json!({ "permissions": ["posts:read"] })),
        )
        .await;
    assert_eq!(set.body["permissions"], json!(["posts:read"]));
    let added = server
        .post(
            "/authorization/roles/editor/permissions",
            json!({ "slug": "posts:write" }),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    assert_eq!(
        added.body["permissions"],
        json!(["posts:read", "posts:write"])
    );
    let patched = server
        .call(
            Method::PATCH,
            "/authorization/roles/editor",
            Some(json!({ "name": "Chief Editor" })),
        )
        .await;
    assert_eq!(patched.body["name"], "Chief Editor");
    assert_eq!(patched.body["slug"], "editor");
    assert_eq!(
        server.get("/authorization/roles/editor").await["name"],
        "Chief Editor"
    );
    let list = server.get("/authorization/roles").await;
    assert_eq!(list["object"], "list");
    let slugs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["member", "editor"]);
    assert!(list.get("list_metadata").is_none());

    let conflict = server
        .post(
            "/authorization/roles",
            json!({ "slug": "editor", "name": "Again" }),
        )
        .await;
    assert_error(&conflict, StatusCode::CONFLICT, "entity_conflict");
    let invalid = server
        .post(
            "/authorization/roles",
            json!({ "slug": "Bad Slug", "name": "Bad" }),
        )
        .await;
    assert_error(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "invalid_slug");
    assert_eq!(
        invalid.body["errors"][0],
        json!({ "field": "slug", "code": "invalid_slug" })
    );
    let missing = server
        .call(Method::GET, "/authorization/roles/ghost", None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "entity_not_found");
    let default_role = server
        .call(Method::DELETE, "/authorization/roles/member", None)
        .await;
    assert_error(
        &default_role,
        StatusCode::UNPROCESSABLE_ENTITY,
        "default_role_cannot_be_deleted",
    );
    let deleted = server
        .call(Method::DELETE, "/authorization/roles/editor", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
}

/// The Node SDK's update calls (`updatePermission`, `updateEnvironmentRole`,
/// `updateOrganizationRole`, `updateResource`, `updateResourceByExternalId`) take
/// `description: string | null`; `null` removes the description, which the emulator ignored.
#[tokio::test]
async fn a_null_description_in_an_update_removes_it_and_an_absent_one_keeps_it() {
    let (_emulator, server) = fresh().await;
    let (org, _, project, _) = seed(&server).await;
    server
        .create(
            &format!("/authorization/organizations/{org}/roles"),
            json!({ "slug": "org-auditor", "name": "Auditor" }),
        )
        .await;
    for path in [
        "/authorization/permissions/docs:read".to_owned(),
        "/authorization/roles/viewer".to_owned(),
        format!("/authorization/organizations/{org}/roles/org-auditor"),
        format!("/authorization/resources/{project}"),
        format!("/authorization/organizations/{org}/resources/project/proj_1"),
    ] {
        let set = server
            .call(
                Method::PATCH,
                &path,
                Some(json!({ "description": "something" })),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{path}: {}", set.body);
        assert_eq!(set.body["description"], "something", "{path}");
        let renamed = server
            .call(Method::PATCH, &path, Some(json!({ "name": "Renamed" })))
            .await;
        assert_eq!(renamed.body["description"], "something", "{path}: kept");
        let cleared = server
            .call(
                Method::PATCH,
                &path,
                Some(json!({ "name": "Renamed again", "description": null })),
            )
            .await;
        assert_eq!(cleared.status, StatusCode::OK, "{path}: {}", cleared.body);
        assert_eq!(cleared.body["description"], Value::Null, "{path}: removed");
        assert_eq!(cleared.body["name"], "Renamed again", "{path}");
        assert_eq!(
            server.get(&path).await["description"],
            Value::Null,
            "{path}"
        );
    }
}

#[tokio::test]
async fn organizations_and_organization_roles() {
    let (_emulator, server) = fresh().await;
    server
        .create(
            "/authorization/permissions",
            json!({ "slug": "billing:manage", "name": "Billing" }),
        )
        .await;
    let organization = server
        .create("/organizations", json!({ "name": "Acme" }))
        .await;
    assert_eq!(organization["object"], "organization");
    assert_eq!(organization["domains"], json!([]));
    let org = organization["id"].as_str().unwrap();
    assert!(org.starts_with("org_"));
    assert_eq!(
        server.get(&format!("/organizations/{org}")).await["name"],
        "Acme"
    );
    let missing = server
        .call(Method::GET, "/organizations/org_ghost", None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "entity_not_found");

    let roles = format!("/authorization/organizations/{org}/roles");
    let role = server
        .create(&roles, json!({ "name": "Billing Clerk" }))
        .await;
    assert_eq!(role["slug"], "org-billing-clerk");
    assert_eq!(role["type"], "OrganizationRole");
    let one = format!("{roles}/org-billing-clerk");
    let set = server
        .call(
            Method::PUT,
            &format!("{one}/permissions"),
            Some(json!({ "permissions": [] })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    let added = server
        .post(
            &format!("{one}/permissions"),
            json!({ "slug": "billing:manage" }),
        )
        .await;
    assert_eq!(added.body["permissions"], json!(["billing:manage"]));
    let removed = server
        .call(
            Method::DELETE,
            &format!("{one}/permissions/billing:manage"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get(&one).await["permissions"], json!([]));
    let patched = server
        .call(
            Method::PATCH,
            &one,
            Some(json!({ "description": "Invoices" })),
        )
        .await;
    assert_eq!(patched.body["description"], "Invoices");
    let list = server.get(&roles).await;
    let slugs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["member", "org-billing-clerk"]);
    assert_eq!(
        server.call(Method::DELETE, &one, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &server.call(Method::GET, &one, None).await,
        StatusCode::NOT_FOUND,
        "entity_not_found",
    );
}

#[tokio::test]
async fn permission_slugs_with_colons_work_raw_and_percent_encoded_in_paths() {
    let (_emulator, server) = fresh().await;
    let permission = server
        .create(
            "/authorization/permissions",
            json!({ "slug": "docs:read", "name": "Read", "resource_type_slug": "document" }),
        )
        .await;
    assert_eq!(permission["object"], "permission");
    assert_eq!(permission["system"], false);
    assert_eq!(
        server.get("/authorization/permissions/docs:read").await["id"],
        permission["id"]
    );
    assert_eq!(
        server.get("/authorization/permissions/docs%3Aread").await["id"],
        permission["id"]
    );
    let patched = server
        .call(
            Method::PATCH,
            "/authorization/permissions/docs%3Aread",
            Some(json!({ "name": "Read docs" })),
        )
        .await;
    assert_eq!(patched.body["name"], "Read docs");
    let filtered = server
        .get("/authorization/permissions?resource_type_slug=document")
        .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        server
            .call(Method::DELETE, "/authorization/permissions/docs:read", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &server
            .call(Method::GET, "/authorization/permissions/docs:read", None)
            .await,
        StatusCode::NOT_FOUND,
        "entity_not_found",
    );
}

#[tokio::test]
async fn resources_by_id_and_by_external_id() {
    let (_emulator, server) = fresh().await;
    let (org, workspace, project, _) = seed(&server).await;
    let resource = server
        .get(&format!("/authorization/resources/{project}"))
        .await;
    assert_eq!(resource["object"], "authorization_resource");
    assert_eq!(resource["organization_id"], org.as_str());
    let by_external = format!("/authorization/organizations/{org}/resources/project/proj_1");
    assert_eq!(server.get(&by_external).await["id"], project.as_str());
    let patched = server
        .call(
            Method::PATCH,
            &by_external,
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(patched.body["name"], "Renamed");
    let patched = server
        .call(
            Method::PATCH,
            &format!("/authorization/resources/{project}"),
            Some(json!({ "description": "About" })),
        )
        .await;
    assert_eq!(patched.body["description"], "About");
    assert_eq!(patched.body["name"], "Renamed");

    let children = server
        .get(&format!(
            "/authorization/resources?parent_resource_id={workspace}"
        ))
        .await;
    assert_eq!(children["data"][0]["id"], project.as_str());
    let children = server
        .get(&format!(
            "/authorization/resources?organization_id={org}&parent_resource_type_slug=workspace&parent_external_id=ws_1"
        ))
        .await;
    assert_eq!(children["data"].as_array().unwrap().len(), 1);
    let projects = server
        .get(&format!(
            "/authorization/resources?organization_id={org}&resource_type_slug=project"
        ))
        .await;
    assert_eq!(projects["data"].as_array().unwrap().len(), 1);

    let duplicate = server
        .post(
            "/authorization/resources",
            json!({ "organization_id": org, "resource_type_slug": "project",
                    "external_id": "proj_1", "name": "Again" }),
        )
        .await;
    assert_error(&duplicate, StatusCode::CONFLICT, "entity_conflict");
    let missing_field = server
        .post(
            "/authorization/resources",
            json!({ "organization_id": org, "resource_type_slug": "project", "name": "X" }),
        )
        .await;
    assert_error(&missing_field, StatusCode::UNPROCESSABLE_ENTITY, "required");
    assert_eq!(missing_field.body["errors"][0]["field"], "external_id");

    let refused = server
        .call(
            Method::DELETE,
            &format!("/authorization/resources/{workspace}"),
            None,
        )
        .await;
    assert_error(&refused, StatusCode::CONFLICT, "entity_conflict");
    let cascaded = server
        .call(
            Method::DELETE,
            &format!(
                "/authorization/organizations/{org}/resources/workspace/ws_1?cascade_delete=true"
            ),
            None,
        )
        .await;
    assert_eq!(cascaded.status, StatusCode::NO_CONTENT);
    assert_error(
        &server.call(Method::GET, &by_external, None).await,
        StatusCode::NOT_FOUND,
        "entity_not_found",
    );
}

/// The Node SDK's `userManagement.createOrganizationMembership` (and every call that returns
/// memberships) reads `organization_name` into `organizationName`, a required field of its type.
#[tokio::test]
async fn memberships_carry_their_organization_name_everywhere() {
    let (_emulator, server) = fresh().await;
    let (org, workspace, _, alice) = seed(&server).await;
    let created = server
        .create(
            "/user_management/organization_memberships",
            json!({ "organization_id": org, "user_id": "user_bob", "role_slug": "viewer" }),
        )
        .await;
    assert_eq!(created["organization_name"], "Acme");
    let fetched = server
        .get(&format!(
            "/user_management/organization_memberships/{alice}"
        ))
        .await;
    assert_eq!(fetched["organization_name"], "Acme");
    let listed = server
        .get(&format!(
            "/user_management/organization_memberships?organization_id={org}"
        ))
        .await;
    for membership in listed["data"].as_array().unwrap() {
        assert_eq!(membership["organization_name"], "Acme", "{membership}");
    }
    let readers = server
        .get(&format!(
            "/authorization/resources/{workspace}/organization_memberships?permission_slug=docs:read"
        ))
        .await;
    assert_eq!(readers["data"][0]["organization_name"], "Acme", "{readers}");
    let deactivated = server
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{alice}/deactivate"),
            None,
        )
        .await;
    assert_eq!(deactivated.body["organization_name"], "Acme");
}

/// The Node SDK's `userManagement.deleteOrganizationMembership` is a DELETE on the
/// membership, which the emulator answered with 405.
#[tokio::test]
async fn an_organization_membership_is_deleted_with_its_assignments() {
    let (_emulator, server) = fresh().await;
    let (_org, workspace, project, alice) = seed(&server).await;
    server
        .create(
            &format!("/authorization/organization_memberships/{alice}/role_assignments"),
            json!({ "role_slug": "editor", "resource_id": workspace }),
        )
        .await;
    let path = format!("/user_management/organization_memberships/{alice}");
    let deleted = server.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_error(
        &server.call(Method::GET, &path, None).await,
        StatusCode::NOT_FOUND,
        "entity_not_found",
    );
    let check = server
        .post(
            &format!("/authorization/organization_memberships/{alice}/check"),
            json!({ "permission_slug": "docs:read", "resource_id": project }),
        )
        .await;
    assert_error(&check, StatusCode::NOT_FOUND, "entity_not_found");
    let readers = server
        .get(&format!(
            "/authorization/resources/{project}/organization_memberships?permission_slug=docs:read"
        ))
        .await;
    assert_eq!(readers["data"], json!([]));
    assert_error(
        &server.call(Method::DELETE, &path, None).await,
        StatusCode::NOT_FOUND,
        "entity_not_found",
    );
}

/// WorkOS lists only active memberships unless `statuses` says otherwise; the Node SDK's
/// `userManagement.listOrganizationMemberships` sends no `statuses` unless given some, and
/// the emulator returned inactive memberships too.
#[tokio::test]
async fn memberships_are_listed_active_only_unless_statuses_are_given() {
    let (_emulator, server) = fresh().await;
    let (org, _, _, alice) = seed(&server).await;
    let bob = server
        .create(
            "/user_management/organization_memberships",
            json!({ "organization_id": org, "user_id": "user_bob" }),
        )
        .await;
    let bob = bob["id"].as_str().unwrap();
    server
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{bob}/deactivate"),
            None,
        )
        .await;
    let listed_ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_org = format!("/user_management/organization_memberships?organization_id={org}");
    assert_eq!(listed_ids(&server.get(&by_org).await), [alice.as_str()]);
    assert_eq!(
        listed_ids(&server.get(&format!("{by_org}&statuses=")).await),
        [alice.as_str()]
    );
    assert_eq!(
        listed_ids(&server.get(&format!("{by_org}&statuses=inactive")).await),
        [bob]
    );
    assert_eq!(
        listed_ids(
            &server
                .get(&format!("{by_org}&statuses=active,inactive&order=asc"))
                .await
        ),
        [alice.as_str(), bob]
    );
    let bob_alone = server
        .get("/user_management/organization_memberships?user_id=user_bob")
        .await;
    assert_eq!(bob_alone["data"], json!([]));
}

/// WorkOS: creating a membership (the Node SDK's `userManagement.createOrganizationMembership`)
/// for a user and organization that match an inactive membership activates it with the given
/// role(s); the emulator answered 409. An active one is still a conflict.
#[tokio::test]
async fn creating_a_membership_that_matches_an_inactive_one_reactivates_it() {
    let (_emulator, server) = fresh().await;
    let (org, _, project, alice) = seed(&server).await;
    let create = |role: Option<&str>| {
        let mut body = json!({ "organization_id": org, "user_id": "user_alice" });
        if let Some(role) = role {
            body["role_slug"] = json!(role);
        }
        body
    };
    let again = server
        .post("/user_management/organization_memberships", create(None))
        .await;
    assert_error(&again, StatusCode::CONFLICT, "entity_conflict");
    server
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{alice}/deactivate"),
            None,
        )
        .await;
    let bad_role = server
        .post(
            "/user_management/organization_memberships",
            create(Some("nobody")),
        )
        .await;
    assert_error(
        &bad_role,
        StatusCode::UNPROCESSABLE_ENTITY,
        "role_not_found",
    );
    let inactive = server
        .get(&format!(
            "/user_management/organization_memberships/{alice}"
        ))
        .await;
    assert_eq!(
        inactive["status"], "inactive",
        "a refused role changes nothing"
    );
    let reactivated = server
        .create(
            "/user_management/organization_memberships",
            create(Some("editor")),
        )
        .await;
    assert_eq!(reactivated["id"], alice.as_str());
    assert_eq!(reactivated["status"], "active");
    assert_eq!(reactivated["role"], json!({ "slug": "editor" }));
    let check = server
        .post(
            &format!("/authorization/organization_memberships/{alice}/check"),
            json!({ "permission_slug": "docs:write", "resource_id": project }),
        )
        .await;
    assert_eq!(check.body, json!({ "authorized": true }));
}

#[tokio::test]
async fn organization_memberships_are_created_listed_and_fetched() {
    let (_emulator, server) = fresh().await;
    let (org, _, _, alice) = seed(&server).await;
    let bob = server
        .create(
            "/user_management/organization_memberships",
            json!({ "organization_id": org, "user_id": "user_bob", "role_slug": "editor" }),
        )
        .await;
    assert_eq!(bob["object"], "organization_membership");
    assert_eq!(bob["status"], "active");
    assert_eq!(bob["role"], json!({ "slug": "editor" }));
    assert_eq!(bob["roles"], json!([{ "slug": "editor" }]));
    let two_roles = server
        .post(
            "/user_management/organization_memberships",
            json!({ "organization_id": org, "user_id": "user_carol", "role_slugs": ["viewer", "editor"] }),
        )
        .await;
    assert_error(
        &two_roles,
        StatusCode::UNPROCESSABLE_ENTITY,
        "multiple_roles_disabled",
    );
    let bob_id = bob["id"].as_str().unwrap();
    let deactivated = server
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{bob_id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(deactivated.body["status"], "inactive");
    let active = server
        .get(&format!(
            "/user_management/organization_memberships?organization_id={org}&statuses=active"
        ))
        .await;
    let ids: Vec<&str> = active["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [alice.as_str()]);
    let both = server
        .get("/user_management/organization_memberships?statuses=active,inactive&user_id=user_bob")
        .await;
    assert_eq!(both["data"][0]["id"], bob_id);
    assert_eq!(
        server
            .get(&format!(
                "/user_management/organization_memberships/{alice}"
            ))
            .await["user_id"],
        "user_alice"
    );
    let updated = server
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{alice}"),
            Some(json!({ "role_slug": "viewer" })),
        )
        .await;
    assert_eq!(updated.body["role"], json!({ "slug": "viewer" }));
    let bad = server
        .call(
            Method::GET,
            "/user_management/organization_memberships?statuses=asleep",
            None,
        )
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_status");
}

fn assignment_roles(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["role"]["slug"].as_str().unwrap())
        .collect()
}

/// The Node SDK's `listResourceRoleAssignments` reads the assignments of a resource named by
/// external id (a path the emulator did not serve), `listRoleAssignmentsForResource` filters
/// by `role_slug`, and `listRoleAssignments` by `resource_id` or `resource_external_id` +
/// `resource_type_slug`: filters the emulator ignored.
#[tokio::test]
async fn role_assignment_lists_by_external_id_and_with_their_filters() {
    let (_emulator, server) = fresh().await;
    let (org, workspace, project, alice) = seed(&server).await;
    let assignments = format!("/authorization/organization_memberships/{alice}/role_assignments");
    server
        .create(
            &assignments,
            json!({ "role_slug": "viewer", "resource_id": workspace }),
        )
        .await;
    server
        .create(
            &assignments,
            json!({ "role_slug": "editor", "resource_external_id": "proj_1",
                    "resource_type_slug": "project" }),
        )
        .await;

    let all = server.get(&assignments).await;
    assert_eq!(assignment_roles(&all).len(), 2);
    let on_workspace = server
        .get(&format!("{assignments}?resource_id={workspace}"))
        .await;
    assert_eq!(assignment_roles(&on_workspace), ["viewer"]);
    let on_project = server
        .get(&format!(
            "{assignments}?resource_external_id=proj_1&resource_type_slug=project"
        ))
        .await;
    assert_eq!(assignment_roles(&on_project), ["editor"]);
    assert_eq!(on_project["data"][0]["resource"]["id"], project.as_str());
    let incomplete = server
        .call(
            Method::GET,
            &format!("{assignments}?resource_external_id=proj_1"),
            None,
        )
        .await;
    assert_error(&incomplete, StatusCode::UNPROCESSABLE_ENTITY, "required");

    let by_id = format!("/authorization/resources/{workspace}/role_assignments");
    assert_eq!(assignment_roles(&server.get(&by_id).await), ["viewer"]);
    assert_eq!(
        assignment_roles(&server.get(&format!("{by_id}?role_slug=viewer")).await),
        ["viewer"]
    );
    assert!(assignment_roles(&server.get(&format!("{by_id}?role_slug=editor")).await).is_empty());

    let by_external =
        format!("/authorization/organizations/{org}/resources/project/proj_1/role_assignments");
    let listed = server.get(&format!("{by_external}?order=desc")).await;
    assert_eq!(assignment_roles(&listed), ["editor"]);
    assert_eq!(
        listed["data"][0]["organization_membership_id"],
        alice.as_str()
    );
    assert_eq!(
        listed["list_metadata"],
        json!({ "before": null, "after": null })
    );
    assert!(
        assignment_roles(&server.get(&format!("{by_external}?role_slug=viewer")).await).is_empty()
    );
    let unknown = server
        .call(
            Method::GET,
            &format!("/authorization/organizations/{org}/resources/project/nope/role_assignments"),
            None,
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "entity_not_found");
}

#[tokio::test]
async fn role_assignments_checks_and_queries() {
    let (_emulator, server) = fresh().await;
    let (org, workspace, project, om) = seed(&server).await;
    let assignments = format!("/authorization/organization_memberships/{om}/role_assignments");
    let assignment = server
        .create(
            &assignments,
            json!({ "role_slug": "editor", "resource_external_id": "ws_1",
                    "resource_type_slug": "workspace" }),
        )
        .await;
    assert_eq!(assignment["object"], "role_assignment");
    assert_eq!(assignment["role"], json!({ "slug": "editor" }));
    assert_eq!(
        assignment["resource"],
        json!({ "id": workspace, "external_id": "ws_1", "resource_type_slug": "workspace" })
    );
    assert_eq!(assignment["source"]["type"], "direct");
    let duplicate = server
        .post(
            &assignments,
            json!({ "role_slug": "editor", "resource_id": workspace }),
        )
        .await;
    assert_error(&duplicate, StatusCode::CONFLICT, "entity_conflict");
    let viewer = server
        .create(
            &assignments,
            json!({ "role_slug": "viewer", "resource_id": project }),
        )
        .await;

    let check = format!("/authorization/organization_memberships/{om}/check");
    for (body, authorized) in [
        (
            json!({ "permission_slug": "docs:write", "resource_id": project }),
            true,
        ),
        (
            json!({ "permission_slug": "docs:write", "resource_external_id": "proj_1",
                    "resource_type_slug": "project" }),
            true,
        ),
        (
            json!({ "permission_slug": "docs:write", "resource_external_id": org,
                    "resource_type_slug": "organization" }),
            false,
        ),
    ] {
        let reply = server.post(&check, body).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, json!({ "authorized": authorized }));
    }
    let unknown = server
        .post(
            "/authorization/organization_memberships/om_ghost/check",
            json!({ "permission_slug": "docs:read", "resource_id": project }),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "entity_not_found");
    let incomplete = server
        .post(
            &check,
            json!({ "permission_slug": "docs:read", "resource_external_id": "proj_1" }),
        )
        .await;
    assert_error(&incomplete, StatusCode::UNPROCESSABLE_ENTITY, "required");
    assert_eq!(incomplete.body["errors"][0]["field"], "resource_type_slug");

    let listed = server.get(&assignments).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let on_project = server
        .get(&format!(
            "/authorization/resources/{project}/role_assignments"
        ))
        .await;
    assert_eq!(on_project["data"][0]["id"], viewer["id"]);

    let resources = server
        .get(&format!(
            "/authorization/organization_memberships/{om}/resources?permission_slug=docs%3Awrite&parent_resource_id={workspace}"
        ))
        .await;
    assert_eq!(resources["data"][0]["id"], project.as_str());
    let resources = server
        .get(&format!(
            "/authorization/organization_memberships/{om}/resources?permission_slug=docs:read&parent_resource_type_slug=organization&parent_resource_external_id={org}&resource_type_slug=workspace"
        ))
        .await;
    assert_eq!(resources["data"][0]["id"], workspace.as_str());

    let direct = server
        .get(&format!(
            "/authorization/resources/{project}/organization_memberships?permission_slug=docs:write&assignment=direct"
        ))
        .await;
    assert_eq!(direct["data"], json!([]));
    let indirect = server
        .get(&format!(
            "/authorization/organizations/{org}/resources/project/proj_1/organization_memberships?permission_slug=docs:write&assignment=indirect"
        ))
        .await;
    assert_eq!(indirect["data"][0]["id"], om.as_str());
    let missing_permission = server
        .call(
            Method::GET,
            &format!("/authorization/resources/{project}/organization_memberships"),
            None,
        )
        .await;
    assert_error(
        &missing_permission,
        StatusCode::UNPROCESSABLE_ENTITY,
        "required",
    );

    for path in [
        format!("/authorization/resources/{project}/organization_memberships/{om}/permissions"),
        format!("/authorization/organization_memberships/{om}/resources/{project}/permissions"),
        format!(
            "/authorization/organization_memberships/{om}/resources/project/proj_1/permissions"
        ),
    ] {
        let permissions = server.get(&path).await;
        let slugs: Vec<&str> = permissions["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap())
            .collect();
        let mut slugs = slugs;
        slugs.sort_unstable();
        assert_eq!(slugs, ["docs:read", "docs:write"], "{path}");
    }

    let removed = server
        .call(
            Method::DELETE,
            &assignments,
            Some(
                json!({ "role_slug": "editor", "resource_external_id": "ws_1",
                         "resource_type_slug": "workspace" }),
            ),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let by_id = server
        .call(
            Method::DELETE,
            &format!("{assignments}/{}", viewer["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(by_id.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get(&assignments).await["data"], json!([]));
    let reply = server
        .post(
            &check,
            json!({ "permission_slug": "docs:read", "resource_id": project }),
        )
        .await;
    assert_eq!(reply.body["authorized"], false);
}

/// Walks a list with `after` cursors, and back with `before`, checking each item is seen once.
async fn walk(server: &Server, order: &str, expected: &[String]) {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..expected.len() + 2 {
        let cursor = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let page = server
            .get(&format!(
                "/authorization/permissions?limit=7&order={order}{cursor}"
            ))
            .await;
        assert!(page["data"].as_array().unwrap().len() <= 7);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match page["list_metadata"]["after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected, "order={order}");
    let mut backwards: Vec<String> = Vec::new();
    let mut before = expected.last().cloned();
    let mut last_page = server
        .get(&format!(
            "/authorization/permissions?limit=7&order={order}&after={}",
            expected[expected.len() - 2]
        ))
        .await;
    assert_eq!(last_page["data"].as_array().unwrap().len(), 1);
    backwards.push(last_page["data"][0]["id"].as_str().unwrap().to_owned());
    for _ in 0..expected.len() + 2 {
        let Some(cursor) = before.take() else { break };
        last_page = server
            .get(&format!(
                "/authorization/permissions?limit=7&order={order}&before={cursor}"
            ))
            .await;
        let ids: Vec<String> = last_page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        backwards.splice(0..0, ids);
        before = last_page["list_metadata"]["before"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(backwards, expected, "backwards, order={order}");
}

#[tokio::test]
async fn pagination_walks_see_every_item_exactly_once_in_both_orders() {
    let (_emulator, server) = fresh().await;
    let mut created = Vec::new();
    for index in 0..25 {
        let permission = server
            .create(
                "/authorization/permissions",
                json!({ "slug": format!("p:{index:02}"), "name": "P" }),
            )
            .await;
        created.push(permission["id"].as_str().unwrap().to_owned());
    }
    let unique: HashSet<&String> = created.iter().collect();
    assert_eq!(unique.len(), 25);
    walk(&server, "asc", &created).await;
    let mut descending = created.clone();
    descending.reverse();
    walk(&server, "desc", &descending).await;

    let first = server.get("/authorization/permissions").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 10, "default limit");
    assert_eq!(
        first["data"][0]["id"],
        created[24].as_str(),
        "default order desc"
    );
    assert_eq!(first["list_metadata"]["before"], Value::Null);
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "order=sideways",
        "after=perm_ghost",
    ] {
        let reply = server
            .call(
                Method::GET,
                &format!("/authorization/permissions?{query}"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(reply.body["errors"][0]["field"].is_string());
    }
    let hundred = server.get("/authorization/permissions?limit=100").await;
    assert_eq!(hundred["data"].as_array().unwrap().len(), 25);
    assert_eq!(
        hundred["list_metadata"],
        json!({ "before": null, "after": null })
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_response_without_acting_twice() {
    let (emulator, server) = fresh().await;
    let headers = [
        ("authorization", "Bearer sk_test"),
        ("idempotency-key", "retry-1"),
    ];
    let body = json!({ "slug": "a:b", "name": "A" });
    let first = server
        .send(
            Method::POST,
            "/authorization/permissions",
            Some(body.clone()),
            &headers,
        )
        .await;
    let second = server
        .send(
            Method::POST,
            "/authorization/permissions",
            Some(body.clone()),
            &headers,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);
    assert_ne!(second.request_id, first.request_id);
    assert_eq!(emulator.engine().list_permissions().len(), 1);
    let other_key = server
        .send(
            Method::POST,
            "/authorization/permissions",
            Some(body),
            &[
                ("authorization", "Bearer sk_test"),
                ("idempotency-key", "retry-2"),
            ],
        )
        .await;
    assert_error(&other_key, StatusCode::CONFLICT, "entity_conflict");
}

#[tokio::test]
async fn a_minted_session_token_verifies_against_the_jwks() {
    let (_emulator, server) = fresh().await;
    let (org, _, _, om) = seed(&server).await;
    let reply = server
        .call(
            Method::PUT,
            "/authorization/roles/member/permissions",
            Some(json!({ "permissions": ["docs:read"] })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let minted = server
        .post(
            "/_emulator/sessions",
            json!({ "organization_membership_id": om }),
        )
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.body);
    let token = minted.body["access_token"].as_str().unwrap();

    let jwks = server.get("/sso/jwks/client_emulator").await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[server.base.as_str()]);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<SessionClaims>(token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims.sub, "user_alice");
    assert_eq!(claims.org_id.as_deref(), Some(org.as_str()));
    assert_eq!(claims.role.as_deref(), Some("member"));
    assert_eq!(claims.roles, ["member"]);
    assert_eq!(claims.permissions, ["docs:read"]);
    assert_eq!(
        claims.organization_membership_id.as_deref(),
        Some(om.as_str())
    );
    assert!(claims.sid.is_some_and(|sid| sid.starts_with("session_")));
    let lifetime = claims.exp - claims.iat.unwrap();
    assert_eq!(lifetime, 3600);

    let unknown = server
        .post(
            "/_emulator/sessions",
            json!({ "organization_membership_id": "om_ghost" }),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "entity_not_found");
}

#[tokio::test]
async fn a_restart_from_the_state_file_keeps_every_change() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.db");
    let (org, project, om, assignment_id) = {
        let emulator = Emulator::new(LocalEngine::open(&path).unwrap());
        let server = serve(&emulator).await;
        let (org, _, project, om) = seed(&server).await;
        let assignment = server
            .create(
                &format!("/authorization/organization_memberships/{om}/role_assignments"),
                json!({ "role_slug": "viewer", "resource_id": project }),
            )
            .await;
        let patched = server
            .call(
                Method::PATCH,
                "/authorization/roles/viewer",
                Some(json!({ "description": "Reads" })),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK);
        (
            org,
            project,
            om,
            assignment["id"].as_str().unwrap().to_owned(),
        )
    };

    let emulator = Emulator::new(LocalEngine::open(&path).unwrap());
    let server = serve(&emulator).await;
    assert_eq!(
        server.get(&format!("/organizations/{org}")).await["name"],
        "Acme"
    );
    assert_eq!(
        server.get("/authorization/roles/viewer").await["description"],
        "Reads"
    );
    assert_eq!(
        server.get("/authorization/roles/editor").await["permissions"],
        json!(["docs:read", "docs:write"])
    );
    assert_eq!(
        server
            .get(&format!("/authorization/resources/{project}"))
            .await["external_id"],
        "proj_1"
    );
    let assignments = server
        .get(&format!(
            "/authorization/organization_memberships/{om}/role_assignments"
        ))
        .await;
    assert_eq!(assignments["data"][0]["id"], assignment_id.as_str());
    let check = server
        .post(
            &format!("/authorization/organization_memberships/{om}/check"),
            json!({ "permission_slug": "docs:read", "resource_external_id": "proj_1",
                    "resource_type_slug": "project" }),
        )
        .await;
    assert_eq!(check.body["authorized"], true);
    let permissions = server.get("/authorization/permissions?order=asc").await;
    let slugs: Vec<&str> = permissions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["docs:read", "docs:write"]);
}
