//! Random models and random requests: `check`, the three queries and the `Authorizer` answer
//! must agree with a deliberately simple reference evaluator that reads the rules literally.

use std::collections::BTreeSet;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use workos_authz::check::{CheckRequest, Decision, ResourceRef};
use workos_authz::local::{
    AssignmentKind, LocalEngine, MembershipStatus, NewPermission, NewResource, NewRole,
};

const PERMISSIONS: [&str; 4] = ["p:0", "p:1", "p:2", "p:3"];
const ENVIRONMENT_ROLES: [&str; 5] = ["member", "r0", "r1", "r2", "r3"];

#[derive(Clone, Debug)]
struct OrganizationSpec {
    /// Permission bitmasks of the organization's own roles.
    role_masks: Vec<u8>,
    /// For resource `i`: its parent, modulo `i + 1` (0 = the root, `k` = resource `k - 1`).
    parents: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Spec {
    multiple_roles: bool,
    environment_role_masks: Vec<u8>,
    organizations: Vec<OrganizationSpec>,
    /// (organization, status, role picks)
    memberships: Vec<(usize, u8, Vec<usize>)>,
    /// (membership, role pick, resource pick)
    assignments: Vec<(usize, usize, usize)>,
    deleted_role: Option<usize>,
    /// (membership, permission, resource pick across all organizations)
    requests: Vec<(usize, usize, usize)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        vec(0u8..16, 5),
        vec(
            (vec(0u8..16, 0..=2), vec(any::<usize>(), 0..10)).prop_map(|(role_masks, parents)| {
                OrganizationSpec {
                    role_masks,
                    parents,
                }
            }),
            1..=3,
        ),
        vec((any::<usize>(), 0u8..3, vec(any::<usize>(), 0..=2)), 0..8),
        vec((any::<usize>(), any::<usize>(), any::<usize>()), 0..12),
        option::of(1usize..5),
        vec((any::<usize>(), 0usize..4, any::<usize>()), 1..24),
    )
        .prop_map(
            |(
                multiple_roles,
                environment_role_masks,
                organizations,
                memberships,
                assignments,
                deleted_role,
                requests,
            )| Spec {
                multiple_roles,
                environment_role_masks,
                organizations,
                memberships,
                assignments,
                deleted_role,
                requests,
            },
        )
}

fn permissions_of(mask: u8) -> Vec<&'static str> {
    (0..PERMISSIONS.len())
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| PERMISSIONS[bit])
        .collect()
}

/// The reference: plain vectors, no indexes.
#[derive(Default)]
struct Reference {
    /// (organization or None for environment, slug, permissions)
    roles: Vec<(Option<String>, String, Vec<&'static str>)>,
    /// (id, organization, parent)
    resources: Vec<(String, String, Option<String>)>,
    /// (id, organization, active, roles)
    memberships: Vec<(String, String, bool, Vec<String>)>,
    /// (membership, role, resource)
    assignments: Vec<(String, String, String)>,
}

impl Reference {
    fn roles_available_in(&self, organization: &str) -> Vec<String> {
        self.roles
            .iter()
            .filter(|(owner, _, _)| owner.as_deref().is_none_or(|o| o == organization))
            .map(|(_, slug, _)| slug.clone())
            .collect()
    }

    fn role_carries(&self, organization: &str, slug: &str, permission: &str) -> bool {
        self.roles.iter().any(|(owner, role, permissions)| {
            role == slug
                && owner.as_deref().is_none_or(|o| o == organization)
                && permissions.contains(&permission)
        })
    }

    fn organization_of(&self, resource: &str) -> &str {
        &self.resources.iter().find(|r| r.0 == resource).unwrap().1
    }

    /// The resource and every ancestor, following parents one by one.
    fn lineage(&self, resource: &str) -> Vec<String> {
        let mut lineage = vec![resource.to_owned()];
        while let Some((_, _, Some(parent))) =
            self.resources.iter().find(|r| Some(&r.0) == lineage.last())
        {
            lineage.push(parent.clone());
        }
        lineage
    }

    fn check(&self, membership: &str, permission: &str, resource: &str) -> bool {
        let (_, organization, active, roles) =
            self.memberships.iter().find(|m| m.0 == membership).unwrap();
        if !active || self.organization_of(resource) != organization {
            return false;
        }
        if roles
            .iter()
            .any(|role| self.role_carries(organization, role, permission))
        {
            return true;
        }
        self.lineage(resource).iter().any(|ancestor| {
            self.assignments.iter().any(|(m, role, on)| {
                m == membership
                    && on == ancestor
                    && self.role_carries(organization, role, permission)
            })
        })
    }

