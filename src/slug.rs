//! WorkOS's rules for slugs, one place for the whole crate: guards refuse a bad slug when they
//! are built, the embedded engine and the emulator refuse it with a 422. Lengths come from
//! [`crate::limits`].

use crate::limits::SLUG_MAX;

/// What a permission slug may be, for error messages.
pub(crate) const PERMISSION_RULE: &str =
    "WorkOS permission slugs have 1 to 48 characters, only letters, digits and - . : _ *";

/// What a role slug may be, for error messages.
pub(crate) const ROLE_RULE: &str =
    "WorkOS role slugs have 1 to 48 characters, only lowercase letters, digits, - and _";

/// What a resource type slug may be, for error messages.
pub(crate) const RESOURCE_TYPE_RULE: &str =
    "WorkOS resource type slugs have 1 to 48 characters, only lowercase letters, digits, - and _";

/// Whether WorkOS accepts `slug` as a permission slug.
pub fn is_valid_permission_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:_*".contains(&b))
}

/// Whether WorkOS accepts `slug` as a role slug.
pub fn is_valid_role_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether WorkOS accepts `slug` as a resource type slug: the role slug rule (WorkOS's
/// resource types are slugs like `project` or `workspace`).
pub(crate) fn is_valid_resource_type_slug(slug: &str) -> bool {
    is_valid_role_slug(slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_slugs_follow_workos_rules() {
        for slug in ["posts:read", "a.b-c_d", "*", "users:*", "X9"] {
            assert!(is_valid_permission_slug(slug), "{slug}");
        }
        assert!(is_valid_permission_slug(&"a".repeat(48)));
        for slug in [
            "",
            "posts read",
            "posts/read",
            "é",
            "a,b",
            "a\"b",
            &"a".repeat(49),
        ] {
            assert!(!is_valid_permission_slug(slug), "{slug}");
        }
    }

    #[test]
    fn role_slugs_follow_workos_rules() {
        for slug in ["admin", "org-admin", "viewer_2"] {
            assert!(is_valid_role_slug(slug), "{slug}");
        }
        assert!(is_valid_role_slug(&"a".repeat(48)));
        for slug in ["", "Admin", "a b", "a:b", "é", &"a".repeat(49)] {
            assert!(!is_valid_role_slug(slug), "{slug}");
        }
    }
}
