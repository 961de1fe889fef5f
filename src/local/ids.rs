//! Ids and validation: generated and chosen ids, timestamps, and the rules every input field
//! is held to before anything changes.

use super::error::EngineError;
use super::model::Changes;
use super::state::State;
use super::time::{is_rfc3339, now_rfc3339};
use crate::limits::{
    DESCRIPTION_MAX, EXTERNAL_ID_MAX, NAME_MAX, is_printable, is_valid_external_id, quote,
};
use crate::slug::{
    PERMISSION_RULE, RESOURCE_TYPE_RULE, ROLE_RULE, is_valid_permission_slug,
    is_valid_resource_type_slug, is_valid_role_slug,
};

/// The longest suffix a chosen id may have after its prefix (generated ones have 26).
const ID_SUFFIX_MAX: usize = 64;
use crate::support::{random_hex, unix_now};

/// Ids and timestamps a policy file (or the store) may pin; `None` means "generate".
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub(crate) id: Option<String>,
    pub(crate) created_at: Option<String>,
    pub(crate) updated_at: Option<String>,
    /// The creation sequence number the store kept; only the store pins it.
    pub(crate) seq: Option<u64>,
}

/// The id and timestamps of a new entity.
pub(super) struct Stamp {
    pub(super) id: String,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    /// The pinned sequence number, for [`State::seq_for`].
    pub(super) seq: Option<u64>,
}

pub(super) fn validate_role_slug(field: &str, slug: &str) -> Result<(), EngineError> {
    if !is_valid_role_slug(slug) {
        return Err(EngineError::validation(
            field,
            "invalid_slug",
            format!("role slug {} is not valid: {ROLE_RULE}", quote(slug)),
        ));
    }
    Ok(())
}

pub(super) fn validate_permission_slug(field: &str, slug: &str) -> Result<(), EngineError> {
    if !is_valid_permission_slug(slug) {
        return Err(EngineError::validation(
            field,
            "invalid_slug",
            format!(
                "permission slug {} is not valid: {PERMISSION_RULE}",
                quote(slug)
            ),
        ));
    }
    Ok(())
}

pub(super) fn validate_resource_type(field: &str, slug: &str) -> Result<(), EngineError> {
    if !is_valid_resource_type_slug(slug) {
        return Err(EngineError::validation(
            field,
            "invalid_resource_type_slug",
            format!(
                "resource type {} is not valid: {RESOURCE_TYPE_RULE}",
                quote(slug)
            ),
        ));
    }
    Ok(())
}

pub(super) fn validate_external_id(field: &str, external_id: &str) -> Result<(), EngineError> {
    if !is_valid_external_id(external_id) {
        return Err(EngineError::validation(
            field,
            "invalid_external_id",
            format!(
                "external id {} is not valid: 1 to {EXTERNAL_ID_MAX} printable ASCII characters, not '.' or '..'",
                quote(external_id)
            ),
        ));
    }
    Ok(())
}

pub(super) fn require(field: &str, value: &str) -> Result<(), EngineError> {
    if value.trim().is_empty() {
        return Err(EngineError::validation(
            field,
            "required",
            "must not be empty",
        ));
    }
    Ok(())
}

/// A required display text: not blank, at most `max` characters, no control characters.
pub(super) fn validate_name(field: &str, value: &str, max: usize) -> Result<(), EngineError> {
    require(field, value)?;
    validate_text(field, value, max, false)
}

/// An optional description: at most 150 characters; line breaks are allowed.
pub(super) fn validate_description(field: &str, value: Option<&str>) -> Result<(), EngineError> {
    match value {
        Some(value) => validate_text(field, value, DESCRIPTION_MAX, true),
        None => Ok(()),
    }
}

fn validate_text(
    field: &str,
    value: &str,
    max: usize,
    allow_line_breaks: bool,
) -> Result<(), EngineError> {
    let length = value.chars().count();
    if length > max {
        return Err(EngineError::validation(
            field,
            "too_long",
            format!(
                "must be at most {max} characters, not {length}: {}",
                quote(value)
            ),
        ));
    }
    if !is_printable(value, allow_line_breaks) {
        return Err(EngineError::validation(
            field,
            "invalid_characters",
            format!("must not contain control characters: {}", quote(value)),
        ));
    }
    Ok(())
}

impl Changes {
    pub(super) fn validate(&self) -> Result<(), EngineError> {
        if let Some(name) = &self.name {
            validate_name("name", name, NAME_MAX)?;
        }
        validate_description("description", self.description.as_deref())
    }

    pub(super) fn apply(
        self,
        name: &mut String,
        description: &mut Option<String>,
        updated_at: &mut String,
    ) {
        if let Some(new_name) = self.name {
            *name = new_name;
        }
        if let Some(new_description) = self.description {
            *description = (!new_description.is_empty()).then_some(new_description);
        }
        *updated_at = now_rfc3339();
    }
}

fn validate_id(prefix: &str, id: &str) -> Result<(), EngineError> {
    let valid = id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= ID_SUFFIX_MAX
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !valid {
        return Err(EngineError::validation(
            "id",
            "invalid_id",
            format!(
                "id {} must be '{prefix}_' followed by at most {ID_SUFFIX_MAX} letters, digits, '-' or '_'",
                quote(id)
            ),
        ));
    }
    Ok(())
}

/// A ULID-shaped suffix: 48 bits of milliseconds then 80 random bits, in Crockford base 32,
/// so generated ids look like WorkOS's and sort roughly by creation time.
pub(super) fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let random = u128::from_str_radix(&random_hex(10), 16).unwrap_or_default();
    let value = (u128::from(unix_now() * 1000) << 80) | random;
    (0..26)
        .rev()
        .map(|index| ALPHABET[((value >> (index * 5)) & 31) as usize] as char)
        .collect()
}

/// Lowercase, every run of other characters replaced by one `-`.
pub(super) fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

impl State {
    pub(super) fn fresh_id(&self, prefix: &str, taken: impl Fn(&Self, &str) -> bool) -> String {
        let mut id = format!("{prefix}_{}", ulid());
        // Two ids in the same millisecond clash only if 80 random bits do; bounded anyway.
        for attempt in 0..16u32 {
            if !taken(self, &id) {
                break;
            }
            id = format!("{prefix}_{}{attempt}", ulid());
        }
        id
    }

    pub(super) fn stamp(
        &self,
        prefix: &str,
        entity: &'static str,
        meta: Meta,
        taken: impl Fn(&Self, &str) -> bool,
    ) -> Result<Stamp, EngineError> {
        let id = match meta.id {
            Some(id) => {
                validate_id(prefix, &id)?;
                if taken(self, &id) {
                    return Err(EngineError::conflict(
                        entity,
                        format!("a {entity} with id {} already exists", quote(&id)),
                    ));
                }
                id
            }
            None => self.fresh_id(prefix, &taken),
        };
        for (field, value) in [
            ("created_at", &meta.created_at),
            ("updated_at", &meta.updated_at),
        ] {
            if let Some(value) = value
                && !is_rfc3339(value)
            {
                return Err(EngineError::validation(
                    field,
                    "invalid_timestamp",
                    format!("{} is not an RFC 3339 date-time", quote(value)),
                ));
            }
        }
        let now = now_rfc3339();
        let created_at = meta.created_at.unwrap_or_else(|| now.clone());
        let updated_at = meta.updated_at.unwrap_or_else(|| created_at.clone());
        Ok(Stamp {
            id,
            created_at,
            updated_at,
            seq: meta.seq,
        })
    }
}
