//! One test per rule of the embedded engine, named after the rule.

use workos_authz::check::{Authorizer, CheckRequest, Decision, MembershipResolver, ResourceRef};
use workos_authz::local::{
    AssignmentKind, Changes, EngineError, LocalEngine, MembershipStatus, NewPermission,
    NewResource, NewRole, ResourceFilter, RoleType,
};

const READ: &str = "projects:read";
const WRITE: &str = "projects:write";

/// Acme with a workspace > project > document tree, roles `viewer` (read) and `editor`
/// (read, write), and a plain member `alice`.
struct Fixture {
    engine: LocalEngine,
    alice: String,
    workspace: String,
    project: String,
    document: String,
}

fn fixture() -> Fixture {
    let engine = LocalEngine::new();
    for slug in [READ, WRITE] {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine
        .create_environment_role(NewRole::new("viewer", "Viewer").permissions([READ]))
        .unwrap();
    engine
        .create_environment_role(NewRole::new("editor", "Editor").permissions([READ, WRITE]))
        .unwrap();
    engine
        .create_organization_with_id("org_acme", "Acme")
        .unwrap();
    let alice = engine
        .create_membership("user_alice", "org_acme", &[])
        .unwrap()
        .id;
    let workspace = engine
        .create_resource(NewResource::new("org_acme", "workspace", "ws_main", "Main"))
        .unwrap()
        .id;
    let project = engine
        .create_resource(
            NewResource::new("org_acme", "project", "proj_apollo", "Apollo")
                .parent(ResourceRef::id(&workspace)),
        )
        .unwrap()
        .id;
    let document = engine
        .create_resource(
            NewResource::new("org_acme", "document", "doc_plan", "Plan")
                .parent(ResourceRef::external("project", "proj_apollo")),
        )
        .unwrap()
        .id;
    Fixture {
        engine,
        alice,
        workspace,
        project,
        document,
    }
}

fn validation_field(error: EngineError) -> String {
    match error {
        EngineError::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn is_conflict(result: Result<impl std::fmt::Debug, EngineError>) -> bool {
    matches!(result, Err(EngineError::Conflict { .. }))
}

fn is_not_found(result: Result<impl std::fmt::Debug, EngineError>) -> bool {
    matches!(result, Err(EngineError::NotFound { .. }))
}

#[test]
fn role_slugs_allow_only_lowercase_letters_digits_hyphens_and_underscores() {
    let engine = LocalEngine::new();
    engine
        .create_environment_role(NewRole::new("billing-admin_2", "Billing"))
        .unwrap();
    for bad in ["Admin", "with space", "colon:role", "", "é"] {
        let error = engine
            .create_environment_role(NewRole::new(bad, "Bad"))
            .unwrap_err();
        assert_eq!(error.code(), "invalid_slug", "{bad:?}");
        assert_eq!(validation_field(error), "slug");
    }
}

#[test]
fn environment_role_slugs_are_unique_in_the_environment() {
    let engine = LocalEngine::new();
    engine
        .create_environment_role(NewRole::new("admin", "Admin"))
        .unwrap();
    assert!(is_conflict(
        engine.create_environment_role(NewRole::new("admin", "Again"))
    ));
    assert!(is_conflict(
        engine.create_environment_role(NewRole::new("member", "Seeded"))
    ));
}

#[test]
fn organization_role_slugs_are_unique_within_their_organization() {
    let engine = LocalEngine::new();
    engine.create_organization_with_id("org_a", "A").unwrap();
    engine.create_organization_with_id("org_b", "B").unwrap();
    let role = engine
        .create_organization_role("org_a", NewRole::new("auditor", "Auditor"))
        .unwrap();
    assert_eq!(role.role_type, RoleType::OrganizationRole);
    assert!(is_conflict(engine.create_organization_role(
        "org_a",
        NewRole::new("auditor", "Again")
    )));
    engine
        .create_organization_role("org_b", NewRole::new("auditor", "Auditor"))
        .unwrap();
    // An organization role cannot shadow an environment role, so a slug names one role.
    assert!(is_conflict(engine.create_organization_role(
        "org_a",
        NewRole::new("member", "Member")
    )));
    assert!(is_not_found(engine.create_organization_role(
        "org_missing",
        NewRole::new("x", "X")
    )));
}

#[test]
fn organization_role_slug_is_derived_from_the_name_when_omitted() {
    let engine = LocalEngine::new();
    engine.create_organization_with_id("org_a", "A").unwrap();
    let role = engine
        .create_organization_role("org_a", NewRole::new("", "Billing Admin"))
        .unwrap();
    assert_eq!(role.slug, "org-billing-admin");
}

#[test]
fn role_slugs_are_immutable_and_updates_change_only_name_and_description() {
    let engine = LocalEngine::new();
    engine
        .create_environment_role(NewRole::new("admin", "Admin"))
        .unwrap();
    let updated = engine
        .update_environment_role(
            "admin",
            Changes {
                name: Some("Super Admin".into()),
                description: Some("Everything".into()),
            },
        )
        .unwrap();
    assert_eq!(updated.slug, "admin");
    assert_eq!(updated.name, "Super Admin");
    assert_eq!(updated.description.as_deref(), Some("Everything"));
    let error = engine
        .update_environment_role(
            "admin",
            Changes {
                name: Some(" ".into()),
                description: None,
            },
        )
        .unwrap_err();
    assert_eq!(validation_field(error), "name");
}

#[test]
fn new_roles_go_to_the_bottom_of_the_priority_order_and_the_order_can_be_set() {
    let engine = LocalEngine::new();
    engine
        .create_environment_role(NewRole::new("admin", "Admin"))
        .unwrap();
    engine
        .create_environment_role(NewRole::new("viewer", "Viewer"))
        .unwrap();
    assert_eq!(engine.role_priority(), ["member", "admin", "viewer"]);
    engine
        .set_role_priority(&["admin", "viewer", "member"])
        .unwrap();
    let listed: Vec<String> = engine
        .list_environment_roles()
        .into_iter()
        .map(|r| r.slug)
        .collect();
    assert_eq!(listed, ["admin", "viewer", "member"]);
    assert!(engine.set_role_priority(&["admin", "viewer"]).is_err());
    assert!(
        engine
            .set_role_priority(&["admin", "admin", "member"])
            .is_err()
    );
    assert!(is_not_found(
        engine.set_role_priority(&["admin", "viewer", "ghost"])
    ));
}

#[test]
fn permission_slugs_allow_letters_digits_and_the_delimiters() {
    let engine = LocalEngine::new();
    for good in ["users:view", "Docs.Read-all_2", "admin:*"] {
        engine
            .create_permission(NewPermission::new(good, good))
            .unwrap();
    }
    for bad in ["has space", "slash/path", "", "emoji✓"] {
        let error = engine
            .create_permission(NewPermission::new(bad, "Bad"))
            .unwrap_err();
        assert_eq!(validation_field(error), "slug", "{bad:?}");
    }
    assert!(is_conflict(
        engine.create_permission(NewPermission::new("users:view", "Again"))
    ));
}

#[test]
fn role_permissions_can_be_set_added_and_removed_for_organization_roles() {
    let engine = LocalEngine::new();
    for slug in ["a:read", "a:write", "a:delete"] {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine
        .create_environment_role(NewRole::new("admin", "Admin"))
        .unwrap();
    let role = engine
        .set_environment_role_permissions("admin", &["a:write", "a:read", "a:read"])
        .unwrap();
    assert_eq!(role.permissions, ["a:read", "a:write"]);
    let role = engine
        .add_environment_role_permission("admin", "a:delete")
        .unwrap();
    assert_eq!(role.permissions, ["a:delete", "a:read", "a:write"]);
    let again = engine
        .add_environment_role_permission("admin", "a:delete")
        .unwrap();
    assert_eq!(again.permissions, role.permissions);
    assert!(is_not_found(
        engine.add_environment_role_permission("admin", "a:ghost")
    ));
    let cleared = engine
        .set_environment_role_permissions("admin", &[] as &[&str])
        .unwrap();
    assert!(cleared.permissions.is_empty());

    engine.create_organization_with_id("org_a", "A").unwrap();
    engine
        .create_organization_role("org_a", NewRole::new("auditor", "Auditor"))
        .unwrap();
    engine
        .set_organization_role_permissions("org_a", "auditor", &["a:read", "a:write"])
        .unwrap();
    let role = engine
        .remove_organization_role_permission("org_a", "auditor", "a:write")
        .unwrap();
    assert_eq!(role.permissions, ["a:read"]);
    assert!(is_not_found(engine.remove_organization_role_permission(
        "org_a", "auditor", "a:write"
    )));
}

#[test]
fn deleting_a_permission_removes_it_from_every_role() {
    let f = fixture();
    f.engine.delete_permission(READ).unwrap();
    assert_eq!(
        f.engine.get_environment_role("editor").unwrap().permissions,
        [WRITE]
    );
    assert!(is_not_found(f.engine.get_permission(READ)));
}

#[test]
fn member_is_seeded_as_the_default_role_and_cannot_be_deleted() {
    let engine = LocalEngine::new();
    assert_eq!(engine.default_role(), "member");
    assert_eq!(
        engine.get_environment_role("member").unwrap().role_type,
        RoleType::EnvironmentRole
    );
    let error = engine.delete_environment_role("member").unwrap_err();
    assert_eq!(error.code(), "default_role_cannot_be_deleted");
    assert!(engine.get_environment_role("member").is_ok());
}

#[test]
fn another_role_can_be_made_default_and_the_old_one_deleted() {
    let engine = LocalEngine::new();
    engine
        .create_environment_role(NewRole::new("viewer", "Viewer"))
        .unwrap();
    engine.create_organization_with_id("org_a", "A").unwrap();
    let before = engine.create_membership("user_1", "org_a", &[]).unwrap();
    assert_eq!(before.role_slugs, ["member"]);
    engine.set_default_role("viewer").unwrap();
    assert!(is_not_found(engine.set_default_role("ghost")));
    engine.delete_environment_role("member").unwrap();
    assert_eq!(
        engine.get_membership(&before.id).unwrap().role_slugs,
        ["viewer"]
    );
    let after = engine.create_membership("user_2", "org_a", &[]).unwrap();
    assert_eq!(after.role_slugs, ["viewer"]);
}

#[test]
fn a_membership_without_an_explicit_role_has_the_default_role() {
    let f = fixture();
    assert_eq!(
        f.engine.get_membership(&f.alice).unwrap().role_slugs,
        ["member"]
    );
}

#[test]
fn multiple_roles_is_off_by_default_and_then_a_membership_has_one_role() {
    let f = fixture();
    assert!(!f.engine.multiple_roles());
    let error = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer", "editor"])
        .unwrap_err();
    assert_eq!(error.code(), "multiple_roles_disabled");
    assert_eq!(validation_field(error), "role_slugs");
    f.engine.set_multiple_roles(true).unwrap();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer", "editor"])
        .unwrap();
    assert_eq!(bob.role_slugs, ["viewer", "editor"]);
}

#[test]
fn turning_multiple_roles_off_keeps_the_highest_priority_role() {
    let f = fixture();
    f.engine.set_multiple_roles(true).unwrap();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer", "editor"])
        .unwrap();
    f.engine
        .set_role_priority(&["editor", "viewer", "member"])
        .unwrap();
    assert_eq!(
        f.engine.get_membership(&bob.id).unwrap().role_slugs,
        ["editor", "viewer"]
    );
    f.engine.set_multiple_roles(false).unwrap();
    assert_eq!(
        f.engine.get_membership(&bob.id).unwrap().role_slugs,
        ["editor"]
    );
}

#[test]
fn deleting_a_role_in_single_role_mode_reassigns_the_default_role() {
    let f = fixture();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["editor"])
        .unwrap();
    f.engine
        .assign_role(&f.alice, "editor", &ResourceRef::id(&f.project))
        .unwrap();
    f.engine.delete_environment_role("editor").unwrap();
    assert_eq!(
        f.engine.get_membership(&bob.id).unwrap().role_slugs,
        ["member"]
    );
    assert!(f.engine.list_role_assignments(&f.alice).unwrap().is_empty());
    assert!(
        !f.engine
            .check(&bob.id, WRITE, &ResourceRef::id(&f.project))
            .unwrap()
    );
}

#[test]
fn deleting_a_role_in_multiple_roles_mode_removes_it_and_keeps_the_other_roles() {
    let f = fixture();
    f.engine.set_multiple_roles(true).unwrap();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer", "editor"])
        .unwrap();
    let carol = f
        .engine
        .create_membership("user_carol", "org_acme", &["editor"])
        .unwrap();
    f.engine.delete_environment_role("editor").unwrap();
    assert_eq!(
        f.engine.get_membership(&bob.id).unwrap().role_slugs,
        ["viewer"]
    );
    // Left with no role at all, a membership has the default role.
    assert_eq!(
        f.engine.get_membership(&carol.id).unwrap().role_slugs,
        ["member"]
    );
}

#[test]
fn deleting_an_organization_role_affects_only_that_organization() {
    let f = fixture();
    f.engine
        .create_organization_role("org_acme", NewRole::new("auditor", "Auditor"))
        .unwrap();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["auditor"])
        .unwrap();
    f.engine
        .delete_organization_role("org_acme", "auditor")
        .unwrap();
    assert_eq!(
        f.engine.get_membership(&bob.id).unwrap().role_slugs,
        ["member"]
    );
    assert!(is_not_found(
        f.engine.get_organization_role("org_acme", "auditor")
    ));
}

#[test]
fn organization_roles_list_includes_environment_roles_then_their_own() {
    let f = fixture();
    f.engine
        .create_organization_role("org_acme", NewRole::new("auditor", "Auditor"))
        .unwrap();
    let slugs: Vec<String> = f
        .engine
        .list_organization_roles("org_acme")
        .unwrap()
        .into_iter()
        .map(|r| r.slug)
        .collect();
    assert_eq!(slugs, ["member", "viewer", "editor", "auditor"]);
}

#[test]
fn memberships_have_a_user_an_organization_a_status_and_are_listed_by_user_or_organization() {
    let f = fixture();
    f.engine
        .create_organization_with_id("org_beta", "Beta")
        .unwrap();
    let elsewhere = f
        .engine
        .create_membership("user_alice", "org_beta", &[])
        .unwrap();
    assert!(elsewhere.id.starts_with("om_"));
    assert_eq!(elsewhere.status, MembershipStatus::Active);
    assert_eq!(f.engine.list_memberships(Some("user_alice"), None).len(), 2);
    assert_eq!(
        f.engine
            .list_memberships(Some("user_alice"), Some("org_beta"))
            .len(),
        1
    );
    assert!(is_conflict(f.engine.create_membership(
        "user_alice",
        "org_beta",
        &[]
    )));
    let pending = f
        .engine
        .set_membership_status(&elsewhere.id, MembershipStatus::Pending)
        .unwrap();
    assert_eq!(pending.status, MembershipStatus::Pending);
    assert!(
        f.engine
            .active_membership("user_alice", "org_beta")
            .is_none()
    );
    assert!(is_not_found(f.engine.create_membership(
        "user_x",
        "org_missing",
        &[]
    )));
    let error = f
        .engine
        .create_membership("user_x", "org_acme", &["ghost"])
        .unwrap_err();
    assert_eq!(validation_field(error), "role_slugs[0]");
}

#[test]
fn every_organization_has_a_root_resource_that_cannot_be_changed_or_deleted() {
    let f = fixture();
    let organization = f.engine.get_organization("org_acme").unwrap();
    let root = f.engine.root_resource("org_acme").unwrap();
    assert_eq!(root.id, organization.root_resource_id);
    assert!(root.id.starts_with("authz_resource_"));
    assert_eq!(root.resource_type_slug, "organization");
    assert_eq!(root.external_id, "org_acme");
    assert_eq!(root.parent_resource_id, None);
    assert_eq!(
        f.engine
            .find_resource(
                "org_acme",
                &ResourceRef::external("organization", "org_acme")
            )
            .unwrap()
            .id,
        root.id
    );
    assert_eq!(
        f.engine.delete_resource(&root.id, true).unwrap_err().code(),
        "organization_resource_immutable"
    );
    assert!(
        f.engine
            .update_resource(&root.id, Changes::default())
            .is_err()
    );
    let error = f
        .engine
        .create_resource(NewResource::new("org_acme", "organization", "x", "X"))
        .unwrap_err();
    assert_eq!(validation_field(error), "resource_type_slug");
}

#[test]
fn resources_default_to_the_organization_root_as_parent() {
    let f = fixture();
    let workspace = f.engine.get_resource(&f.workspace).unwrap();
    assert_eq!(
        workspace.parent_resource_id,
        Some(f.engine.root_resource("org_acme").unwrap().id)
    );
    let document = f.engine.get_resource(&f.document).unwrap();
    assert_eq!(
        document.parent_resource_id.as_deref(),
        Some(f.project.as_str())
    );
}

#[test]
fn external_ids_are_unique_per_organization_and_type() {
    let f = fixture();
    assert!(is_conflict(f.engine.create_resource(NewResource::new(
        "org_acme",
        "project",
        "proj_apollo",
        "Again"
    ))));
    f.engine
        .create_resource(NewResource::new(
            "org_acme",
            "folder",
            "proj_apollo",
            "Other type",
        ))
        .unwrap();
    f.engine
        .create_organization_with_id("org_beta", "Beta")
        .unwrap();
    f.engine
        .create_resource(NewResource::new(
            "org_beta",
            "project",
            "proj_apollo",
            "Other org",
        ))
        .unwrap();
    let by_external = f
        .engine
        .get_resource_by_external_id("org_acme", "project", "proj_apollo")
        .unwrap();
    assert_eq!(by_external.id, f.project);
}

#[test]
fn a_parent_must_exist_in_the_same_organization() {
    let f = fixture();
    f.engine
        .create_organization_with_id("org_beta", "Beta")
        .unwrap();
    let error = f
        .engine
        .create_resource(
            NewResource::new("org_beta", "project", "p", "P").parent(ResourceRef::id(&f.project)),
        )
        .unwrap_err();
    assert_eq!(validation_field(error), "parent_resource_id");
    assert!(is_not_found(
        f.engine.create_resource(
            NewResource::new("org_acme", "project", "p", "P")
                .parent(ResourceRef::id("authz_resource_ghost"))
        )
    ));
}

#[test]
fn resources_can_be_updated_and_listed_with_filters() {
    let f = fixture();
    let updated = f
        .engine
        .update_resource(
            &f.project,
            Changes {
                name: Some("Apollo 11".into()),
                description: Some("Moon".into()),
            },
        )
        .unwrap();
    assert_eq!(updated.name, "Apollo 11");
    assert_eq!(updated.external_id, "proj_apollo");
    let projects = f.engine.list_resources(&ResourceFilter {
        organization_id: Some("org_acme".into()),
        resource_type_slug: Some("project".into()),
        parent_resource_id: None,
    });
    assert_eq!(projects.len(), 1);
    let children = f.engine.list_resources(&ResourceFilter {
        parent_resource_id: Some(f.workspace.clone()),
        ..ResourceFilter::default()
    });
    assert_eq!(children[0].id, f.project);
    // the root plus three resources, in creation order
    let all = f.engine.list_resources(&ResourceFilter::default());
    assert_eq!(all.len(), 4);
    assert_eq!(all[1].id, f.workspace);
}

#[test]
fn deleting_a_resource_with_children_refuses_unless_cascade_is_asked() {
    let f = fixture();
    f.engine
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.document))
        .unwrap();
    assert!(is_conflict(f.engine.delete_resource(&f.workspace, false)));
    assert!(f.engine.get_resource(&f.document).is_ok());
    f.engine.delete_resource(&f.workspace, true).unwrap();
    for gone in [&f.workspace, &f.project, &f.document] {
        assert!(is_not_found(f.engine.get_resource(gone)));
    }
    assert!(f.engine.list_role_assignments(&f.alice).unwrap().is_empty());
    // the external id is free again
    f.engine
        .create_resource(NewResource::new(
            "org_acme",
            "project",
            "proj_apollo",
            "Again",
        ))
        .unwrap();
}

