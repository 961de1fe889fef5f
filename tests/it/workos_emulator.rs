//! Every method of the WorkOS client against the emulator (the WorkOS REST API served over
//! the embedded engine) on loopback, and the seeds' "hierarchical roles" and "multi-tenant
//! roles" patterns end to end.

use std::collections::HashSet;
use std::time::Duration;

use workos_authz::check::{Authorizer, CheckRequest, Decision, MembershipResolver, ResourceRef};
use workos_authz::emulator::Emulator;
use workos_authz::local::LocalEngine;
use workos_authz::workos::{
    AssignRole, CreateOrganization, CreateOrganizationMembership, CreatePermission, CreateResource,
    CreateRole, ErrorKind, ListMembershipsForResource, ListOrganizationMemberships, ListResources,
    ListResourcesForMembership, MembershipAssignment, MembershipStatus, Pagination, RoleType,
    UpdatePermission, UpdateResource, UpdateRole, WorkOsClient,
};

/// A client talking to a fresh emulator on 127.0.0.1.
async fn emulated() -> WorkOsClient {
    let app = Emulator::new(LocalEngine::new()).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    WorkOsClient::builder("sk_test_emulator")
        .base_url(format!("http://{address}"))
        .timeout(Duration::from_secs(10))
        .max_retries(0)
        .build()
        .expect("valid settings")
}

async fn permission(workos: &WorkOsClient, slug: &str) {
    workos
        .create_permission(&CreatePermission::new(slug, slug).resource_type_slug("project"))
        .await
        .expect("create permission");
}

async fn organization(workos: &WorkOsClient, name: &str) -> String {
    workos
        .create_organization(&CreateOrganization::new(name))
        .await
        .expect("create organization")
        .id
}

async fn member(workos: &WorkOsClient, organization_id: &str, user_id: &str) -> String {
    workos
        .create_organization_membership(&CreateOrganizationMembership::new(
            organization_id,
            user_id,
        ))
        .await
        .expect("create membership")
        .id
}

fn slugs<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut slugs: Vec<String> = items.into_iter().map(str::to_owned).collect();
    slugs.sort();
    slugs
}