    fn direct(&self, membership: &str, permission: &str, resource: &str) -> bool {
        let (_, organization, active, _) =
            self.memberships.iter().find(|m| m.0 == membership).unwrap();
        *active
            && self.assignments.iter().any(|(m, role, on)| {
                m == membership
                    && on == resource
                    && self.role_carries(organization, role, permission)
            })
    }
}

fn build(spec: &Spec) -> (LocalEngine, Reference) {
    let engine = LocalEngine::new();
    let mut reference = Reference::default();
    for slug in PERMISSIONS {
        engine
            .create_permission(NewPermission::new(slug, slug))
            .unwrap();
    }
    engine.set_multiple_roles(spec.multiple_roles).unwrap();
    for (slug, mask) in ENVIRONMENT_ROLES.iter().zip(&spec.environment_role_masks) {
        let permissions = permissions_of(*mask);
        if *slug == "member" {
            engine
                .set_environment_role_permissions(slug, &permissions)
                .unwrap();
        } else {
            engine
                .create_environment_role(
                    NewRole::new(*slug, *slug).permissions(permissions.clone()),
                )
                .unwrap();
        }
        reference
            .roles
            .push((None, (*slug).to_owned(), permissions));
    }
    let mut organizations = Vec::new();
    for (index, organization_spec) in spec.organizations.iter().enumerate() {
        let organization = engine
            .create_organization_with_id(&format!("org_{index}"), "Org")
            .unwrap();
        let root = organization.root_resource_id.clone();
        reference
            .resources
            .push((root.clone(), organization.id.clone(), None));
        for (role_index, mask) in organization_spec.role_masks.iter().enumerate() {
            let slug = format!("o{index}r{role_index}");
            let permissions = permissions_of(*mask);
            engine
                .create_organization_role(
                    &organization.id,
                    NewRole::new(&slug, "Own").permissions(permissions.clone()),
                )
                .unwrap();
            reference
                .roles
                .push((Some(organization.id.clone()), slug, permissions));
        }
        let mut ids = vec![root];
        for (resource_index, parent_pick) in organization_spec.parents.iter().enumerate() {
            let parent = ids[parent_pick % (resource_index + 1)].clone();
            let resource = engine
                .create_resource(
                    NewResource::new(
                        &organization.id,
                        "thing",
                        format!("thing_{resource_index}"),
                        "Thing",
                    )
                    .parent(ResourceRef::id(&parent)),
                )
                .unwrap();
            reference
                .resources
                .push((resource.id.clone(), organization.id.clone(), Some(parent)));
            ids.push(resource.id);
        }
        organizations.push(organization.id);
    }
    for (index, (organization_pick, status, role_picks)) in spec.memberships.iter().enumerate() {
        let organization = &organizations[organization_pick % organizations.len()];
        let available = reference.roles_available_in(organization);
        let mut roles: Vec<String> = Vec::new();
        for pick in role_picks {
            let role = &available[pick % available.len()];
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        let status = [
            MembershipStatus::Active,
            MembershipStatus::Inactive,
            MembershipStatus::Pending,
        ][usize::from(*status)];
        let slugs: Vec<&str> = roles.iter().map(String::as_str).collect();
        let created = engine.create_membership_with_status(
            &format!("user_{index}"),
            organization,
            &slugs,
            status,
        );
        if roles.len() > 1 && !spec.multiple_roles {
            assert!(created.is_err(), "a second role needs multiple roles");
            continue;
        }
        let membership = created.unwrap();
        if roles.is_empty() {
            roles.push("member".to_owned());
        }
        reference.memberships.push((
            membership.id,
            organization.clone(),
            status == MembershipStatus::Active,
            roles,
        ));
    }
    for (membership_pick, role_pick, resource_pick) in &spec.assignments {
        if reference.memberships.is_empty() {
            break;
        }
        let (membership, organization, _, _) =
            reference.memberships[membership_pick % reference.memberships.len()].clone();
        let available = reference.roles_available_in(&organization);
        let role = available[role_pick % available.len()].clone();
        let in_organization: Vec<String> = reference
            .resources
            .iter()
            .filter(|r| r.1 == organization)
            .map(|r| r.0.clone())
            .collect();
        let resource = in_organization[resource_pick % in_organization.len()].clone();
        let assigned = engine.assign_role(&membership, &role, &ResourceRef::id(&resource));
        let triple = (membership, role, resource);
        if reference.assignments.contains(&triple) {
            assert!(assigned.is_err(), "a duplicate assignment is a conflict");
        } else {
            assigned.unwrap();
            reference.assignments.push(triple);
        }
    }
    if let Some(deleted) = spec.deleted_role {
        let slug = ENVIRONMENT_ROLES[deleted];
        engine.delete_environment_role(slug).unwrap();
        reference
            .roles
            .retain(|(owner, role, _)| owner.is_some() || role != slug);
        reference.assignments.retain(|(_, role, _)| role != slug);
        for (_, _, _, roles) in &mut reference.memberships {
            if roles.iter().any(|r| r == slug) {
                if spec.multiple_roles {
                    roles.retain(|r| r != slug);
                } else {
                    roles.clear();
                }
                if roles.is_empty() {
                    roles.push("member".to_owned());
                }
            }
        }
    }
    (engine, reference)
}

fn ids<T>(items: Vec<T>, id: impl Fn(T) -> String) -> BTreeSet<String> {
    items.into_iter().map(id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn check_and_queries_agree_with_the_reference_evaluator(spec in spec()) {
        let (engine, reference) = build(&spec);
        for (id, _, _, roles) in &reference.memberships {
            let held: BTreeSet<String> = engine.get_membership(id).unwrap().role_slugs.into_iter().collect();
            let expected: BTreeSet<String> = roles.iter().cloned().collect();
            prop_assert_eq!(held, expected);
        }
        if reference.memberships.is_empty() {
            return Ok(());
        }
        for (membership_pick, permission_pick, resource_pick) in &spec.requests {
            let (membership, organization, _, _) =
                &reference.memberships[membership_pick % reference.memberships.len()];
            let permission = PERMISSIONS[*permission_pick];
            let resource = &reference.resources[resource_pick % reference.resources.len()].0;
            let expected = reference.check(membership, permission, resource);
            prop_assert_eq!(
                engine.check(membership, permission, &ResourceRef::id(resource)).unwrap(),
                expected
            );
            let request = CheckRequest {
                organization_id: organization.clone(),
                organization_membership_id: membership.clone(),
                permission: permission.to_owned(),
                resource: ResourceRef::id(resource),
            };
            prop_assert_eq!(engine.decide(&request), Decision::from_authorized(expected));
            let elsewhere = CheckRequest { organization_id: "org_elsewhere".into(), ..request };
            prop_assert_eq!(engine.decide(&elsewhere), Decision::Deny);

            let same_organization = reference.organization_of(resource) == organization;
            if same_organization {
                let effective = ids(
                    engine.effective_permissions(membership, &ResourceRef::id(resource)).unwrap(),
                    |p| p.slug,
                );
                let expected_effective: BTreeSet<String> = PERMISSIONS
                    .iter()
                    .filter(|p| reference.check(membership, p, resource))
                    .map(|p| (*p).to_owned())
                    .collect();
                prop_assert_eq!(effective, expected_effective);

                let under = ids(
                    engine
                        .resources_for_membership(membership, permission, Some(&ResourceRef::id(resource)))
                        .unwrap(),
                    |r| r.id,
                );
                let expected_under: BTreeSet<String> = reference
                    .resources
                    .iter()
                    .filter(|r| r.0 != *resource && reference.lineage(&r.0).contains(resource))
                    .filter(|r| reference.check(membership, permission, &r.0))
                    .map(|r| r.0.clone())
                    .collect();
                prop_assert_eq!(under, expected_under);
            }

            let everywhere = ids(
                engine.resources_for_membership(membership, permission, None).unwrap(),
                |r| r.id,
            );
            let expected_everywhere: BTreeSet<String> = reference
                .resources
                .iter()
                .filter(|r| reference.check(membership, permission, &r.0))
                .map(|r| r.0.clone())
                .collect();
            prop_assert_eq!(everywhere, expected_everywhere);

            for (kind, holds) in [
                (AssignmentKind::Indirect, &Reference::check as &dyn Fn(&Reference, &str, &str, &str) -> bool),
                (AssignmentKind::Direct, &Reference::direct),
            ] {
                let listed = ids(
                    engine.memberships_for_resource(resource, permission, kind).unwrap(),
                    |m| m.id,
                );
                let expected_listed: BTreeSet<String> = reference
                    .memberships
                    .iter()
                    .filter(|m| holds(&reference, &m.0, permission, resource))
                    .map(|m| m.0.clone())
                    .collect();
                prop_assert_eq!(listed, expected_listed, "{:?}", kind);
            }
        }
    }
}
