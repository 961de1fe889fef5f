//! Policy files: the documented example loads in both formats, dumps load back to the same
//! state, and a bad file names its offending entry without touching the engine.

use workos_authz::check::ResourceRef;
use workos_authz::local::{EngineError, LocalEngine, MembershipStatus, Policy};

const DOCS: &str = include_str!("../../docs/local-engine.md");

/// The first fenced block of `language` in docs/local-engine.md.
fn documented_example(language: &str) -> &'static str {
    let fence = format!("```{language}\n");
    let start = DOCS.find(&fence).expect("the docs hold an example") + fence.len();
    let length = DOCS[start..].find("```").expect("the example is closed");
    &DOCS[start..start + length]
}

fn assert_example_semantics(engine: &LocalEngine) {
    let apollo = ResourceRef::external("project", "proj_apollo");
    let workspace = ResourceRef::external("workspace", "ws_engineering");
    let organization = ResourceRef::external("organization", "org_acme");
    assert!(
        engine
            .check("om_alice", "billing:manage", &organization)
            .unwrap()
    );
    assert!(engine.check("om_alice", "projects:write", &apollo).unwrap());
    assert!(engine.check("om_bob", "projects:write", &apollo).unwrap());
    assert!(engine.check("om_bob", "projects:read", &workspace).unwrap());
    assert!(
        !engine
            .check("om_bob", "projects:read", &organization)
            .unwrap()
    );
    assert!(!engine.check("om_bob", "billing:manage", &apollo).unwrap());
    assert!(
        !engine
            .check("om_carol", "billing:manage", &organization)
            .unwrap()
    );
    assert_eq!(
        engine.get_membership("om_carol").unwrap().status,
        MembershipStatus::Inactive
    );
    assert_eq!(
        engine.role_priority(),
        ["admin", "member", "viewer", "editor"]
    );
    assert_eq!(
        engine
            .get_organization_role("org_acme", "billing-clerk")
            .unwrap()
            .permissions,
        ["billing:manage"]
    );
}

#[test]
fn the_documented_toml_example_loads_with_the_documented_meaning() {
    let engine = LocalEngine::from_policy_toml(documented_example("toml")).unwrap();
    assert_example_semantics(&engine);
}

#[test]
fn the_documented_json_example_loads_with_the_documented_meaning() {
    let engine = LocalEngine::from_policy_json(documented_example("json")).unwrap();
    assert_example_semantics(&engine);
}

#[test]
fn a_dumped_policy_loads_back_to_the_same_state_in_json_and_toml() {
    let engine = LocalEngine::from_policy_toml(documented_example("toml")).unwrap();
    engine.set_multiple_roles(true).unwrap();
    engine
        .set_membership_roles("om_carol", &["viewer", "billing-clerk"])
        .unwrap();
    let dump = engine.dump_policy();
    let from_json = LocalEngine::from_policy_json(&dump.to_json()).unwrap();
    assert_eq!(from_json.dump_policy(), dump);
    let from_toml = LocalEngine::from_policy_toml(&dump.to_toml().unwrap()).unwrap();
    assert_eq!(from_toml.dump_policy(), dump);
    assert_example_semantics(&from_toml);
    assert_eq!(
        from_toml.get_membership("om_carol").unwrap().role_slugs,
        ["viewer", "billing-clerk"]
    );
}

#[test]
fn policy_files_are_read_by_extension() {
    let directory = tempfile::tempdir().unwrap();
    let toml_path = directory.path().join("acme.toml");
    std::fs::write(&toml_path, documented_example("toml")).unwrap();
    assert_example_semantics(&LocalEngine::load_policy_file(&toml_path).unwrap());
    let json_path = directory.path().join("acme.json");
    std::fs::write(&json_path, documented_example("json")).unwrap();
    assert_example_semantics(&LocalEngine::load_policy_file(&json_path).unwrap());
    let missing = LocalEngine::load_policy_file(directory.path().join("none.json")).unwrap_err();
    assert!(matches!(missing, EngineError::Io { .. }));
}

fn load_error(json: &str) -> String {
    LocalEngine::from_policy_json(json).unwrap_err().to_string()
}