#[tokio::test]
async fn permissions_round_trip() {
    let workos = emulated().await;

    let created = workos
        .create_permission(
            &CreatePermission::new("docs:read", "Read docs")
                .description("Open documents")
                .resource_type_slug("document"),
        )
        .await
        .expect("create");
    assert_eq!(created.slug, "docs:read");
    assert_eq!(created.name, "Read docs");
    assert_eq!(created.description.as_deref(), Some("Open documents"));
    assert_eq!(created.resource_type_slug.as_deref(), Some("document"));
    assert!(!created.system);

    let again = workos
        .create_permission(&CreatePermission::new("docs:read", "Twice"))
        .await
        .expect_err("the slug is taken");
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");

    let fetched = workos.get_permission("docs:read").await.expect("get");
    assert_eq!(fetched, created);

    let updated = workos
        .update_permission(
            "docs:read",
            &UpdatePermission {
                name: Some("Read documents".into()),
                description: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "Read documents");
    assert_eq!(updated.description.as_deref(), Some("Open documents"));

    permission(&workos, "docs:write").await;
    let page = workos
        .list_permissions(&Pagination::default())
        .await
        .expect("list");
    let listed: HashSet<&str> = page.data.iter().map(|p| p.slug.as_str()).collect();
    assert!(listed.contains("docs:read") && listed.contains("docs:write"));

    workos
        .delete_permission("docs:write")
        .await
        .expect("delete");
    let gone = workos
        .get_permission("docs:write")
        .await
        .expect_err("deleted");
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert_eq!(gone.status().map(|s| s.as_u16()), Some(404));
}

#[tokio::test]
async fn environment_roles_round_trip() {
    let workos = emulated().await;
    for slug in ["projects:read", "projects:write", "projects:export"] {
        permission(&workos, slug).await;
    }

    let created = workos
        .create_environment_role(
            &CreateRole::new("analyst", "Analyst")
                .description("Reads projects")
                .resource_type_slug("project"),
        )
        .await
        .expect("create");
    assert_eq!(created.slug, "analyst");
    assert_eq!(created.role_type, RoleType::EnvironmentRole);
    assert_eq!(created.resource_type_slug.as_deref(), Some("project"));
    assert!(created.permissions.is_empty());

    let set = workos
        .set_environment_role_permissions("analyst", ["projects:read", "projects:write"])
        .await
        .expect("set permissions");
    assert_eq!(
        slugs(set.permissions.iter().map(String::as_str)),
        ["projects:read", "projects:write"]
    );

    let added = workos
        .add_environment_role_permission("analyst", "projects:export")
        .await
        .expect("add permission");
    assert_eq!(
        slugs(added.permissions.iter().map(String::as_str)),
        ["projects:export", "projects:read", "projects:write"]
    );

    let updated = workos
        .update_environment_role(
            "analyst",
            &UpdateRole {
                name: Some("Senior analyst".into()),
                description: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "Senior analyst");
    assert_eq!(updated.description.as_deref(), Some("Reads projects"));

    let fetched = workos.get_environment_role("analyst").await.expect("get");
    assert_eq!(fetched.name, "Senior analyst");
    assert_eq!(fetched.permissions.len(), 3);

    let roles = workos.list_environment_roles().await.expect("list");
    let listed: Vec<&str> = roles.iter().map(|role| role.slug.as_str()).collect();
    assert!(listed.contains(&"analyst"), "{listed:?}");
    assert!(
        listed.contains(&"member"),
        "the seeded default role: {listed:?}"
    );

    let missing = workos
        .get_environment_role("nobody")
        .await
        .expect_err("no such role");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn organization_roles_round_trip() {
    let workos = emulated().await;
    for slug in ["reports:read", "reports:write", "reports:delete"] {
        permission(&workos, slug).await;
    }
    let org = organization(&workos, "Acme").await;
    let fetched_org = workos
        .get_organization(&org)
        .await
        .expect("get organization");
    assert_eq!(fetched_org.name, "Acme");

    let created = workos
        .create_organization_role(
            &org,
            &CreateRole::new("auditor", "Auditor").description("Reads reports"),
        )
        .await
        .expect("create");
    assert_eq!(created.slug, "auditor");
    assert_eq!(created.role_type, RoleType::OrganizationRole);

    let set = workos
        .set_organization_role_permissions(&org, "auditor", ["reports:read"])
        .await
        .expect("set");
    assert_eq!(set.permissions, ["reports:read"]);
    let added = workos
        .add_organization_role_permission(&org, "auditor", "reports:write")
        .await
        .expect("add");
    assert_eq!(
        slugs(added.permissions.iter().map(String::as_str)),
        ["reports:read", "reports:write"]
    );
    workos
        .remove_organization_role_permission(&org, "auditor", "reports:write")
        .await
        .expect("remove");
    let fetched = workos
        .get_organization_role(&org, "auditor")
        .await
        .expect("get");
    assert_eq!(fetched.permissions, ["reports:read"]);

    let updated = workos
        .update_organization_role(
            &org,
            "auditor",
            &UpdateRole {
                name: Some("External auditor".into()),
                description: Some("Reads reports, once a year".into()),
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "External auditor");
    assert_eq!(
        updated.description.as_deref(),
        Some("Reads reports, once a year")
    );

    let roles = workos.list_organization_roles(&org).await.expect("list");
    assert!(
        roles
            .iter()
            .any(|role| role.slug == "auditor" && role.role_type == RoleType::OrganizationRole)
    );

    workos
        .delete_organization_role(&org, "auditor")
        .await
        .expect("delete");
    let gone = workos
        .get_organization_role(&org, "auditor")
        .await
        .expect_err("deleted");
    assert_eq!(gone.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn resources_round_trip() {
    let workos = emulated().await;
    let org = organization(&workos, "Acme").await;

    let workspace = workos
        .create_resource(
            &CreateResource::new(&org, "workspace", "ws_main", "Main").description("All work"),
        )
        .await
        .expect("create workspace");
    assert_eq!(workspace.external_id, "ws_main");
    assert_eq!(workspace.organization_id, org);
    assert_eq!(workspace.resource_type_slug, "workspace");
    assert_eq!(workspace.description.as_deref(), Some("All work"));

    let project = workos
        .create_resource(
            &CreateResource::new(&org, "project", "proj_apollo", "Apollo")
                .parent(ResourceRef::id(&workspace.id)),
        )
        .await
        .expect("create project under an id");
    assert_eq!(
        project.parent_resource_id.as_deref(),
        Some(workspace.id.as_str())
    );

    let document = workos
        .create_resource(
            &CreateResource::new(&org, "document", "doc 1/a", "Plan")
                .parent(ResourceRef::external("project", "proj_apollo")),
        )
        .await
        .expect("create document under an external id");
    assert_eq!(
        document.parent_resource_id.as_deref(),
        Some(project.id.as_str())
    );

    let duplicate = workos
        .create_resource(&CreateResource::new(
            &org,
            "project",
            "proj_apollo",
            "Again",
        ))
        .await
        .expect_err("external ids are unique per organization and type");
    assert_eq!(duplicate.kind(), ErrorKind::Conflict, "{duplicate}");

    assert_eq!(
        workos.get_resource(&project.id).await.expect("get"),
        project
    );
    let by_external = workos
        .get_resource_by_external_id(&org, "document", "doc 1/a")
        .await
        .expect("get by external id (escaped in the path)");
    assert_eq!(by_external.id, document.id);

    let projects = workos
        .list_resources(&ListResources {
            organization_id: Some(org.clone()),
            resource_type_slug: Some("project".into()),
            ..ListResources::default()
        })
        .await
        .expect("list by type");
    assert_eq!(
        projects
            .data
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [project.id.as_str()]
    );
    let children = workos
        .list_resources(&ListResources {
            organization_id: Some(org.clone()),
            parent: Some(ResourceRef::id(&workspace.id)),
            ..ListResources::default()
        })
        .await
        .expect("list by parent id");
    assert_eq!(
        children
            .data
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [project.id.as_str()]
    );
    let children = workos
        .list_resources(&ListResources {
            organization_id: Some(org.clone()),
            parent: Some(ResourceRef::external("project", "proj_apollo")),
            ..ListResources::default()
        })
        .await
        .expect("list by parent external id");
    assert_eq!(
        children
            .data
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [document.id.as_str()]
    );

    let renamed = workos
        .update_resource(
            &project.id,
            &UpdateResource {
                name: Some("Apollo 11".into()),
                description: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(renamed.name, "Apollo 11");
    let described = workos
        .update_resource_by_external_id(
            &org,
            "project",
            "proj_apollo",
            &UpdateResource {
                name: None,
                description: Some("To the moon".into()),
            },
        )
        .await
        .expect("update by external id");
    assert_eq!(described.name, "Apollo 11");
    assert_eq!(described.description.as_deref(), Some("To the moon"));

    let refused = workos
        .delete_resource(&workspace.id, None)
        .await
        .expect_err("a resource with children needs cascade_delete");
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(workos.get_resource(&workspace.id).await.is_ok());

    workos
        .delete_resource_by_external_id(&org, "document", "doc 1/a", None)
        .await
        .expect("delete a leaf by external id");
    assert_eq!(
        workos
            .get_resource(&document.id)
            .await
            .expect_err("deleted")
            .kind(),
        ErrorKind::NotFound
    );

    workos
        .delete_resource(&workspace.id, Some(true))
        .await
        .expect("cascade delete");
    for id in [&workspace.id, &project.id] {
        assert_eq!(
            workos.get_resource(id).await.expect_err("deleted").kind(),
            ErrorKind::NotFound
        );
    }
}

/// The seeds' "hierarchical roles": viewer ⊂ editor ⊂ admin on projects, assigned at
/// different levels of the resource tree, and every query that reads the result.
#[tokio::test]
async fn hierarchical_roles_end_to_end() {
    let workos = emulated().await;
    for slug in [
        "projects:read",
        "projects:write",
        "projects:delete",
        "projects:admin",
    ] {
        permission(&workos, slug).await;
    }
    for (slug, name, permissions) in [
        ("viewer", "Viewer", &["projects:read"][..]),
        ("editor", "Editor", &["projects:read", "projects:write"][..]),
        (
            "admin",
            "Administrator",
            &[
                "projects:read",
                "projects:write",
                "projects:delete",
                "projects:admin",
            ][..],
        ),
    ] {
        workos
            .create_environment_role(&CreateRole::new(slug, name).resource_type_slug("project"))
            .await
            .expect("create role");
        workos
            .set_environment_role_permissions(slug, permissions)
            .await
            .expect("set permissions");
    }

    let org = organization(&workos, "Acme").await;
    let alice = member(&workos, &org, "user_alice").await;
    let bob = member(&workos, &org, "user_bob").await;
    let carol = member(&workos, &org, "user_carol").await;

    let membership = workos
        .get_organization_membership(&alice)
        .await
        .expect("get membership");
    assert_eq!(membership.user_id, "user_alice");
    assert_eq!(membership.organization_id, org);
    assert_eq!(membership.status, MembershipStatus::Active);
    let listed = workos
        .list_organization_memberships(&ListOrganizationMemberships::active("user_bob", &org))
        .await
        .expect("list memberships");
    assert_eq!(
        listed
            .data
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [bob.as_str()]
    );
    let resolved = workos
        .membership_resolver()
        .resolve("user_carol", &org)
        .await
        .expect("resolve");
    assert_eq!(resolved.as_deref(), Some(carol.as_str()));
    assert_eq!(
        workos
            .membership_resolver()
            .resolve("user_nobody", &org)
            .await
            .expect("resolve"),
        None
    );

    let workspace = workos
        .create_resource(&CreateResource::new(&org, "workspace", "ws_1", "Workspace"))
        .await
        .expect("workspace");
    let apollo = workos
        .create_resource(
            &CreateResource::new(&org, "project", "apollo", "Apollo")
                .parent(ResourceRef::id(&workspace.id)),
        )
        .await
        .expect("project");
    let gemini = workos
        .create_resource(
            &CreateResource::new(&org, "project", "gemini", "Gemini")
                .parent(ResourceRef::id(&workspace.id)),
        )
        .await
        .expect("project");

    // Alice views Apollo only; Bob edits the whole workspace; Carol administers Gemini.
    let alice_viewer = workos
        .assign_role(
            &alice,
            &AssignRole {
                role_slug: "viewer".into(),
                resource: ResourceRef::id(&apollo.id),
            },
        )
        .await
        .expect("assign viewer");
    assert_eq!(alice_viewer.role.slug, "viewer");
    assert_eq!(alice_viewer.resource.id, apollo.id);
    assert_eq!(alice_viewer.resource.external_id, "apollo");
    assert_eq!(alice_viewer.resource.resource_type_slug, "project");
    let bob_editor = workos
        .assign_role(
            &bob,
            &AssignRole {
                role_slug: "editor".into(),
                resource: ResourceRef::external("workspace", "ws_1"),
            },
        )
        .await
        .expect("assign editor by external id");
    assert_eq!(bob_editor.resource.id, workspace.id);
    workos
        .assign_role(
            &carol,
            &AssignRole {
                role_slug: "admin".into(),
                resource: ResourceRef::id(&gemini.id),
            },
        )
        .await
        .expect("assign admin");

    let apollo_ref = ResourceRef::external("project", "apollo");
    let gemini_ref = ResourceRef::id(&gemini.id);
    for (who, permission, resource, expected) in [
        (&alice, "projects:read", &apollo_ref, true),
        (&alice, "projects:write", &apollo_ref, false),
        (&alice, "projects:read", &gemini_ref, false),
        (&bob, "projects:write", &apollo_ref, true),
        (&bob, "projects:write", &gemini_ref, true),
        (&bob, "projects:delete", &gemini_ref, false),
        (&carol, "projects:admin", &gemini_ref, true),
        (&carol, "projects:read", &apollo_ref, false),
    ] {
        let allowed = workos
            .check(who, permission, resource)
            .await
            .expect("check");
        assert_eq!(allowed, expected, "{who} {permission} {resource}");
    }

    // The same answers through the Authorizer adapter.
    let authorizer = workos.authorizer();
    let decision = authorizer
        .check(&CheckRequest {
            organization_id: org.clone(),
            organization_membership_id: bob.clone(),
            permission: "projects:write".into(),
            resource: apollo_ref.clone(),
        })
        .await
        .expect("an answer");
    assert_eq!(decision, Decision::Allow);

    let alice_assignments = workos
        .list_role_assignments(&alice, &Pagination::default())
        .await
        .expect("list assignments");
    assert_eq!(alice_assignments.data.len(), 1);
    assert_eq!(alice_assignments.data[0].id, alice_viewer.id);
    let on_apollo = workos
        .list_role_assignments_for_resource(&apollo.id, &Pagination::default())
        .await
        .expect("assignments on a resource");
    assert_eq!(
        on_apollo
            .data
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [alice_viewer.id.as_str()]
    );
    let streamed = workos
        .stream_role_assignments(&bob, &Pagination::default())
        .try_collect()
        .await
        .expect("stream assignments");
    assert_eq!(
        streamed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [bob_editor.id.as_str()]
    );

    let writable = workos
        .list_resources_for_membership(
            &bob,
            &ListResourcesForMembership {
                permission_slug: "projects:write".into(),
                parent: ResourceRef::id(&workspace.id),
                pagination: Pagination::default(),
            },
        )
        .await
        .expect("resources for bob");
    let writable: HashSet<&str> = writable.data.iter().map(|r| r.id.as_str()).collect();
    assert!(
        writable.contains(apollo.id.as_str()) && writable.contains(gemini.id.as_str()),
        "{writable:?}"
    );
    let readable_by_alice = workos
        .list_resources_for_membership(
            &alice,
            &ListResourcesForMembership {
                permission_slug: "projects:read".into(),
                parent: ResourceRef::external("workspace", "ws_1"),
                pagination: Pagination::default(),
            },
        )
        .await
        .expect("resources for alice");
    assert_eq!(
        readable_by_alice
            .data
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [apollo.id.as_str()]
    );

    let readers = workos
        .list_memberships_for_resource(
            &apollo.id,
            &ListMembershipsForResource::new("projects:read"),
        )
        .await
        .expect("memberships for apollo");
    let readers: HashSet<&str> = readers.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(readers, HashSet::from([alice.as_str(), bob.as_str()]));
    let direct = workos
        .list_memberships_for_resource(
            &apollo.id,
            &ListMembershipsForResource {
                assignment: Some(MembershipAssignment::Direct),
                ..ListMembershipsForResource::new("projects:read")
            },
        )
        .await
        .expect("direct memberships");
    assert_eq!(
        direct
            .data
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [alice.as_str()]
    );
    let indirect = workos
        .list_memberships_for_resource_by_external_id(
            &org,
            "project",
            "apollo",
            &ListMembershipsForResource {
                assignment: Some(MembershipAssignment::Indirect),
                ..ListMembershipsForResource::new("projects:read")
            },
        )
        .await
        .expect("indirect memberships by external id");
    // Indirect access is every path: direct, through an ancestor, or an organization role.
    let indirect: HashSet<&str> = indirect.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(indirect, HashSet::from([alice.as_str(), bob.as_str()]));

    let effective = workos
        .list_effective_permissions(&bob, &ResourceRef::id(&apollo.id), &Pagination::default())
        .await
        .expect("effective permissions");
    assert_eq!(
        slugs(effective.data.iter().map(|p| p.slug.as_str())),
        ["projects:read", "projects:write"]
    );
    let effective = workos
        .list_effective_permissions(
            &carol,
            &ResourceRef::external("project", "gemini"),
            &Pagination::default(),
        )
        .await
        .expect("effective permissions by external id");
    assert_eq!(effective.data.len(), 4);

    // Taking roles away takes the access away.
    workos
        .remove_role(
            &alice,
            &AssignRole {
                role_slug: "viewer".into(),
                resource: ResourceRef::external("project", "apollo"),
            },
        )
        .await
        .expect("remove role");
    assert!(
        !workos
            .check(&alice, "projects:read", &apollo_ref)
            .await
            .expect("check")
    );
    workos
        .remove_role_assignment(&bob, &bob_editor.id)
        .await
        .expect("remove assignment");
    assert!(
        !workos
            .check(&bob, "projects:write", &gemini_ref)
            .await
            .expect("check")
    );
    assert!(
        workos
            .check(&carol, "projects:admin", &gemini_ref)
            .await
            .expect("check")
    );
}

/// The seeds' "multi-tenant roles": each organization defines its own `custom-role` with its
/// own permissions, and a membership's access never crosses organizations.
#[tokio::test]
async fn multi_tenant_roles_end_to_end() {
    let workos = emulated().await;
    for slug in ["projects:read", "projects:write", "projects:delete"] {
        permission(&workos, slug).await;
    }
    let tenants = [
        ("Acme", &["projects:read"][..]),
        ("Globex", &["projects:read", "projects:write"][..]),
        (
            "Initech",
            &["projects:read", "projects:write", "projects:delete"][..],
        ),
    ];
    let mut setups = Vec::new();
    for (name, permissions) in tenants {
        let org = organization(&workos, name).await;
        let role = workos
            .create_organization_role(
                &org,
                &CreateRole::new("custom-role", format!("{name} Custom Role"))
                    .resource_type_slug("project"),
            )
            .await
            .expect("create organization role");
        assert_eq!(role.name, format!("{name} Custom Role"));
        let role = workos
            .set_organization_role_permissions(&org, "custom-role", permissions)
            .await
            .expect("set permissions");
        assert_eq!(role.permissions.len(), permissions.len());
        let project = workos
            .create_resource(&CreateResource::new(&org, "project", "roadmap", "Roadmap"))
            .await
            .expect("a project with the same external id in every tenant");
        let membership = member(&workos, &org, &format!("user_{name}")).await;
        workos
            .assign_role(
                &membership,
                &AssignRole {
                    role_slug: "custom-role".into(),
                    resource: ResourceRef::id(&project.id),
                },
            )
            .await
            .expect("assign the tenant's role");
        setups.push((org, membership, project, permissions));
    }

    let roadmap = ResourceRef::external("project", "roadmap");
    for (_, membership, _, granted) in &setups {
        for permission in ["projects:read", "projects:write", "projects:delete"] {
            let allowed = workos
                .check(membership, permission, &roadmap)
                .await
                .expect("check");
            assert_eq!(
                allowed,
                granted.contains(&permission),
                "{membership} {permission}"
            );
        }
    }
    // Initech's membership may delete its own roadmap, never Acme's, even by WorkOS id.
    let (_, initech_member, _, _) = &setups[2];
    let (_, _, acme_project, _) = &setups[0];
    let crossing = workos
        .check(
            initech_member,
            "projects:read",
            &ResourceRef::id(&acme_project.id),
        )
        .await;
    assert!(
        !matches!(crossing, Ok(true)),
        "access crossed tenants: {crossing:?}"
    );

    // Each organization lists its own custom-role; the environment has none.
    for (org, _, _, granted) in &setups {
        let role = workos
            .get_organization_role(org, "custom-role")
            .await
            .expect("the tenant's role");
        assert_eq!(role.permissions.len(), granted.len());
    }
    assert!(workos.get_environment_role("custom-role").await.is_err());
}

#[tokio::test]
async fn auto_paging_walks_250_resources_exactly_once() {
    const TOTAL: usize = 250;
    let workos = emulated().await;
    let org = organization(&workos, "Paging").await;
    let mut created = HashSet::new();
    for n in 0..TOTAL {
        let resource = workos
            .create_resource(&CreateResource::new(
                &org,
                "item",
                format!("item_{n:03}"),
                format!("Item {n}"),
            ))
            .await
            .expect("create");
        created.insert(resource.id);
    }

    let mut stream = workos.stream_resources(&ListResources {
        organization_id: Some(org.clone()),
        resource_type_slug: Some("item".into()),
        ..ListResources::default()
    });
    let mut seen = Vec::new();
    while let Some(resource) = stream.next_item().await {
        seen.push(resource.expect("every page answers").id);
        assert!(seen.len() <= TOTAL, "the walk must end");
    }
    assert_eq!(seen.len(), TOTAL);
    let distinct: HashSet<String> = seen.into_iter().collect();
    assert_eq!(distinct, created, "each resource exactly once");
    assert_eq!(stream.pages_fetched(), 3);

    // One page at a time by hand gives the same cursors.
    let first = workos
        .list_resources(&ListResources {
            organization_id: Some(org.clone()),
            resource_type_slug: Some("item".into()),
            pagination: Pagination::limit(100),
            ..ListResources::default()
        })
        .await
        .expect("first page");
    assert_eq!(first.data.len(), 100);
    assert!(first.list_metadata.after.is_some());
}

/// A create whose first answer is lost (the emulator acts, the client sees a 503) is retried
/// with the same `Idempotency-Key`: the emulator replays its first answer instead of
/// creating twice or answering 409.
#[tokio::test]
async fn a_retried_create_does_not_act_twice() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::Request;
    use axum::http::{Method, StatusCode};
    use axum::middleware::{Next, from_fn};
    use axum::response::{IntoResponse, Response};

    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let app = Emulator::new(LocalEngine::new()).router().layer(from_fn(
        move |request: Request, next: Next| {
            let counter = counter.clone();
            async move {
                let is_post = request.method() == Method::POST;
                let response: Response = next.run(request).await;
                if is_post && counter.fetch_add(1, Ordering::SeqCst) == 1 {
                    // The emulator acted; its answer is lost on the way back.
                    return StatusCode::BAD_GATEWAY.into_response();
                }
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let workos = WorkOsClient::builder("sk_test_emulator")
        .base_url(format!("http://{address}"))
        .retry_policy(workos_authz::workos::RetryPolicy::default().with_backoff(
            Duration::from_millis(10),
            1.5,
            Duration::from_millis(50),
        ))
        .build()
        .expect("valid settings");

    let org = organization(&workos, "Acme").await; // POST 0 answers
    let created = workos
        .create_resource(&CreateResource::new(&org, "project", "apollo", "Apollo"))
        .await
        .expect("the retry gets the first answer back"); // POST 1 lost, POST 2 replayed
    assert_eq!(posts.load(Ordering::SeqCst), 3);
    assert_eq!(created.external_id, "apollo");

    let projects = workos
        .list_resources(&ListResources {
            organization_id: Some(org),
            resource_type_slug: Some("project".into()),
            ..ListResources::default()
        })
        .await
        .expect("list");
    assert_eq!(projects.data.len(), 1, "created once");
    assert_eq!(projects.data[0].id, created.id);
}

/// The two list endpoints of list and detail pages, as WorkOS pages them: 120 effective
/// permissions are two pages of the client's stream (`limit=100`, then `after`); 250
/// accessible resources are three; and the resources list refuses a request without a
/// parent, which WorkOS requires.
#[tokio::test]
async fn page_lists_are_paged_to_the_end_and_the_parent_is_required() {
    use workos_authz::local::{NewPermission, NewResource, NewRole};
    let engine = LocalEngine::new();
    let permissions: Vec<String> = (0..120).map(|i| format!("p:{i:03}")).collect();
    for slug in &permissions {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine
        .create_environment_role(
            NewRole::new("wide", "Wide").permissions(permissions.iter().cloned()),
        )
        .unwrap();
    engine.create_organization_with_id("org_1", "One").unwrap();
    for i in 0..250 {
        let id = format!("proj_{i:03}");
        engine
            .create_resource(NewResource::new("org_1", "project", &id, &id))
            .unwrap();
    }
    let om = engine
        .create_membership("user_wide", "org_1", &["wide"])
        .unwrap()
        .id;
    let app = Emulator::new(engine).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let workos = WorkOsClient::builder("sk_test_emulator")
        .base_url(&base)
        .max_retries(0)
        .build()
        .unwrap();

    let mut stream = workos.stream_effective_permissions(
        &om,
        &ResourceRef::external("project", "proj_007"),
        &Pagination::default(),
    );
    let mut seen = Vec::new();
    while let Some(permission) = stream.next_item().await {
        seen.push(permission.expect("a page").slug);
    }
    assert_eq!(stream.pages_fetched(), 2);
    assert_eq!(slugs(seen.iter().map(String::as_str)), permissions);

    let mut stream = workos.stream_resources_for_membership(
        &om,
        &ListResourcesForMembership {
            permission_slug: "p:000".into(),
            parent: ResourceRef::external("organization", "org_1"),
            pagination: Pagination::default(),
        },
    );
    let mut listed = HashSet::new();
    while let Some(resource) = stream.next_item().await {
        let resource = resource.expect("a page");
        // The organization's own resource is not its own descendant.
        assert_eq!(resource.resource_type_slug, "project");
        listed.insert(resource.external_id);
    }
    assert_eq!((stream.pages_fetched(), listed.len()), (3, 250));

    let no_parent = reqwest::Client::new()
        .get(format!(
            "{base}/authorization/organization_memberships/{om}/resources?permission_slug=p:000"
        ))
        .bearer_auth("sk_test_emulator")
        .send()
        .await
        .unwrap();
    assert_eq!(no_parent.status(), 422);
    let body: serde_json::Value = no_parent.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "parent_resource_id", "{body}");
}
