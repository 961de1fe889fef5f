//! AuthKit's sessions, for the emulator: who signed in, in which organization, with which
//! refresh token. The emulator's token endpoint starts them, rotates their refresh tokens and
//! ends them (sign-out); the engine keeps them, in its store when it has one.
//!
//! They are not part of the authorization model: no check, list or policy file reads them, and
//! no model change touches them. So they are kept beside the model, under their own lock, and
//! written in their own transaction, rather than through the model's journal and write lock: a
//! refresh (every five minutes per signed-in browser) then never makes checks wait for its
//! commit, and the model's guarantees are kept the same way for them. A change is computed
//! first, committed (one row, one transaction, synced), and only then applied to memory; a
//! commit that fails changes nothing and is [`EngineError::Storage`].
//!
//! A refresh token is known to the engine only by its SHA-256: the store (and this memory)
//! never hold a token that works, only the means to recognise one.

use std::collections::HashMap;
use std::sync::PoisonError;

use super::LocalEngine;
use super::error::EngineError;
use super::ids::ulid;
use super::time::now_rfc3339;
use crate::support::hex;

/// One AuthKit session (`session_...`): its id is the `sid` claim of its access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthSession {
    pub(crate) id: String,
    pub(crate) user_id: String,
    /// The organization its access tokens are scoped to, when any.
    pub(crate) organization_id: Option<String>,
    /// The client (`client_...`) it was started for; refreshes must name the same.
    pub(crate) client_id: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    /// When it was ended (signed out); an ended session has no refresh token.
    pub(crate) ended_at: Option<String>,
}

/// A session as it is stored: with its creation sequence and its current refresh token's
/// digest (hex), `None` once ended.
#[derive(Clone, Debug)]
pub(crate) struct SessionRow {
    pub(crate) seq: u64,
    pub(crate) session: AuthSession,
    pub(crate) refresh_digest: Option<String>,
}

/// Every session, and the index from refresh token digest to session.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    rows: HashMap<String, SessionRow>,
    by_refresh: HashMap<String, String>,
    next_seq: u64,
}

impl Sessions {
    /// Adds a stored row (loading): refuses a second row with the same id or digest.
    pub(crate) fn load(&mut self, row: SessionRow) -> Result<(), String> {
        if self.rows.contains_key(&row.session.id) {
            return Err(format!("session {} twice", row.session.id));
        }
        if let Some(digest) = &row.refresh_digest {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "session {} with a malformed refresh token digest",
                    row.session.id
                ));
            }
            if self.by_refresh.contains_key(digest) {
                return Err(format!(
                    "session {} with another session's refresh token",
                    row.session.id
                ));
            }
        }
        self.next_seq = self.next_seq.max(row.seq);
        self.apply(row);
        Ok(())
    }

    /// Puts `row` in place of the session's previous row, keeping the index in step.
    fn apply(&mut self, row: SessionRow) {
        if let Some(old) = self.rows.get(&row.session.id)
            && let Some(digest) = &old.refresh_digest
        {
            self.by_refresh.remove(digest);
        }
        if let Some(digest) = &row.refresh_digest {
            self.by_refresh
                .insert(digest.clone(), row.session.id.clone());
        }
        self.rows.insert(row.session.id.clone(), row);
    }

    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    fn by_token(&self, refresh_token: &str) -> Option<&SessionRow> {
        let id = self.by_refresh.get(&digest(refresh_token))?;
        self.rows.get(id)
    }

    /// Every row, in creation order.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> Vec<SessionRow> {
        let mut rows: Vec<SessionRow> = self.rows.values().cloned().collect();
        rows.sort_by_key(|row| row.seq);
        rows
    }
}

/// The SHA-256 of a refresh token, in hex: how the engine knows it.
#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
fn digest(refresh_token: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, refresh_token.as_bytes()).as_ref())
}

#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
fn unknown_refresh_token() -> EngineError {
    // Never the token itself: it is a secret, and the error may be logged or answered.
    EngineError::not_found("refresh_token", "(not a live session's refresh token)")
}

