//! The questions of list and detail pages, beside the guards' one: which resources may the
//! member act on ([`Authz::accessible_resources`]), which permissions does it hold on one
//! ([`Authz::effective_permissions`]), and many checks at once ([`Authz::check_many`]).
//!
//! Each applies the resource policy of `handle.rs` (the session's organization, the claims
//! shortcut, the membership from the claim or the cached lookup) and asks the authority
//! through the decision cache, under the rule of every remote call (single flight, one
//! deadline, errors never cached): an authority that cannot answer is 503, never an allow and
//! never a shorter list.

use std::collections::HashMap;

use super::handle::{Authority, Authz, Prejudged, unavailable};
use crate::check::{
    AccessibleResources, AuthorizerError, CachedAuthorizer, CheckRequest, Decision,
    EffectivePermissions, ListRequest, PermissionsRequest, ResourceRef, ResourceSet,
};
use crate::limits::{is_valid_external_id, quote};
use crate::rejection::AuthzRejection;
use crate::session::Session;
use crate::slug::{is_valid_permission_slug, is_valid_resource_type_slug};

/// How many of [`Authz::check_many`]'s cache misses are asked at once, by default.
pub(super) const DEFAULT_CHECK_MANY_CONCURRENCY: usize = 8;

/// The type of an organization's own resource, the root of its tree.
const ORGANIZATION_TYPE: &str = "organization";

/// The longest resource id accepted from a caller, as for a guard's route parameter.
const MAX_RESOURCE_ID_BYTES: usize = 256;

impl Authz {
    /// The resources of type `resource_type` under `parent` (the session's organization when
    /// `None`) on which the session's member may use `permission`, for a list page.
    ///
    /// - [`AccessibleResources::All`] when the token's own permissions hold `permission`
    ///   (an organization-level role applies to every resource of the organization), with no
    ///   remote call; only for a parent known to be in the organization (the organization
    ///   itself, a parent named by external id, or one the embedded engine finds there), and
    ///   only with the claims shortcut on.
    /// - Otherwise [`AccessibleResources::Only`], every resource the authority lists, read
    ///   page by page to the end (WorkOS: `limit=100` and the `after` cursor; the engine:
    ///   its own query, inheritance down the tree included). Cached per (organization,
    ///   membership, permission, type, parent) for the allow TTL; dropped by the same
    ///   invalidations as decisions; concurrent misses make one walk.
    ///
    /// Refusals: 403 for a session without organization, 400 for a malformed slug or parent,
    /// 503 when the authority does not answer within the upstream timeout (nothing cached),
    /// 500 for a list longer than
    /// [`max_listed_resources`](crate::check::CachedAuthorizerBuilder::max_listed_resources)
    /// (never a list cut short).
    ///
    /// ```
    /// use axum::{Extension, Json, Router, response::Response, routing::get};
    /// use serde_json::{Value, json};
    /// use workos_authz::check::QueryFilter;
    /// use workos_authz::{Authz, Session};
    ///
    /// async fn list_projects(
    ///     authz: Authz,
    ///     session: Session,
    /// ) -> Result<Json<Value>, Response> {
    ///     let projects = authz
    ///         .accessible_resources(&session, "projects:read", "project", None)
    ///         .await
    ///         .map_err(|rejection| authz.reject(&rejection))?;
    ///     // The application's own query, inside the session's organization.
    ///     let sql = match projects.query_filter() {
    ///         QueryFilter::All => "SELECT id, name FROM projects WHERE org_id = $1",
    ///         QueryFilter::AnyOf(_ids) => "SELECT id, name FROM projects WHERE org_id = $1 AND id = ANY($2)",
    ///         _ => return Ok(Json(json!({ "projects": [] }))),
    ///     };
    ///     Ok(Json(json!({ "query": sql })))
    /// }
    ///
    /// # fn main() -> Result<(), workos_authz::ConfigError> {
    /// let authz = Authz::embedded()?;
    /// let app: Router = Router::new().route("/projects", get(list_projects)).layer(authz.layer());
    /// # Ok(()) }
    /// ```
    pub async fn accessible_resources(
        &self,
        session: &Session,
        permission: &str,
        resource_type: &str,
        parent: Option<&ResourceRef>,
    ) -> Result<AccessibleResources, AuthzRejection> {
        let (organization_id, authority) = self.scope(session)?;
        valid_permission(permission)?;
        if !is_valid_resource_type_slug(resource_type) {
            return Err(AuthzRejection::BadRequest(format!(
                "invalid resource type slug {}",
                quote(resource_type)
            )));
        }
        if let Some(parent) = parent {
            valid_resource(parent)?;
        }
        // The organization's own resource is the default parent, said another way.
        let parent = parent.filter(|parent| !is_organization(parent, organization_id));
        let in_organization = match parent {
            None => Some(true),
            Some(parent) => authority.in_organization(organization_id, parent),
        };
        match in_organization {
            Some(false) => return Ok(AccessibleResources::Only(ResourceSet::new([]))),
            Some(true) if authority.claims_shortcut && session.has_permission(permission) => {
                return Ok(AccessibleResources::All);
            }
            _ => {}
        }
        let Some(membership) = authority.membership(session, organization_id).await? else {
            return Ok(AccessibleResources::Only(ResourceSet::new([])));
        };
        let request = ListRequest {
            organization_id: organization_id.to_owned(),
            organization_membership_id: membership,
            permission: permission.to_owned(),
            resource_type: resource_type.to_owned(),
            parent: parent.cloned(),
        };
        authority
            .decisions
            .accessible_resources(&request)
            .await
            .map(AccessibleResources::Only)
            .map_err(|error| refusal("list of accessible resources", &error))
    }