#[test]
fn a_leaf_resource_is_deleted_without_cascade() {
    let f = fixture();
    f.engine.delete_resource(&f.document, false).unwrap();
    f.engine.delete_resource(&f.project, false).unwrap();
    assert!(is_not_found(f.engine.delete_resource(&f.project, false)));
}

#[test]
fn role_assignments_are_listed_removed_and_removed_by_id() {
    let f = fixture();
    let on_project = f
        .engine
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.project))
        .unwrap();
    assert!(on_project.id.starts_with("ra_"));
    assert_eq!(on_project.resource_external_id, "proj_apollo");
    let on_document = f
        .engine
        .assign_role(
            &f.alice,
            "editor",
            &ResourceRef::external("document", "doc_plan"),
        )
        .unwrap();
    assert!(is_conflict(f.engine.assign_role(
        &f.alice,
        "viewer",
        &ResourceRef::id(&f.project)
    )));
    assert!(is_not_found(f.engine.assign_role(
        &f.alice,
        "ghost",
        &ResourceRef::id(&f.project)
    )));
    let listed = f.engine.list_role_assignments(&f.alice).unwrap();
    assert_eq!(listed, [on_project.clone(), on_document.clone()]);
    assert_eq!(
        f.engine
            .list_role_assignments_for_resource(&f.project)
            .unwrap(),
        std::slice::from_ref(&on_project)
    );
    f.engine
        .remove_role(
            &f.alice,
            "viewer",
            &ResourceRef::external("project", "proj_apollo"),
        )
        .unwrap();
    assert!(is_not_found(f.engine.remove_role(
        &f.alice,
        "viewer",
        &ResourceRef::id(&f.project)
    )));
    f.engine
        .remove_role_assignment(&f.alice, &on_document.id)
        .unwrap();
    assert!(is_not_found(
        f.engine.remove_role_assignment(&f.alice, &on_document.id)
    ));
    assert!(f.engine.list_role_assignments(&f.alice).unwrap().is_empty());
}

