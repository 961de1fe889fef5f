//! The list question: which resources of a type may this membership act on with a permission?
//! [`ListRequest`] asks it, an [`Authorizer`](super::Authorizer) answers with
//! [`AccessibleResource`]s, and [`AccessibleResources`] is what a list page receives.

use std::fmt;
use std::sync::Arc;

use super::ResourceRef;

/// One list question: the resources of type `resource_type` under `parent` on which
/// `organization_membership_id` may use `permission`.
///
/// Like [`CheckRequest`](super::CheckRequest), it is the cache key too: a list made for one
/// membership or organization is never served to another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListRequest {
    /// The organization the session belongs to (`org_...`).
    pub organization_id: String,
    /// The organization membership that asks (`om_...`).
    pub organization_membership_id: String,
    /// The permission slug, for example `projects:read`.
    pub permission: String,
    /// The type of the resources listed, for example `project`.
    pub resource_type: String,
    /// The resource whose descendants are listed; `None` is the organization itself (every
    /// resource of the organization).
    pub parent: Option<ResourceRef>,
}

/// One resource a membership may act on, as the authority names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AccessibleResource {
    /// The authority's id (`authz_resource_...`).
    pub id: String,
    /// The application's id, unique within the organization and the type.
    pub external_id: String,
    /// The display name the authority holds.
    pub name: String,
}

impl AccessibleResource {
    /// A resource with these ids and name.
    pub fn new(
        id: impl Into<String>,
        external_id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        AccessibleResource {
            id: id.into(),
            external_id: external_id.into(),
            name: name.into(),
        }
    }
}

/// A complete list of accessible resources, sorted by external id; cheap to clone (it is
/// shared with the cache).
///
/// Complete means read to the end: an authority that could not list everything answered an
/// error, never a shorter set.
#[derive(Clone, PartialEq, Eq)]
pub struct ResourceSet {
    inner: Arc<SetInner>,
}

#[derive(PartialEq, Eq)]
struct SetInner {
    /// Sorted by external id, one per external id.
    resources: Vec<AccessibleResource>,
    /// The same external ids, in the same order: the form an SQL query binds.
    external_ids: Vec<String>,
    /// Indexes into `resources`, sorted by resource id.
    by_id: Vec<usize>,
}

impl ResourceSet {
    /// The set of `resources`, sorted by external id; of several with one external id, the
    /// first is kept.
    pub fn new(resources: impl IntoIterator<Item = AccessibleResource>) -> Self {
        let mut resources: Vec<AccessibleResource> = resources.into_iter().collect();
        // Stable: the first of equal external ids stays first, and dedup keeps it.
        resources.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        resources.dedup_by(|later, earlier| later.external_id == earlier.external_id);
        let external_ids = resources.iter().map(|r| r.external_id.clone()).collect();
        let mut by_id: Vec<usize> = (0..resources.len()).collect();
        by_id.sort_by(|&a, &b| resources[a].id.cmp(&resources[b].id));
        ResourceSet {
            inner: Arc::new(SetInner {
                resources,
                external_ids,
                by_id,
            }),
        }
    }

    /// Whether the resource with this external id is in the set.
    pub fn contains(&self, external_id: &str) -> bool {
        self.inner
            .external_ids
            .binary_search_by(|held| held.as_str().cmp(external_id))
            .is_ok()
    }

    /// Whether the resource with this authority id (`authz_resource_...`) is in the set.
    pub fn contains_id(&self, id: &str) -> bool {
        let resources = &self.inner.resources;
        self.inner
            .by_id
            .binary_search_by(|&index| resources[index].id.as_str().cmp(id))
            .is_ok()
    }

    /// The external ids, sorted: bind them to `= ANY($1)`, or expand them into `IN (...)`.
    pub fn external_ids(&self) -> &[String] {
        &self.inner.external_ids
    }

    /// The resources, sorted by external id.
    pub fn iter(&self) -> std::slice::Iter<'_, AccessibleResource> {
        self.inner.resources.iter()
    }

    /// How many resources the set holds.
    pub fn len(&self) -> usize {
        self.inner.resources.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.resources.is_empty()
    }
}