// Only the emulator changes sessions; without it they are loaded and kept as they are.
#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
impl LocalEngine {
    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        // Memory changes only after a successful commit, by one `apply`: a panic never leaves
        // a half-changed row behind.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `row` (with a store), then applies it: the one way a session changes.
    fn put_session(&self, sessions: &mut Sessions, row: SessionRow) -> Result<(), EngineError> {
        if let Some(store) = &self.inner.store {
            let result = store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_session(&row);
            if let Err(EngineError::Storage { message }) = &result {
                tracing::error!(%message, "a session change could not be committed and was not made");
            }
            result?;
        }
        sessions.apply(row);
        Ok(())
    }

    /// Starts a session for `user_id` (who must exist), scoped to `organization_id`, for
    /// `client_id`, whose first refresh token is `refresh_token`.
    pub(crate) fn start_session(
        &self,
        user_id: &str,
        organization_id: Option<&str>,
        client_id: &str,
        refresh_token: &str,
    ) -> Result<AuthSession, EngineError> {
        self.get_user(user_id)?;
        let mut sessions = self.sessions();
        let mut id = format!("session_{}", ulid());
        while sessions.rows.contains_key(&id) {
            id = format!("session_{}", ulid());
        }
        let now = now_rfc3339();
        let session = AuthSession {
            id,
            user_id: user_id.to_owned(),
            organization_id: organization_id.map(str::to_owned),
            client_id: client_id.to_owned(),
            created_at: now.clone(),
            updated_at: now,
            ended_at: None,
        };
        let row = SessionRow {
            seq: sessions.next_seq + 1,
            session: session.clone(),
            refresh_digest: Some(digest(refresh_token)),
        };
        self.put_session(&mut sessions, row)?;
        sessions.next_seq += 1;
        Ok(session)
    }

    /// The live session whose current refresh token is `refresh_token`.
    pub(crate) fn session_for_refresh_token(&self, refresh_token: &str) -> Option<AuthSession> {
        self.sessions()
            .by_token(refresh_token)
            .map(|row| row.session.clone())
    }

    /// The session `id`, live or ended.
    pub(crate) fn get_session(&self, id: &str) -> Option<AuthSession> {
        self.sessions().rows.get(id).map(|row| row.session.clone())
    }

    /// Spends `old` and makes `new` the session's refresh token, scoping it to
    /// `organization_id` from now on. `old` must be the current token of a live session
    /// (else `NotFound`): a token is used once.
    pub(crate) fn rotate_refresh_token(
        &self,
        old: &str,
        new: &str,
        organization_id: Option<&str>,
    ) -> Result<AuthSession, EngineError> {
        let mut sessions = self.sessions();
        let mut row = sessions
            .by_token(old)
            .cloned()
            .ok_or_else(unknown_refresh_token)?;
        row.session.organization_id = organization_id.map(str::to_owned);
        row.session.updated_at = now_rfc3339();
        row.refresh_digest = Some(digest(new));
        let session = row.session.clone();
        self.put_session(&mut sessions, row)?;
        Ok(session)
    }

    /// Ends the session `id` (sign-out): its refresh token stops working. Ending an ended
    /// session changes nothing.
    pub(crate) fn end_session(&self, id: &str) -> Result<AuthSession, EngineError> {
        let mut sessions = self.sessions();
        let mut row = sessions
            .rows
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::not_found("session", id))?;
        if row.session.ended_at.is_some() {
            return Ok(row.session);
        }
        let now = now_rfc3339();
        row.session.ended_at = Some(now.clone());
        row.session.updated_at = now;
        row.refresh_digest = None;
        let session = row.session.clone();
        self.put_session(&mut sessions, row)?;
        Ok(session)
    }

    /// Every session row, in creation order.
    #[cfg(test)]
    pub(crate) fn session_rows(&self) -> Vec<SessionRow> {
        self.sessions().rows()
    }
}