#[test]
fn check_allows_a_role_carrying_the_permission_assigned_on_the_resource() {
    let f = fixture();
    let project = ResourceRef::id(&f.project);
    assert!(!f.engine.check(&f.alice, READ, &project).unwrap());
    f.engine.assign_role(&f.alice, "viewer", &project).unwrap();
    assert!(f.engine.check(&f.alice, READ, &project).unwrap());
    assert!(!f.engine.check(&f.alice, WRITE, &project).unwrap());
}

#[test]
fn check_inherits_a_role_assigned_on_any_ancestor_but_not_on_a_descendant() {
    let f = fixture();
    f.engine
        .assign_role(&f.alice, "editor", &ResourceRef::id(&f.workspace))
        .unwrap();
    for resource in [&f.workspace, &f.project, &f.document] {
        assert!(
            f.engine
                .check(&f.alice, WRITE, &ResourceRef::id(resource))
                .unwrap()
        );
    }
    let g = fixture();
    g.engine
        .assign_role(&g.alice, "editor", &ResourceRef::id(&g.document))
        .unwrap();
    assert!(
        !g.engine
            .check(&g.alice, WRITE, &ResourceRef::id(&g.project))
            .unwrap()
    );
}

#[test]
fn check_allows_an_organization_level_role_on_every_resource_of_the_organization() {
    let f = fixture();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer"])
        .unwrap();
    for resource in [&f.workspace, &f.project, &f.document] {
        assert!(
            f.engine
                .check(&bob.id, READ, &ResourceRef::id(resource))
                .unwrap()
        );
    }
    assert!(
        f.engine
            .check(
                &bob.id,
                READ,
                &ResourceRef::external("organization", "org_acme")
            )
            .unwrap()
    );
    assert!(
        !f.engine
            .check(&bob.id, WRITE, &ResourceRef::id(&f.document))
            .unwrap()
    );
}

