//! The detail-page question: which permissions does this membership hold on one resource?
//! [`PermissionsRequest`] asks it; [`EffectivePermissions`] is the answer.

use std::fmt;
use std::sync::Arc;

use super::{CheckRequest, ResourceRef};

/// One permission-set question: every permission `organization_membership_id` holds on
/// `resource`, looked up inside `organization_id`. The cache key of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PermissionsRequest {
    /// The organization the session belongs to (`org_...`).
    pub organization_id: String,
    /// The organization membership that asks (`om_...`).
    pub organization_membership_id: String,
    /// The resource, as the route names it.
    pub resource: ResourceRef,
}

impl PermissionsRequest {
    /// The permission-set question that answers `check`.
    pub fn of(check: &CheckRequest) -> Self {
        PermissionsRequest {
            organization_id: check.organization_id.clone(),
            organization_membership_id: check.organization_membership_id.clone(),
            resource: check.resource.clone(),
        }
    }
}

/// The permissions a membership holds on one resource (from every source: roles on the
/// resource, roles on its ancestors, organization-level roles), sorted; cheap to clone.
///
/// It also answers later checks on the same resource (named the same way, by id or by type
/// and external id): see [`EffectivePermissions::decides`].
#[derive(Clone, PartialEq, Eq)]
pub struct EffectivePermissions {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq)]
struct Inner {
    resource: ResourceRef,
    slugs: Vec<String>,
    has_wildcard: bool,
}

impl EffectivePermissions {
    /// The permissions `slugs` on `resource` (sorted and deduplicated here).
    pub fn new(resource: ResourceRef, slugs: impl IntoIterator<Item = String>) -> Self {
        let mut slugs: Vec<String> = slugs.into_iter().collect();
        slugs.sort_unstable();
        slugs.dedup();
        let has_wildcard = slugs.iter().any(|slug| slug.contains('*'));
        EffectivePermissions {
            inner: Arc::new(Inner {
                resource,
                slugs,
                has_wildcard,
            }),
        }
    }

    /// The resource these permissions are held on.
    pub fn resource(&self) -> &ResourceRef {
        &self.inner.resource
    }

    /// Whether `permission` is in the set.
    pub fn contains(&self, permission: &str) -> bool {
        self.inner
            .slugs
            .binary_search_by(|held| held.as_str().cmp(permission))
            .is_ok()
    }

    /// The permission slugs, sorted.
    pub fn slugs(&self) -> &[String] {
        &self.inner.slugs
    }

    /// The permission slugs, sorted.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.inner.slugs.iter()
    }

    /// How many permissions the set holds.
    pub fn len(&self) -> usize {
        self.inner.slugs.len()
    }

    /// Whether the member holds no permission on the resource.
    pub fn is_empty(&self) -> bool {
        self.inner.slugs.is_empty()
    }

    /// The decision this set implies for `permission`: `Some(true)` when the set holds it;
    /// `Some(false)` when it does not, because the set is the whole answer (the same sources a
    /// check consults, so any slug it omits, an unknown one included, is a slug a check
    /// refuses); `None` when the set holds a wildcard slug (`*`), since an authority that
    /// reads `projects:*` as covering `projects:read` would allow what the set omits.
    pub fn decides(&self, permission: &str) -> Option<bool> {
        if self.contains(permission) {
            Some(true)
        } else if self.inner.has_wildcard {
            None
        } else {
            Some(false)
        }
    }
}

impl<'a> IntoIterator for &'a EffectivePermissions {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for EffectivePermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EffectivePermissions")
            .field("resource", &self.inner.resource)
            .field("slugs", &self.inner.slugs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_decides_what_it_holds_and_what_it_omits_unless_it_has_a_wildcard() {
        let resource = ResourceRef::external("project", "p");
        let set = EffectivePermissions::new(
            resource.clone(),
            [
                "projects:read".to_owned(),
                "projects:edit".to_owned(),
                "projects:read".to_owned(),
            ],
        );
        assert_eq!(set.slugs(), ["projects:edit", "projects:read"]);
        assert_eq!(set.decides("projects:read"), Some(true));
        assert_eq!(set.decides("projects:delete"), Some(false));
        let wild = EffectivePermissions::new(resource, ["projects:*".to_owned()]);
        assert_eq!(wild.decides("projects:*"), Some(true));
        assert_eq!(wild.decides("projects:read"), None);
    }
}