impl<'a> IntoIterator for &'a ResourceSet {
    type Item = &'a AccessibleResource;
    type IntoIter = std::slice::Iter<'a, AccessibleResource>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for ResourceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceSet")
            .field("len", &self.len())
            .field("external_ids", &self.inner.external_ids)
            .finish()
    }
}

/// What a member may act on, for a list page: every resource, or exactly these.
///
/// External ids are unique only within an organization and a type, so an application reads
/// its own rows inside the session's organization, then narrows them with
/// [`query_filter`](Self::query_filter) or [`contains`](Self::contains).
///
/// ```
/// use workos_authz::check::{AccessibleResource, AccessibleResources, QueryFilter, ResourceSet};
///
/// let projects = AccessibleResources::Only(ResourceSet::new([
///     AccessibleResource::new("authz_resource_1", "proj_apollo", "Apollo"),
/// ]));
/// assert!(projects.contains("proj_apollo") && !projects.contains("proj_zeus"));
/// let sql = match projects.query_filter() {
///     QueryFilter::All => "SELECT id, name FROM projects WHERE org_id = $1".to_owned(),
///     // `= ANY($2)` with the ids bound as one array parameter (Postgres).
///     QueryFilter::AnyOf(ids) => {
///         assert_eq!(ids, ["proj_apollo"]);
///         "SELECT id, name FROM projects WHERE org_id = $1 AND id = ANY($2)".to_owned()
///     }
///     // `IN ()` is not SQL: skip the query.
///     QueryFilter::Nothing => String::new(),
///     _ => unreachable!("a future filter"),
/// };
/// assert!(sql.ends_with("ANY($2)"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessibleResources {
    /// Every resource of the type in the session's organization: the token's
    /// organization-level permissions hold the permission (no remote call was made).
    All,
    /// Exactly these resources.
    Only(ResourceSet),
}

/// The filter an application adds to its own query, from [`AccessibleResources::query_filter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryFilter<'a> {
    /// No filter: every row of the organization.
    All,
    /// No row: skip the query (`IN ()` is not valid SQL).
    Nothing,
    /// Only rows whose external id is one of these (sorted, never empty): `IN (...)` or
    /// `= ANY($1)`.
    AnyOf(&'a [String]),
}

impl AccessibleResources {
    /// Whether every resource is accessible.
    pub fn is_all(&self) -> bool {
        matches!(self, AccessibleResources::All)
    }

    /// Whether the resource with this external id is accessible (always, for
    /// [`AccessibleResources::All`]).
    pub fn contains(&self, external_id: &str) -> bool {
        match self {
            AccessibleResources::All => true,
            AccessibleResources::Only(set) => set.contains(external_id),
        }
    }

    /// The listed resources; `None` for [`AccessibleResources::All`], which lists nothing.
    pub fn only(&self) -> Option<&ResourceSet> {
        match self {
            AccessibleResources::All => None,
            AccessibleResources::Only(set) => Some(set),
        }
    }

    /// The filter for the application's own query.
    pub fn query_filter(&self) -> QueryFilter<'_> {
        match self {
            AccessibleResources::All => QueryFilter::All,
            AccessibleResources::Only(set) if set.is_empty() => QueryFilter::Nothing,
            AccessibleResources::Only(set) => QueryFilter::AnyOf(set.external_ids()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_sorted_deduplicated_and_found_by_either_id() {
        let set = ResourceSet::new([
            AccessibleResource::new("r_3", "b", "B"),
            AccessibleResource::new("r_1", "c", "C"),
            AccessibleResource::new("r_2", "a", "A"),
            AccessibleResource::new("r_9", "a", "A again"),
        ]);
        assert_eq!(set.external_ids(), ["a", "b", "c"]);
        assert_eq!(set.iter().next().map(|r| r.name.as_str()), Some("A"));
        assert!(set.contains("b") && !set.contains("d"));
        assert!(set.contains_id("r_1") && set.contains_id("r_2") && !set.contains_id("r_9"));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn the_query_filter_never_hands_out_an_empty_list() {
        let empty = AccessibleResources::Only(ResourceSet::new([]));
        assert_eq!(empty.query_filter(), QueryFilter::Nothing);
        assert!(!empty.contains("a"));
        assert_eq!(AccessibleResources::All.query_filter(), QueryFilter::All);
        assert!(AccessibleResources::All.contains("anything"));
        assert!(AccessibleResources::All.only().is_none());
    }
}
