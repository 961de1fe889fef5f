//! WorkOS's limits on the fields the Authorization API takes, one place for the crate: the
//! embedded engine refuses a longer or ill-formed value (the emulator answers 422), and error
//! messages quote at most a short prefix of what they refuse.
//!
//! The numbers are WorkOS's published request schemas (`CreateRoleDto`,
//! `CreateOrganizationRoleDto`, `CreateAuthorizationPermissionDto`,
//! `CreateAuthorizationResourceDto`): slugs, names and resource types at most 48 characters,
//! descriptions at most 150, external ids at most 128 ASCII characters. WorkOS publishes no
//! bound for organization names and user ids; [`ORGANIZATION_NAME_MAX`] and [`USER_ID_MAX`]
//! are this crate's, generous enough for any real value.

/// Role and permission slugs, and resource type slugs.
pub(crate) const SLUG_MAX: usize = 48;
/// Names of roles, permissions and resources.
pub(crate) const NAME_MAX: usize = 48;
/// Descriptions of roles, permissions and resources.
pub(crate) const DESCRIPTION_MAX: usize = 150;
/// A resource's external id.
pub(crate) const EXTERNAL_ID_MAX: usize = 128;
/// An organization's name (the crate's bound; WorkOS states none).
pub(crate) const ORGANIZATION_NAME_MAX: usize = 255;
/// A membership's user id (the crate's bound; WorkOS's ids are 31 characters).
pub(crate) const USER_ID_MAX: usize = 128;

/// A user's email address (the crate's bound: 64 for the local part, `@`, 255 for the domain).
pub(crate) const EMAIL_MAX: usize = 320;
/// A user's first or last name (the crate's bound; WorkOS states none).
pub(crate) const PERSON_NAME_MAX: usize = 255;

/// How many characters of a refused value an error message quotes.
const QUOTED_PREFIX: usize = 24;

/// `value` for an error message: itself when short, otherwise its first characters and its
/// length. Control characters are escaped, so a message never carries them either.
pub(crate) fn quote(value: &str) -> String {
    let count = value.chars().count();
    let prefix: String = value.chars().take(QUOTED_PREFIX).collect();
    if count <= QUOTED_PREFIX {
        format!("{prefix:?}")
    } else {
        let shown = format!("{prefix:?}");
        format!("{}…\" ({count} characters)", &shown[..shown.len() - 1])
    }
}

/// Whether WorkOS accepts `external_id`: 1 to 128 printable ASCII characters. `.` and `..` are
/// refused too: as a path segment (`/resources/{type}/{external_id}`) a URL client rewrites
/// them, so such a resource could never be addressed by its external id.
pub(crate) fn is_valid_external_id(external_id: &str) -> bool {
    !external_id.is_empty()
        && external_id.len() <= EXTERNAL_ID_MAX
        && external_id.bytes().all(|b| (0x20..0x7f).contains(&b))
        && external_id != "."
        && external_id != ".."
}

/// Whether `text` is a display name or description without control characters (a
/// description may break lines).
pub(crate) fn is_printable(text: &str, allow_line_breaks: bool) -> bool {
    text.chars()
        .all(|c| !c.is_control() || (allow_line_breaks && matches!(c, '\n' | '\r' | '\t')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_keep_short_values_and_cut_long_ones() {
        assert_eq!(quote("admin"), "\"admin\"");
        let long = "x".repeat(2_000_000);
        let quoted = quote(&long);
        assert!(quoted.len() < 60, "{quoted}");
        assert!(quoted.contains("2000000 characters"), "{quoted}");
        assert_eq!(quote("a\u{0}b"), "\"a\\0b\"");
    }

    #[test]
    fn external_ids_are_printable_ascii_up_to_128() {
        assert!(is_valid_external_id("proj_1"));
        assert!(is_valid_external_id(&"a".repeat(EXTERNAL_ID_MAX)));
        assert!(is_valid_external_id("a..b"));
        for bad in [
            String::new(),
            "a".repeat(EXTERNAL_ID_MAX + 1),
            "a\nb".to_owned(),
            "é".to_owned(),
            ".".to_owned(),
            "..".to_owned(),
        ] {
            assert!(!is_valid_external_id(&bad), "{bad:?}");
        }
    }
}