#[test]
fn a_membership_that_is_not_active_is_never_authorized() {
    let f = fixture();
    f.engine
        .assign_role(&f.alice, "editor", &ResourceRef::id(&f.project))
        .unwrap();
    for status in [MembershipStatus::Inactive, MembershipStatus::Pending] {
        f.engine.set_membership_status(&f.alice, status).unwrap();
        assert!(
            !f.engine
                .check(&f.alice, READ, &ResourceRef::id(&f.project))
                .unwrap()
        );
        assert!(
            f.engine
                .effective_permissions(&f.alice, &ResourceRef::id(&f.project))
                .unwrap()
                .is_empty()
        );
    }
    f.engine
        .set_membership_status(&f.alice, MembershipStatus::Active)
        .unwrap();
    assert!(
        f.engine
            .check(&f.alice, READ, &ResourceRef::id(&f.project))
            .unwrap()
    );
}

#[test]
fn a_resource_of_another_organization_is_never_authorized() {
    let f = fixture();
    f.engine
        .create_organization_with_id("org_beta", "Beta")
        .unwrap();
    let theirs = f
        .engine
        .create_resource(NewResource::new(
            "org_beta",
            "project",
            "proj_apollo",
            "Theirs",
        ))
        .unwrap();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["editor"])
        .unwrap();
    assert!(
        !f.engine
            .check(&bob.id, READ, &ResourceRef::id(&theirs.id))
            .unwrap()
    );
    assert!(is_not_found(f.engine.assign_role(
        &bob.id,
        "editor",
        &ResourceRef::external("workspace", "ws_beta")
    )));
    assert!(
        f.engine
            .assign_role(&bob.id, "editor", &ResourceRef::id(&theirs.id))
            .is_err()
    );
}