    /// Every permission the session's member holds on `resource`, for a detail page that
    /// shows only the actions it allows: WorkOS's effective-permissions endpoint (every
    /// page), or the engine's.
    ///
    /// Cached per (organization, membership, resource) for the deny TTL, dropped by the same
    /// invalidations as decisions, one call for concurrent misses; and it answers later
    /// guards and checks on the same resource (named the same way) without a `check` call:
    /// each permission it holds is cached as an allow (allow TTL), and each permission it
    /// omits is a deny while the set is fresh. Omitted covers every slug, unknown ones
    /// included: the set comes from the same sources a check consults (roles on the
    /// resource, on its ancestors, organization-level roles). It covers none when the set
    /// holds a wildcard slug (`*`): an authority may read `projects:*` as granting
    /// `projects:read`, so such a set answers only the slugs it holds.
    ///
    /// A resource the authority knows is outside the organization, or a user without an
    /// active membership, holds nothing (an empty set, no call). Refusals as for
    /// [`Authz::accessible_resources`].
    pub async fn effective_permissions(
        &self,
        session: &Session,
        resource: &ResourceRef,
    ) -> Result<EffectivePermissions, AuthzRejection> {
        let (organization_id, authority) = self.scope(session)?;
        valid_resource(resource)?;
        let nothing = || EffectivePermissions::new(resource.clone(), []);
        if authority.in_organization(organization_id, resource) == Some(false) {
            return Ok(nothing());
        }
        let Some(membership) = authority.membership(session, organization_id).await? else {
            return Ok(nothing());
        };
        let request = PermissionsRequest {
            organization_id: organization_id.to_owned(),
            organization_membership_id: membership,
            resource: resource.clone(),
        };
        authority
            .decisions
            .effective_permissions(&request)
            .await
            .map_err(|error| refusal("effective permissions", &error))
    }

