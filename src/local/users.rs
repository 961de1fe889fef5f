//! AuthKit's users: who can sign in to the emulator's AuthKit. Part of the model (a policy
//! file's `users`, the store's `users` table, the engine's journal), though no rule of the
//! authorization model depends on them: a membership's `user_id` may name a user or not.

use super::LocalEngine;
use super::error::EngineError;
use super::ids::{Meta, validate_name};
use super::model::{NewUser, User};
use super::state::{Entry, State, sorted_refs};
use crate::limits::{EMAIL_MAX, PERSON_NAME_MAX, quote};

/// `local@domain`: one `@`, both sides non-empty, no spaces or control characters, at most
/// [`EMAIL_MAX`] characters. Deliberately loose beyond that (no DNS, no quoted local parts):
/// the emulator sends no mail.
fn validate_email(email: &str) -> Result<(), EngineError> {
    let invalid = |why: &str| {
        EngineError::validation(
            "email",
            "invalid_email",
            format!("{} is not an email address: {why}", quote(email)),
        )
    };
    if email.is_empty() {
        return Err(EngineError::validation(
            "email",
            "required",
            "must not be empty",
        ));
    }
    if email.chars().count() > EMAIL_MAX {
        return Err(invalid(&format!("longer than {EMAIL_MAX} characters")));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains spaces or control characters"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(invalid("it must be one local part, '@' and a domain")),
    }
}

fn validate_person_name(field: &str, value: Option<&str>) -> Result<(), EngineError> {
    match value {
        Some(value) => validate_name(field, value, PERSON_NAME_MAX),
        None => Ok(()),
    }
}

impl State {
    pub(crate) fn create_user(&mut self, new: NewUser, meta: Meta) -> Result<User, EngineError> {
        validate_email(&new.email)?;
        // An empty name is no name (WorkOS answers `null`).
        let first_name = new.first_name.filter(|name| !name.is_empty());
        let last_name = new.last_name.filter(|name| !name.is_empty());
        validate_person_name("first_name", first_name.as_deref())?;
        validate_person_name("last_name", last_name.as_deref())?;
        if let Some(owner) = self.user_emails.get(&new.email.to_ascii_lowercase()) {
            return Err(EngineError::conflict(
                "user",
                format!(
                    "the email address {} is already the address of user {owner}",
                    quote(&new.email)
                ),
            ));
        }
        let stamp = self.stamp("user", "user", meta, |s, id| s.users.contains_key(id))?;
        let user = User {
            id: stamp.id,
            email: new.email,
            first_name,
            last_name,
            email_verified: new.email_verified,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
        };
        let seq = self.seq_for(stamp.seq);
        self.put_user(Entry {
            seq,
            item: user.clone(),
        });
        Ok(user)
    }

    pub(crate) fn user(&self, id: &str) -> Result<&User, EngineError> {
        self.users
            .get(id)
            .map(|entry| &entry.item)
            .ok_or_else(|| EngineError::not_found("user", id))
    }

    pub(crate) fn list_users(&self) -> Vec<User> {
        sorted_refs(self.users.values())
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        let id = self.user_emails.get(&email.to_ascii_lowercase())?;
        self.users.get(id).map(|entry| &entry.item)
    }
}

impl LocalEngine {
    // ----- users ----------------------------------------------------------------------------

    /// Creates a user (`user_...`) who can sign in to the emulator's AuthKit. The email
    /// address must be unique (without regard to ASCII case): a second user with it is an
    /// [`EngineError::Conflict`].
    pub fn create_user(&self, new: NewUser) -> Result<User, EngineError> {
        self.write(|state| state.create_user(new, Meta::default()))
    }

    /// Creates a user with a chosen id, for example `user_alice`, so that memberships and
    /// sample tokens can name it before it exists.
    pub fn create_user_with_id(&self, id: &str, new: NewUser) -> Result<User, EngineError> {
        let meta = Meta {
            id: Some(id.to_owned()),
            ..Meta::default()
        };
        self.write(|state| state.create_user(new, meta))
    }

    /// The user `id`.
    pub fn get_user(&self, id: &str) -> Result<User, EngineError> {
        self.read().user(id).cloned()
    }

    /// Every user, in creation order.
    pub fn list_users(&self) -> Vec<User> {
        self.read().list_users()
    }

    /// The user with this email address (without regard to ASCII case).
    pub fn find_user_by_email(&self, email: &str) -> Option<User> {
        self.read().user_by_email(email).cloned()
    }
}