#[test]
fn check_reports_unknown_memberships_and_resources_as_not_found() {
    let f = fixture();
    assert!(is_not_found(f.engine.check(
        "om_ghost",
        READ,
        &ResourceRef::id(&f.project)
    )));
    assert!(is_not_found(f.engine.check(
        &f.alice,
        READ,
        &ResourceRef::external("project", "ghost")
    )));
}

#[tokio::test]
async fn the_authorizer_denies_across_organizations_and_for_unknown_entities() {
    let f = fixture();
    f.engine
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.project))
        .unwrap();
    f.engine
        .create_organization_with_id("org_beta", "Beta")
        .unwrap();
    let request = |organization: &str, membership: &str, resource: ResourceRef| CheckRequest {
        organization_id: organization.into(),
        organization_membership_id: membership.into(),
        permission: READ.into(),
        resource,
    };
    let authorizer: &dyn Authorizer = &f.engine;
    let allowed = request(
        "org_acme",
        &f.alice,
        ResourceRef::external("project", "proj_apollo"),
    );
    assert_eq!(authorizer.check(&allowed).await.unwrap(), Decision::Allow);
    for denied in [
        request(
            "org_beta",
            &f.alice,
            ResourceRef::external("project", "proj_apollo"),
        ),
        request("org_beta", &f.alice, ResourceRef::id(&f.project)),
        request("org_acme", "om_ghost", ResourceRef::id(&f.project)),
        request(
            "org_acme",
            &f.alice,
            ResourceRef::external("project", "ghost"),
        ),
        request("org_acme", &f.alice, ResourceRef::id(&f.workspace)),
    ] {
        assert_eq!(
            authorizer.check(&denied).await.unwrap(),
            Decision::Deny,
            "{denied:?}"
        );
    }
}