    /// One decision per `(permission, resource)` pair, in input order, for a dashboard.
    ///
    /// Each pair follows a guard's policy (ownership, the claims shortcut, the membership)
    /// and then the decision cache, shared with the guards: a fresh decision answers at once,
    /// and a miss joins the guards' single flight for that key, so concurrent guards and
    /// batches make one call. Duplicate pairs are asked once. A resource with several
    /// missing permissions is asked once, for its effective permissions (which then answer
    /// later guards too); a resource with one, with a `check`. At most
    /// [`check_many_concurrency`](crate::AuthzBuilder::check_many_concurrency) (default 8)
    /// questions are in flight at once.
    ///
    /// A pair that fails (a malformed slug or resource: 400; the authority could not answer:
    /// 503) makes only its own entry an error. The whole batch is refused only for what every
    /// pair shares: a session without organization (403), no authority (500), the membership
    /// lookup failing (503).
    pub async fn check_many<P: AsRef<str>>(
        &self,
        session: &Session,
        pairs: impl IntoIterator<Item = (P, ResourceRef)>,
    ) -> Result<Vec<Result<Decision, AuthzRejection>>, AuthzRejection> {
        let (organization_id, authority) = self.scope(session)?;
        let pairs: Vec<(P, ResourceRef)> = pairs.into_iter().collect();
        let mut answers: Vec<Option<Result<Decision, AuthzRejection>>> = Vec::new();
        answers.resize_with(pairs.len(), || None);
        // The pairs the authority must answer, once each, with the indexes asking them.
        let mut asked: Vec<(String, ResourceRef, Vec<usize>)> = Vec::new();
        let mut seen: HashMap<(&str, &ResourceRef), usize> = HashMap::new();
        for (index, (permission, resource)) in pairs.iter().enumerate() {
            let permission = permission.as_ref();
            let checked = valid_permission(permission).and_then(|()| valid_resource(resource));
            if let Err(rejection) = checked {
                answers[index] = Some(Err(rejection));
                continue;
            }
            match authority.prejudge(session, organization_id, permission, resource) {
                Some(Prejudged::OutsideOrganization) => answers[index] = Some(Ok(Decision::Deny)),
                Some(Prejudged::FromClaims) => answers[index] = Some(Ok(Decision::Allow)),
                None => match seen.get(&(permission, resource)) {
                    Some(&at) => asked[at].2.push(index),
                    None => {
                        seen.insert((permission, resource), asked.len());
                        asked.push((permission.to_owned(), resource.clone(), vec![index]));
                    }
                },
            }
        }
        if !asked.is_empty() {
            match authority.membership(session, organization_id).await? {
                Some(membership) => {
                    let decided =
                        decide_pairs(authority, organization_id, &membership, &asked).await;
                    for ((_, _, indexes), decision) in asked.iter().zip(decided) {
                        for &index in indexes {
                            answers[index] = Some(decision.clone());
                        }
                    }
                }
                None => {
                    for (_, _, indexes) in &asked {
                        for &index in indexes {
                            answers[index] = Some(Ok(Decision::Deny));
                        }
                    }
                }
            }
        }
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(AuthzRejection::Unavailable(
                        "the authorization check ended without an answer".into(),
                    ))
                })
            })
            .collect())
    }
}

/// One question for the authority: a pair's check, or a resource's effective permissions
/// answering several pairs (the positions in `asked`).
enum Question {
    Check(CheckRequest, usize),
    Set(PermissionsRequest, Vec<(String, usize)>),
}