#[test]
fn a_bad_policy_names_the_offending_entry() {
    let cases = [
        (
            r#"{"roles": [{"slug": "ok", "name": "Ok"}, {"slug": "Bad Slug", "name": "Bad"}]}"#,
            "roles[1].slug: ",
        ),
        (
            r#"{"permissions": [{"slug": "a", "name": "A"}, {"slug": "a", "name": "Again"}]}"#,
            "permissions[1]: a permission with slug a already exists",
        ),
        (
            r#"{"roles": [{"slug": "admin", "name": "Admin", "permissions": ["ghost"]}]}"#,
            "roles[0]: permission not found: ghost",
        ),
        (
            r#"{"settings": {"default_role": "ghost"}}"#,
            "settings.default_role: role not found: ghost",
        ),
        (
            r#"{"organizations": [{"id": "acme", "name": "Acme"}]}"#,
            "organizations[0].id: ",
        ),
        (
            r#"{"organizations": [{"id": "org_a", "name": "A"}],
                "organization_memberships": [{"user_id": "u", "organization_id": "org_b"}]}"#,
            "organization_memberships[0]: organization not found: org_b",
        ),
        (
            r#"{"organizations": [{"id": "org_a", "name": "A"}],
                "resources": [{"organization_id": "org_a", "resource_type_slug": "project",
                               "external_id": "p", "name": "P", "parent_resource_external_id": "x"}]}"#,
            "resources[0].parent_resource_type_slug: required with parent_resource_external_id",
        ),
        (
            r#"{"organizations": [{"id": "org_a", "name": "A"}],
                "organization_memberships": [{"id": "om_a", "user_id": "u", "organization_id": "org_a"}],
                "role_assignments": [{"organization_membership_id": "om_a", "role_slug": "member"}]}"#,
            "role_assignments[0].resource_id: ",
        ),
        (
            r#"{"permissions": [{"slug": "a", "name": "A", "created_at": "yesterday"}]}"#,
            "permissions[0].created_at: ",
        ),
        (
            // The shape of a timestamp, but no such month.
            r#"{"permissions": [{"slug": "a", "name": "A", "created_at": "2026-13-01T00:00:00Z"}]}"#,
            "permissions[0].created_at: ",
        ),
        (
            r#"{"permissions": [{"slug": "a", "name": "A", "updated_at": "2026-02-30T00:00:00Z"}]}"#,
            "permissions[0].updated_at: ",
        ),
        (
            r#"{"organizations": [{"id": "org_a", "name": "A"}],
                "resources": [{"organization_id": "org_a", "resource_type_slug": "project",
                               "external_id": "..", "name": "Up"}]}"#,
            "resources[0].external_id: ",
        ),
    ];
    for (json, expected) in cases {
        let message = load_error(json);
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn unknown_fields_and_syntax_errors_are_parse_errors() {
    let unknown = LocalEngine::from_policy_json(r#"{"rolez": []}"#).unwrap_err();
    assert!(matches!(unknown, EngineError::Parse { format: "JSON", .. }));
    assert!(unknown.to_string().contains("rolez"));
    let toml = LocalEngine::from_policy_toml("[[roles]]\nslug = ").unwrap_err();
    assert!(matches!(toml, EngineError::Parse { format: "TOML", .. }));
}

#[test]
fn a_bad_policy_never_yields_a_half_loaded_engine() {
    let engine = LocalEngine::from_policy_toml(documented_example("toml")).unwrap();
    let before = engine.dump_policy();
    let mut bad: Policy = before.clone();
    bad.role_assignments[0].role_slug = "ghost".into();
    let error = engine.replace_policy(&bad).unwrap_err();
    assert!(
        error.to_string().starts_with("role_assignments[0]"),
        "{error}"
    );
    assert_eq!(engine.dump_policy(), before);
    assert_example_semantics(&engine);
}

#[test]
fn an_empty_policy_is_a_fresh_environment_with_the_seeded_default_role() {
    let engine = LocalEngine::from_policy_json("{}").unwrap();
    assert_eq!(engine.default_role(), "member");
    assert_eq!(engine.role_priority(), ["member"]);
}