#[tokio::test]
async fn the_membership_resolver_finds_only_active_memberships() {
    let f = fixture();
    let resolver: &dyn MembershipResolver = &f.engine;
    assert_eq!(
        resolver.resolve("user_alice", "org_acme").await.unwrap(),
        Some(f.alice.clone())
    );
    assert_eq!(
        resolver.resolve("user_bob", "org_acme").await.unwrap(),
        None
    );
    f.engine
        .set_membership_status(&f.alice, MembershipStatus::Inactive)
        .unwrap();
    assert_eq!(
        resolver.resolve("user_alice", "org_acme").await.unwrap(),
        None
    );
}

#[test]
fn resources_for_a_membership_are_those_it_can_act_on_optionally_under_a_parent() {
    let f = fixture();
    f.engine
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.project))
        .unwrap();
    let ids = |parent: Option<&ResourceRef>| -> Vec<String> {
        f.engine
            .resources_for_membership(&f.alice, READ, parent)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(None), [f.project.clone(), f.document.clone()]);
    assert_eq!(
        ids(Some(&ResourceRef::id(&f.project))),
        std::slice::from_ref(&f.document)
    );
    assert_eq!(
        ids(Some(&ResourceRef::id(&f.workspace))),
        [f.project.clone(), f.document.clone()]
    );
    assert!(
        f.engine
            .resources_for_membership(&f.alice, WRITE, None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn memberships_for_a_resource_are_direct_or_through_inheritance() {
    let f = fixture();
    let bob = f
        .engine
        .create_membership("user_bob", "org_acme", &["viewer"])
        .unwrap();
    f.engine
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.project))
        .unwrap();
    let ids = |resource: &str, kind| -> Vec<String> {
        f.engine
            .memberships_for_resource(resource, READ, kind)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(
        ids(&f.project, AssignmentKind::Direct),
        std::slice::from_ref(&f.alice)
    );
    assert!(ids(&f.document, AssignmentKind::Direct).is_empty());
    assert_eq!(
        ids(&f.document, AssignmentKind::Indirect),
        [f.alice.clone(), bob.id.clone()]
    );
    assert_eq!(ids(&f.workspace, AssignmentKind::Indirect), [bob.id]);
}

#[test]
fn effective_permissions_combine_organization_roles_and_inherited_assignments() {
    let f = fixture();
    f.engine
        .create_permission(NewPermission::new("org:billing", "Billing"))
        .unwrap();
    f.engine
        .set_environment_role_permissions("member", &["org:billing"])
        .unwrap();
    f.engine
        .assign_role(&f.alice, "editor", &ResourceRef::id(&f.project))
        .unwrap();
    let slugs = |resource: &str| -> Vec<String> {
        f.engine
            .effective_permissions(&f.alice, &ResourceRef::id(resource))
            .unwrap()
            .into_iter()
            .map(|p| p.slug)
            .collect()
    };
    assert_eq!(slugs(&f.document), ["org:billing", READ, WRITE]);
    assert_eq!(slugs(&f.workspace), ["org:billing"]);
    assert_eq!(
        f.engine.organization_permissions(&f.alice).unwrap(),
        ["org:billing"]
    );
}

#[test]
fn errors_name_the_entity_the_field_and_the_rule() {
    let engine = LocalEngine::new();
    let not_found = engine.get_environment_role("ghost").unwrap_err();
    assert_eq!(not_found.to_string(), "role not found: ghost");
    assert_eq!(not_found.code(), "entity_not_found");
    let invalid = engine
        .create_permission(NewPermission::new("ok:slug", ""))
        .unwrap_err();
    assert_eq!(invalid.to_string(), "name: must not be empty");
    assert_eq!(invalid.code(), "required");
    engine
        .create_permission(NewPermission::new("a", "A"))
        .unwrap();
    let conflict = engine
        .create_permission(NewPermission::new("a", "A"))
        .unwrap_err();
    assert_eq!(conflict.code(), "entity_conflict");
    assert!(conflict.to_string().contains("slug a already exists"));
}

#[test]
fn a_refused_change_leaves_the_state_and_the_revision_unchanged() {
    let f = fixture();
    let before = f.engine.dump_policy();
    let revision = f.engine.revision();
    assert!(
        f.engine
            .set_environment_role_permissions("editor", &[READ, "ghost:perm"])
            .is_err()
    );
    assert!(f.engine.delete_resource(&f.workspace, false).is_err());
    assert_eq!(f.engine.dump_policy(), before);
    assert_eq!(f.engine.revision(), revision);
    f.engine
        .create_permission(NewPermission::new("x", "X"))
        .unwrap();
    assert!(f.engine.revision() > revision);
}

#[test]
fn clones_share_one_model() {
    let f = fixture();
    let clone = f.engine.clone();
    clone
        .assign_role(&f.alice, "viewer", &ResourceRef::id(&f.project))
        .unwrap();
    assert!(
        f.engine
            .check(&f.alice, READ, &ResourceRef::id(&f.project))
            .unwrap()
    );
}
