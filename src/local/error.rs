//! What can go wrong when the engine is asked to change or read its model.

/// The longest id a not-found error repeats whole.
const NOT_FOUND_ID_MAX: usize = 64;

/// Why the engine refused an operation. Mirrors WorkOS's error classes: not found (404),
/// conflict (409) and validation (422); policy files add parse and I/O failures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The entity named by `id` does not exist.
    #[error("{entity} not found: {id}")]
    NotFound {
        /// The kind of entity, for example `role` or `resource`.
        entity: &'static str,
        /// The id, slug or external id that was looked up.
        id: String,
    },
    /// The operation clashes with the current state: a duplicate slug or external id, a
    /// resource that still has children, an assignment that already exists.
    #[error("{message}")]
    Conflict {
        /// The kind of entity in conflict.
        entity: &'static str,
        /// What clashes, in words.
        message: String,
    },
    /// An input breaks a rule of the model.
    #[error("{field}: {message}")]
    Validation {
        /// The offending field, for example `slug` or `role_slugs[1]`.
        field: String,
        /// A WorkOS-style machine-readable code, for example `invalid_slug`.
        code: &'static str,
        /// The rule that was broken, in words.
        message: String,
    },
    /// An entry of a policy file is invalid; `entry` names it, for example `roles[3].slug`.
    #[error("{entry}: {message}")]
    Policy {
        /// The path of the offending entry in the file.
        entry: String,
        /// What is wrong with it.
        message: String,
    },
    /// A policy file could not be parsed.
    #[error("the policy is not valid {format}: {message}")]
    Parse {
        /// `JSON` or `TOML`.
        format: &'static str,
        /// The parser's message, with the line and column when it knows them.
        message: String,
    },
    /// A policy or state file could not be opened, read or written: the message names the
    /// file. A state file that cannot be opened is never overwritten.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The durable store could not commit a change, so the change was not made: memory and
    /// disk are as they were before it, and the same change may be tried again. The message
    /// is the database's and names no file.
    #[error("the change could not be stored, so it was not made: {message}")]
    Storage {
        /// The database's message.
        message: String,
    },
}

impl EngineError {
    /// A WorkOS-style machine-readable code for the error, as the emulator sends it.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NotFound { .. } => "entity_not_found",
            EngineError::Conflict { .. } => "entity_conflict",
            EngineError::Validation { code, .. } => code,
            EngineError::Policy { .. } => "invalid_policy",
            EngineError::Parse { .. } => "invalid_policy",
            EngineError::Io { .. } => "io_error",
            EngineError::Storage { .. } => "storage_unavailable",
        }
    }

    /// `id` is cut to a short prefix when it is long: the error may be answered over HTTP,
    /// and a lookup by a 2 MB slug must not echo it back.
    pub(crate) fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        let id = id.into();
        let id = if id.chars().count() > NOT_FOUND_ID_MAX {
            let prefix: String = id.chars().take(NOT_FOUND_ID_MAX).collect();
            format!("{prefix}… ({} characters)", id.chars().count())
        } else {
            id
        };
        EngineError::NotFound { entity, id }
    }

    pub(crate) fn conflict(entity: &'static str, message: impl Into<String>) -> Self {
        EngineError::Conflict {
            entity,
            message: message.into(),
        }
    }

    pub(crate) fn validation(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        EngineError::Validation {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// Rewrites the error as a policy-file error about `entry` (for example `roles[3]`):
    /// a validation error's field is appended to the entry path.
    pub(crate) fn in_entry(self, entry: &str) -> Self {
        match self {
            EngineError::Validation { field, message, .. } => EngineError::Policy {
                entry: format!("{entry}.{field}"),
                message,
            },
            EngineError::Policy { .. }
            | EngineError::Parse { .. }
            | EngineError::Io { .. }
            | EngineError::Storage { .. } => self,
            other => EngineError::Policy {
                entry: entry.to_owned(),
                message: other.to_string(),
            },
        }
    }
}