/// The decisions of `asked` (distinct pairs), in its order: cache first, then the misses
/// grouped by resource, at most `authority.check_many_concurrency` at once.
async fn decide_pairs(
    authority: &Authority,
    organization_id: &str,
    membership: &str,
    asked: &[(String, ResourceRef, Vec<usize>)],
) -> Vec<Result<Decision, AuthzRejection>> {
    let request = |permission: &str, resource: &ResourceRef| CheckRequest {
        organization_id: organization_id.to_owned(),
        organization_membership_id: membership.to_owned(),
        permission: permission.to_owned(),
        resource: resource.clone(),
    };
    let mut decided: Vec<Option<Result<Decision, AuthzRejection>>> = vec![None; asked.len()];
    // The misses by resource, in the order resources first appear.
    let mut by_resource: Vec<(&ResourceRef, Vec<(String, usize)>)> = Vec::new();
    let mut resource_at: HashMap<&ResourceRef, usize> = HashMap::new();
    for (position, (permission, resource, _)) in asked.iter().enumerate() {
        if let Some(decision) = authority
            .decisions
            .cached_decision(&request(permission, resource))
        {
            decided[position] = Some(Ok(decision));
            continue;
        }
        let at = *resource_at.entry(resource).or_insert_with(|| {
            by_resource.push((resource, Vec::new()));
            by_resource.len() - 1
        });
        by_resource[at].1.push((permission.clone(), position));
    }
    let mut questions = by_resource.into_iter().map(|(resource, mut missing)| {
        if missing.len() == 1 {
            let (permission, position) = missing.remove(0);
            Question::Check(request(&permission, resource), position)
        } else {
            Question::Set(
                PermissionsRequest {
                    organization_id: organization_id.to_owned(),
                    organization_membership_id: membership.to_owned(),
                    resource: resource.clone(),
                },
                missing,
            )
        }
    });
    // Each question is a task only waiting for the single flight (which makes the call in a
    // task of its own); the set bounds how many questions are in flight at once.
    let mut running = tokio::task::JoinSet::new();
    let concurrency = authority.check_many_concurrency.max(1);
    loop {
        while running.len() < concurrency {
            let Some(question) = questions.next() else {
                break;
            };
            running.spawn(answer(authority.decisions.clone(), question));
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        match finished {
            Ok(answers) => {
                for (position, answer) in answers {
                    decided[position] = Some(answer);
                }
            }
            // A panicking question leaves its positions without an answer: unavailable below.
            Err(error) => tracing::error!(%error, "a batched authorization check panicked"),
        }
    }
    decided
        .into_iter()
        .map(|decision| {
            decision.unwrap_or_else(|| {
                Err(AuthzRejection::Unavailable(
                    "the authorization check ended without an answer".into(),
                ))
            })
        })
        .collect()
}

/// The answers of one question, by position in `asked`.
async fn answer(
    decisions: CachedAuthorizer,
    question: Question,
) -> Vec<(usize, Result<Decision, AuthzRejection>)> {
    let check = async |request: CheckRequest| {
        decisions
            .decide(&request)
            .await
            .map(|(decision, _)| decision)
            .map_err(|error| unavailable("check", &error))
    };
    match question {
        Question::Check(request, position) => vec![(position, check(request).await)],
        Question::Set(request, permissions) => {
            let set = decisions.effective_permissions(&request).await;
            let mut answers = Vec::with_capacity(permissions.len());
            for (permission, position) in permissions {
                let decision = match &set {
                    Ok(set) => match set.decides(&permission) {
                        Some(allowed) => Ok(Decision::from_authorized(allowed)),
                        // A wildcard in the set: only a check can say.
                        None => check(with_permission(&request, permission)).await,
                    },
                    // An authority that only checks is asked pair by pair.
                    Err(AuthorizerError::Unsupported(_)) => {
                        check(with_permission(&request, permission)).await
                    }
                    Err(error) => Err(unavailable("check", error)),
                };
                answers.push((position, decision));
            }
            answers
        }
    }
}

fn with_permission(request: &PermissionsRequest, permission: String) -> CheckRequest {
    CheckRequest {
        organization_id: request.organization_id.clone(),
        organization_membership_id: request.organization_membership_id.clone(),
        permission,
        resource: request.resource.clone(),
    }
}

/// The refusal for an authority's error: 503 when it could not answer, 500 for a list past
/// its maximum or an authority that cannot answer this question at all.
fn refusal(what: &str, error: &AuthorizerError) -> AuthzRejection {
    match error {
        AuthorizerError::ListTooLong { limit } => {
            tracing::error!(%error, "authorization {what} refused");
            AuthzRejection::Misconfigured(format!(
                "the {what} is longer than its maximum ({limit}); raise \
                 CachedAuthorizerBuilder::max_listed_resources or list under a narrower parent"
            ))
        }
        AuthorizerError::Unsupported(question) => AuthzRejection::Misconfigured(format!(
            "the configured authorizer cannot answer {question}"
        )),
        _ => unavailable(what, error),
    }
}

fn valid_permission(permission: &str) -> Result<(), AuthzRejection> {
    if is_valid_permission_slug(permission) {
        Ok(())
    } else {
        Err(AuthzRejection::BadRequest(format!(
            "invalid permission slug {}",
            quote(permission)
        )))
    }
}

/// A resource reference a caller passed: the limits a guard's route parameter has.
fn valid_resource(resource: &ResourceRef) -> Result<(), AuthzRejection> {
    let valid = match resource {
        ResourceRef::Id(id) => {
            !id.is_empty() && id.len() <= MAX_RESOURCE_ID_BYTES && !id.chars().any(char::is_control)
        }
        ResourceRef::External {
            resource_type,
            external_id,
        } => is_valid_resource_type_slug(resource_type) && is_valid_external_id(external_id),
    };
    if valid {
        Ok(())
    } else {
        Err(AuthzRejection::BadRequest(format!(
            "invalid resource reference {}",
            quote(&resource.to_string())
        )))
    }
}

fn is_organization(resource: &ResourceRef, organization_id: &str) -> bool {
    matches!(resource, ResourceRef::External { resource_type, external_id }
        if resource_type == ORGANIZATION_TYPE && external_id == organization_id)
}
