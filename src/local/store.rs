//! The durable store: the engine's state in an SQLite database (`LocalEngine::open`, the
//! emulator's `--state`).
//!
//! Memory stays the source of every read and check; the database is written, never read, while
//! the engine runs. A change runs against memory, recording in the state's journal every entity
//! it touched (with its previous value); [`Store::commit`] then writes exactly those rows, each
//! as it now is in memory (or deletes it when the entity is gone), in one transaction. Only when
//! that commit succeeded is the change kept; otherwise the journal takes it back, so memory and
//! disk stay as they were. All of this happens under the engine's write lock, so no reader ever
//! sees a change that is not on disk.
//!
//! Durability: WAL mode with `synchronous = FULL`, so a commit returns only once the log is on
//! the disk (fsync), and a write that was answered survives a killed process and a power cut;
//! `NORMAL` would survive the first but could lose the last commits to the second.
//!
//! Opening is careful with what it finds: a missing file is created; an existing one must be an
//! SQLite database holding this crate's schema, and is read whole through the same rules as a
//! policy file before anything is written to it. A file that is empty, not a database, damaged,
//! of another application or of a newer schema is refused with its path and the problem, and is
//! left exactly as it was.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior, params};

use super::error::EngineError;
use super::ids::Meta;
use super::model::{MembershipStatus, NewPermission, NewResource, NewRole, NewUser};
use super::sessions::{AuthSession, SessionRow, Sessions};
use super::state::{State, Touched};
use crate::check::ResourceRef;

/// The schema this build writes. Each entry of [`MIGRATIONS`] moves a database one version up.
const SCHEMA_VERSION: usize = 2;

/// Version `n + 1` is `MIGRATIONS[n]` applied to version `n`. New tables (the emulator's AuthKit
/// users, sessions and one-time codes, for example) come as a new entry at the end, never as an
/// edit of an old one, so every existing database upgrades in place.
const MIGRATIONS: [&str; SCHEMA_VERSION] = [
    // 1: the authorization model. JSON columns hold small lists that always change together
    // with their row (a role's permissions, a membership's roles, the priority order).
    "CREATE TABLE settings (
         name TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE permissions (
         slug TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         id TEXT NOT NULL UNIQUE,
         name TEXT NOT NULL,
         description TEXT,
         resource_type_slug TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE roles (
         organization_id TEXT NOT NULL, -- '' for environment roles
         slug TEXT NOT NULL,
         seq INTEGER NOT NULL,
         id TEXT NOT NULL UNIQUE,
         name TEXT NOT NULL,
         description TEXT,
         resource_type_slug TEXT NOT NULL,
         permissions TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL,
         PRIMARY KEY (organization_id, slug)
     );
     CREATE TABLE organizations (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         name TEXT NOT NULL,
         root_resource_id TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE memberships (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         user_id TEXT NOT NULL,
         organization_id TEXT NOT NULL,
         status TEXT NOT NULL,
         role_slugs TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE resources (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         organization_id TEXT NOT NULL,
         resource_type_slug TEXT NOT NULL,
         external_id TEXT NOT NULL,
         name TEXT NOT NULL,
         description TEXT,
         parent_resource_id TEXT,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL,
         UNIQUE (organization_id, resource_type_slug, external_id)
     );
     CREATE TABLE role_assignments (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         organization_membership_id TEXT NOT NULL,
         role_slug TEXT NOT NULL,
         resource_id TEXT NOT NULL,
         resource_external_id TEXT NOT NULL,
         resource_type_slug TEXT NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );",
    // 2: the emulator's AuthKit. Users are rows of the model (the journal writes them, a policy
    // file carries them). Sessions are written on their own (see `sessions.rs`): a refresh
    // rotates a session's refresh token, of which only the SHA-256 (hex) is kept, so the file
    // never holds a token that works; an ended session keeps its row, without a token. One-time
    // sign-in codes are not stored at all: they live ten minutes in the emulator's memory.
    "CREATE TABLE users (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         email TEXT NOT NULL,
         first_name TEXT,
         last_name TEXT,
         email_verified INTEGER NOT NULL,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE authkit_sessions (
         id TEXT PRIMARY KEY,
         seq INTEGER NOT NULL,
         user_id TEXT NOT NULL,
         organization_id TEXT,
         client_id TEXT NOT NULL,
         refresh_token_sha256 TEXT UNIQUE,
         created_at TEXT NOT NULL,
         updated_at TEXT NOT NULL,
         ended_at TEXT
     );",
];

/// How long a write waits for another connection's lock before it fails (and is not applied).
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// An open state database.
pub(crate) struct Store {
    connection: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// An error about the file itself: it names the file.
fn file_error(path: &Path, message: impl std::fmt::Display) -> EngineError {
    EngineError::Io {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// An error while the engine runs: never a path (it may reach an HTTP answer).
fn storage_error(error: rusqlite::Error) -> EngineError {
    EngineError::Storage {
        message: error.to_string(),
    }
}

/// Whether `path` exists, after refusing what cannot be a state database: a directory, an
/// empty file, a file that does not start with SQLite's header. Only reads.
fn inspect(path: &Path) -> Result<bool, EngineError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(file_error(path, error)),
    };
    if metadata.is_dir() {
        return Err(file_error(path, "is a directory, not a state database"));
    }
    if metadata.len() == 0 {
        return Err(file_error(
            path,
            "is empty, not a state database (it is left as it is; remove it to start afresh)",
        ));
    }
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                file_error(path, "is not an SQLite database (too short)")
            }
            _ => file_error(path, error),
        })?;
    if &header != SQLITE_HEADER {
        return Err(file_error(path, "is not an SQLite database"));
    }
    Ok(true)
}

/// The schema version of an existing database: `None` when it has no table at all (a
/// database nothing was ever written to, which may be initialized).
fn schema_version(connection: &Connection, path: &Path) -> Result<Option<usize>, EngineError> {
    let read = |error: rusqlite::Error| file_error(path, format!("cannot be read: {error}"));
    let check: String = connection
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(read)?;
    if check != "ok" {
        return Err(file_error(path, format!("is damaged: {check}")));
    }
    let tables: i64 = connection
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(read)?;
    if tables == 0 {
        return Ok(None);
    }
    let has_version: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .map_err(read)?;
    if has_version == 0 {
        return Err(file_error(
            path,
            "is an SQLite database of another application (no schema_version table)",
        ));
    }
    let version: i64 = connection
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .map_err(read)?;
    let version = usize::try_from(version)
        .map_err(|_| file_error(path, format!("has an invalid schema version {version}")))?;
    if version > SCHEMA_VERSION {
        return Err(file_error(
            path,
            format!(
                "has schema version {version}, newer than this build's {SCHEMA_VERSION}: open it with a newer workos-authz"
            ),
        ));
    }
    Ok(Some(version))
}

/// Applies the migrations from `from` to [`SCHEMA_VERSION`] in one transaction.
fn migrate(transaction: &Transaction<'_>, from: usize) -> rusqlite::Result<()> {
    if from == 0 {
        transaction.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")?;
        transaction.execute("INSERT INTO schema_version (version) VALUES (0)", [])?;
    }
    for migration in &MIGRATIONS[from..] {
        transaction.execute_batch(migration)?;
    }
    transaction.execute(
        "UPDATE schema_version SET version = ?1",
        [SCHEMA_VERSION as i64],
    )?;
    Ok(())
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, WAL is required"
        )));
    }
    // A page cache big enough for the upper levels of every index of a large state, so a
    // write reads no page from the file system.
    connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA cache_size = -16384;")
}

impl Store {
    /// Opens or creates the database at `path`. Returns the stored state and sessions, or
    /// `None` when the database is new: then [`Store::initialize`] must be called with the
    /// first state.
    pub(crate) fn open(path: &Path) -> Result<(Store, Option<(State, Sessions)>), EngineError> {
        let exists = inspect(path)?;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if !exists {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let connection = Connection::open_with_flags(path, flags)
            .map_err(|error| file_error(path, format!("cannot be opened: {error}")))?;
        let version = if exists {
            schema_version(&connection, path)?
        } else {
            None
        };
        // Only now, with the file known to be ours (or new), is anything written to it.
        let state = match version {
            Some(version) => {
                let state = load(&connection, path, version)?;
                configure(&connection).map_err(|error| file_error(path, error))?;
                if version < SCHEMA_VERSION {
                    let mut connection = connection;
                    let transaction = connection
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(|error| file_error(path, error))?;
                    migrate(&transaction, version)
                        .and_then(|()| transaction.commit())
                        .map_err(|error| {
                            file_error(path, format!("cannot be upgraded: {error}"))
                        })?;
                    return Ok((Store { connection }, Some(state)));
                }
                Some(state)
            }
            None => {
                configure(&connection).map_err(|error| file_error(path, error))?;
                None
            }
        };
        Ok((Store { connection }, state))
    }

    /// Reads the state and sessions stored at `path` without writing anything (no file is
    /// created).
    pub(crate) fn read(path: &Path) -> Result<(State, Sessions), EngineError> {
        if !inspect(path)? {
            return Err(file_error(path, "does not exist"));
        }
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|error| file_error(path, format!("cannot be opened: {error}")))?;
        match schema_version(&connection, path)? {
            None => Err(file_error(path, "holds no state yet")),
            Some(version) if version < SCHEMA_VERSION => Err(file_error(
                path,
                format!(
                    "has schema version {version}: open it once with LocalEngine::open (or the emulator) to upgrade it"
                ),
            )),
            Some(version) => load(&connection, path, version),
        }
    }

    /// Creates the schema of a new database and writes `state` into it, in one transaction.
    pub(crate) fn initialize(&mut self, state: &State, path: &Path) -> Result<(), EngineError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| file_error(path, error))?;
        migrate(&transaction, 0)
            .and_then(|()| write_all(&transaction, state))
            .and_then(|()| transaction.commit())
            .map_err(|error| file_error(path, format!("cannot be initialized: {error}")))
    }

    /// Writes the rows the change in progress touched, in one transaction. On error nothing
    /// was written, and the caller takes the change back.
    pub(crate) fn commit(&mut self, state: &State) -> Result<(), EngineError> {
        let touched = state.touched();
        if touched.is_empty() {
            return Ok(());
        }
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error)?;
        for row in &touched {
            write_row(&transaction, state, row).map_err(storage_error)?;
        }
        transaction.commit().map_err(storage_error)
    }

    /// Writes one session row as it now is, in one transaction. On error nothing was written,
    /// and the caller leaves its memory as it was.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    pub(crate) fn write_session(&mut self, row: &SessionRow) -> Result<(), EngineError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error)?;
        let session = &row.session;
        transaction
            .prepare_cached(
                "INSERT OR REPLACE INTO authkit_sessions (id, seq, user_id, organization_id,
                 client_id, refresh_token_sha256, created_at, updated_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    session.id,
                    row.seq as i64,
                    session.user_id,
                    session.organization_id,
                    session.client_id,
                    row.refresh_digest,
                    session.created_at,
                    session.updated_at,
                    session.ended_at
                ])
            })
            .map_err(storage_error)?;
        transaction.commit().map_err(storage_error)
    }

    /// Replaces the model stored with `state`, in one transaction. Sessions are not part of
    /// the model and stay as they are.
    pub(crate) fn replace_all(&mut self, state: &State) -> Result<(), EngineError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error)?;
        transaction
            .execute_batch(
                "DELETE FROM settings; DELETE FROM permissions; DELETE FROM roles;
                 DELETE FROM organizations; DELETE FROM memberships; DELETE FROM resources;
                 DELETE FROM role_assignments; DELETE FROM users;",
            )
            .and_then(|()| write_all(&transaction, state))
            .map_err(storage_error)?;
        transaction.commit().map_err(storage_error)
    }
}

fn json(value: &impl serde::Serialize) -> String {
    // Lists of strings always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

fn write_all(transaction: &Transaction<'_>, state: &State) -> rusqlite::Result<()> {
    for row in state.every_row() {
        write_row(transaction, state, &row)?;
    }
    Ok(())
}

/// Writes one row as the entity now is in `state`, or deletes it when the entity is gone.
fn write_row(transaction: &Transaction<'_>, state: &State, row: &Touched) -> rusqlite::Result<()> {
    match row {
        Touched::Settings => {
            let mut upsert = transaction
                .prepare_cached("INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)")?;
            upsert.execute(params!["multiple_roles", json(&state.multiple_roles())])?;
            upsert.execute(params!["default_role", state.default_role()])?;
            upsert.execute(params!["role_priority", json(&state.role_priority())])?;
        }
        Touched::Permission(slug) => match state.permissions.get(slug) {
            Some(entry) => {
                let p = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO permissions (slug, seq, id, name, description,
                         resource_type_slug, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        p.slug,
                        entry.seq as i64,
                        p.id,
                        p.name,
                        p.description,
                        p.resource_type_slug,
                        p.created_at,
                        p.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM permissions WHERE slug = ?1")?
                    .execute([slug])?;
            }
        },
        Touched::Role(organization, slug) => {
            let scope = organization.as_deref().unwrap_or("");
            match state.role_entry(organization.as_deref(), slug) {
                Some(entry) => {
                    let r = &entry.item;
                    transaction
                        .prepare_cached(
                            "INSERT OR REPLACE INTO roles (organization_id, slug, seq, id, name,
                             description, resource_type_slug, permissions, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        )?
                        .execute(params![
                            scope,
                            r.slug,
                            entry.seq as i64,
                            r.id,
                            r.name,
                            r.description,
                            r.resource_type_slug,
                            json(&r.permissions),
                            r.created_at,
                            r.updated_at
                        ])?;
                }
                None => {
                    transaction
                        .prepare_cached(
                            "DELETE FROM roles WHERE organization_id = ?1 AND slug = ?2",
                        )?
                        .execute([scope, slug.as_str()])?;
                }
            }
        }
        Touched::Organization(id) => match state.organizations.get(id) {
            Some(entry) => {
                let o = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO organizations (id, seq, name, root_resource_id,
                         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        o.id,
                        entry.seq as i64,
                        o.name,
                        o.root_resource_id,
                        o.created_at,
                        o.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM organizations WHERE id = ?1")?
                    .execute([id])?;
            }
        },
        Touched::Membership(id) => match state.memberships.get(id) {
            Some(entry) => {
                let m = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO memberships (id, seq, user_id, organization_id,
                         status, role_slugs, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        m.id,
                        entry.seq as i64,
                        m.user_id,
                        m.organization_id,
                        m.status.as_str(),
                        json(&m.role_slugs),
                        m.created_at,
                        m.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM memberships WHERE id = ?1")?
                    .execute([id])?;
            }
        },
        Touched::Resource(id) => match state.resources.get(id) {
            Some(entry) => {
                let r = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO resources (id, seq, organization_id,
                         resource_type_slug, external_id, name, description, parent_resource_id,
                         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        r.id,
                        entry.seq as i64,
                        r.organization_id,
                        r.resource_type_slug,
                        r.external_id,
                        r.name,
                        r.description,
                        r.parent_resource_id,
                        r.created_at,
                        r.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM resources WHERE id = ?1")?
                    .execute([id])?;
            }
        },
        Touched::User(id) => match state.users.get(id) {
            Some(entry) => {
                let u = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO users (id, seq, email, first_name, last_name,
                         email_verified, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        u.id,
                        entry.seq as i64,
                        u.email,
                        u.first_name,
                        u.last_name,
                        u.email_verified,
                        u.created_at,
                        u.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM users WHERE id = ?1")?
                    .execute([id])?;
            }
        },
        Touched::Assignment(id) => match state.assignments.get(id) {
            Some(entry) => {
                let a = &entry.item;
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO role_assignments (id, seq,
                         organization_membership_id, role_slug, resource_id,
                         resource_external_id, resource_type_slug, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![
                        a.id,
                        entry.seq as i64,
                        a.organization_membership_id,
                        a.role_slug,
                        a.resource_id,
                        a.resource_external_id,
                        a.resource_type_slug,
                        a.created_at,
                        a.updated_at
                    ])?;
            }
            None => {
                transaction
                    .prepare_cached("DELETE FROM role_assignments WHERE id = ?1")?
                    .execute([id])?;
            }
        },
    }
    Ok(())
}

/// The metadata a stored row pins: id, timestamps and creation sequence.
fn stored_meta(id: String, created_at: String, updated_at: String, seq: i64) -> Meta {
    Meta {
        id: Some(id),
        created_at: Some(created_at),
        updated_at: Some(updated_at),
        seq: u64::try_from(seq).ok(),
    }
}

/// Rebuilds the state from a database of schema `version` through the same rules as a policy
/// file, keeping every id, timestamp and creation order, and reads its sessions. A row that
/// breaks a rule refuses the whole file.
fn load(
    connection: &Connection,
    path: &Path,
    version: usize,
) -> Result<(State, Sessions), EngineError> {
    let read = |error: rusqlite::Error| file_error(path, format!("cannot be read: {error}"));
    let broken = |what: String, error: EngineError| {
        file_error(path, format!("holds an invalid {what}: {error}"))
    };
    let mut state = State::empty();

    let settings: HashMap<String, String> = connection
        .prepare("SELECT name, value FROM settings")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(read)?;
    let setting = |name: &str| {
        settings
            .get(name)
            .ok_or_else(|| file_error(path, format!("has no {name} setting")))
    };
    let multiple_roles: bool = serde_json::from_str(setting("multiple_roles")?)
        .map_err(|error| file_error(path, format!("has an invalid multiple_roles: {error}")))?;
    let default_role = setting("default_role")?.clone();
    let priority: Vec<String> = serde_json::from_str(setting("role_priority")?)
        .map_err(|error| file_error(path, format!("has an invalid role_priority: {error}")))?;

    let mut statement = connection
        .prepare(
            "SELECT slug, name, description, resource_type_slug, id, created_at, updated_at, seq
             FROM permissions ORDER BY seq",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                NewPermission {
                    slug: row.get(0)?,
                    name: row.get(1)?,
                    description: row.get(2)?,
                    resource_type_slug: Some(row.get(3)?),
                },
                stored_meta(row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?),
            ))
        })
        .map_err(read)?;
    for row in rows {
        let (new, meta) = row.map_err(read)?;
        let slug = new.slug.clone();
        state
            .create_permission(new, meta)
            .map_err(|e| broken(format!("permission {slug}"), e))?;
    }

    let role_rows =
        |organization_roles: bool| -> Result<Vec<(String, NewRole, Meta)>, EngineError> {
            let filter = if organization_roles {
                "organization_id <> ''"
            } else {
                "organization_id = ''"
            };
            let mut statement = connection
                .prepare(&format!(
                "SELECT organization_id, slug, name, description, resource_type_slug, permissions,
                 id, created_at, updated_at, seq FROM roles WHERE {filter} ORDER BY seq"
            ))
                .map_err(read)?;
            let rows = statement
                .query_map([], |row| {
                    let permissions: String = row.get(5)?;
                    Ok((
                        row.get::<_, String>(0)?,
                        NewRole {
                            slug: row.get(1)?,
                            name: row.get(2)?,
                            description: row.get(3)?,
                            resource_type_slug: Some(row.get(4)?),
                            permissions: serde_json::from_str(&permissions).unwrap_or_default(),
                        },
                        stored_meta(row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?),
                    ))
                })
                .map_err(read)?;
            rows.collect::<Result<_, _>>().map_err(read)
        };

    // Environment roles in priority order, which the replay rebuilds by creating them so.
    let mut environment: HashMap<String, (NewRole, Meta)> = role_rows(false)?
        .into_iter()
        .map(|(_, new, meta)| (new.slug.clone(), (new, meta)))
        .collect();
    for slug in &priority {
        let (new, meta) = environment.remove(slug).ok_or_else(|| {
            file_error(
                path,
                format!("lists role {slug} in role_priority, but has no such role"),
            )
        })?;
        state
            .create_environment_role(new, meta)
            .map_err(|e| broken(format!("role {slug}"), e))?;
    }
    if let Some(slug) = environment.keys().next() {
        return Err(file_error(
            path,
            format!("has environment role {slug} missing from role_priority"),
        ));
    }
    state
        .set_default_role(&default_role)
        .map_err(|e| broken("default_role".to_owned(), e))?;
    state.set_multiple_roles(multiple_roles);

    let mut roots: HashMap<String, Meta> = HashMap::new();
    {
        let mut statement = connection
            .prepare(
                "SELECT id, created_at, updated_at, seq FROM resources
                 WHERE parent_resource_id IS NULL",
            )
            .map_err(read)?;
        let rows = statement
            .query_map([], |row| {
                let id: String = row.get(0)?;
                Ok((
                    id.clone(),
                    stored_meta(id, row.get(1)?, row.get(2)?, row.get(3)?),
                ))
            })
            .map_err(read)?;
        for row in rows {
            let (id, meta) = row.map_err(read)?;
            roots.insert(id, meta);
        }
    }
    let mut statement = connection
        .prepare(
            "SELECT name, root_resource_id, id, created_at, updated_at, seq
             FROM organizations ORDER BY seq",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                stored_meta(row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?),
            ))
        })
        .map_err(read)?;
    for row in rows {
        let (name, root_id, meta) = row.map_err(read)?;
        let id = meta.id.clone().unwrap_or_default();
        let root = roots.remove(&root_id).ok_or_else(|| {
            file_error(
                path,
                format!("has organization {id} without its root resource {root_id}"),
            )
        })?;
        state
            .create_organization(&name, meta, root)
            .map_err(|e| broken(format!("organization {id}"), e))?;
    }
    if let Some(id) = roots.keys().next() {
        return Err(file_error(
            path,
            format!("has root resource {id} without its organization"),
        ));
    }

    for (organization_id, new, meta) in role_rows(true)? {
        let slug = new.slug.clone();
        state
            .create_organization_role(&organization_id, new, meta)
            .map_err(|e| broken(format!("role {slug} of {organization_id}"), e))?;
    }

    if version >= 2 {
        let mut statement = connection
            .prepare(
                "SELECT email, first_name, last_name, email_verified, id, created_at, updated_at,
                 seq FROM users ORDER BY seq",
            )
            .map_err(read)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    NewUser {
                        email: row.get(0)?,
                        first_name: row.get(1)?,
                        last_name: row.get(2)?,
                        email_verified: row.get(3)?,
                    },
                    stored_meta(row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?),
                ))
            })
            .map_err(read)?;
        for row in rows {
            let (new, meta) = row.map_err(read)?;
            let id = meta.id.clone().unwrap_or_default();
            state
                .create_user(new, meta)
                .map_err(|e| broken(format!("user {id}"), e))?;
        }
    }

    let mut statement = connection
        .prepare(
            "SELECT user_id, organization_id, status, role_slugs, id, created_at, updated_at, seq
             FROM memberships ORDER BY seq",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                stored_meta(row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?),
            ))
        })
        .map_err(read)?;
    for row in rows {
        let (user_id, organization_id, status, roles, meta) = row.map_err(read)?;
        let id = meta.id.clone().unwrap_or_default();
        let status = MembershipStatus::parse(&status).ok_or_else(|| {
            file_error(path, format!("has membership {id} with status {status:?}"))
        })?;
        let roles: Vec<String> = serde_json::from_str(&roles).map_err(|error| {
            file_error(
                path,
                format!("has membership {id} with invalid roles: {error}"),
            )
        })?;
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        state
            .create_membership(&user_id, &organization_id, &roles, status, meta)
            .map_err(|e| broken(format!("membership {id}"), e))?;
    }

    let mut statement = connection
        .prepare(
            "SELECT organization_id, resource_type_slug, external_id, name, description,
             parent_resource_id, id, created_at, updated_at, seq
             FROM resources WHERE parent_resource_id IS NOT NULL ORDER BY seq",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                NewResource {
                    organization_id: row.get(0)?,
                    resource_type_slug: row.get(1)?,
                    external_id: row.get(2)?,
                    name: row.get(3)?,
                    description: row.get(4)?,
                    parent: Some(ResourceRef::id(row.get::<_, String>(5)?)),
                },
                stored_meta(row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?),
            ))
        })
        .map_err(read)?;
    for row in rows {
        let (new, meta) = row.map_err(read)?;
        let id = meta.id.clone().unwrap_or_default();
        state
            .create_resource(new, meta)
            .map_err(|e| broken(format!("resource {id}"), e))?;
    }

    let mut statement = connection
        .prepare(
            "SELECT organization_membership_id, role_slug, resource_id, id, created_at,
             updated_at, seq FROM role_assignments ORDER BY seq",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                stored_meta(row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?),
            ))
        })
        .map_err(read)?;
    for row in rows {
        let (membership_id, role_slug, resource_id, meta) = row.map_err(read)?;
        let id = meta.id.clone().unwrap_or_default();
        state
            .assign_role(
                &membership_id,
                &role_slug,
                &ResourceRef::id(resource_id),
                meta,
            )
            .map_err(|e| broken(format!("role assignment {id}"), e))?;
    }
    state.settle();

    let mut sessions = Sessions::default();
    if version >= 2 {
        let mut statement = connection
            .prepare(
                "SELECT id, seq, user_id, organization_id, client_id, refresh_token_sha256,
                 created_at, updated_at, ended_at FROM authkit_sessions ORDER BY seq",
            )
            .map_err(read)?;
        let rows = statement
            .query_map([], |row| {
                Ok(SessionRow {
                    seq: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                    session: AuthSession {
                        id: row.get(0)?,
                        user_id: row.get(2)?,
                        organization_id: row.get(3)?,
                        client_id: row.get(4)?,
                        created_at: row.get(6)?,
                        updated_at: row.get(7)?,
                        ended_at: row.get(8)?,
                    },
                    refresh_digest: row.get(5)?,
                })
            })
            .map_err(read)?;
        for row in rows {
            let row = row.map_err(read)?;
            if row.session.ended_at.is_some() && row.refresh_digest.is_some() {
                return Err(file_error(
                    path,
                    format!(
                        "holds session {} that ended and still has a refresh token",
                        row.session.id
                    ),
                ));
            }
            sessions
                .load(row)
                .map_err(|problem| file_error(path, format!("holds {problem}")))?;
        }
    }
    Ok((state, sessions))
}

#[cfg(test)]
mod tests {
    use super::super::{
        Changes, LocalEngine, MembershipStatus, NewPermission, NewResource, NewRole, NewUser,
        ResourceFilter,
    };
    use super::*;

    /// Everything the engine answers: the whole dump, and the queries that read each index
    /// (grants, children, external ids, memberships by user, assignments by resource).
    fn observe(engine: &LocalEngine) -> String {
        let mut seen = format!("{:?}\n", engine.dump_policy());
        let resources = engine.list_resources(&ResourceFilter::default());
        let permissions = engine.list_permissions();
        for membership in engine.list_memberships(None, None) {
            seen += &format!(
                "{:?}\n",
                engine.active_membership(&membership.user_id, &membership.organization_id)
            );
            for permission in &permissions {
                let allowed: Vec<_> = engine
                    .resources_for_membership(&membership.id, &permission.slug, None)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                seen += &format!("{} {} {allowed:?}\n", membership.id, permission.slug);
            }
            for resource in &resources {
                let reference = ResourceRef::id(&resource.id);
                seen += &format!(
                    "{:?}\n",
                    engine.effective_permissions(&membership.id, &reference)
                );
            }
            seen += &format!("{:?}\n", engine.list_role_assignments(&membership.id));
        }
        for resource in &resources {
            let children = engine.list_resources(&ResourceFilter {
                parent_resource_id: Some(resource.id.clone()),
                ..ResourceFilter::default()
            });
            seen += &format!(
                "{:?} {:?} {:?}\n",
                children.iter().map(|r| &r.id).collect::<Vec<_>>(),
                engine.list_role_assignments_for_resource(&resource.id),
                engine.find_resource(
                    &resource.organization_id,
                    &ResourceRef::external(&resource.resource_type_slug, &resource.external_id)
                )
            );
        }
        for organization in engine.list_organizations() {
            seen += &format!("{:?}\n", engine.list_organization_roles(&organization.id));
        }
        seen += &format!("{:?}\n", engine.role_priority());
        for user in engine.list_users() {
            seen += &format!(
                "{user:?} {:?}\n",
                engine.find_user_by_email(&user.email.to_ascii_uppercase())
            );
        }
        seen
    }

    fn read_only(engine: &LocalEngine, on: bool) {
        let store = engine.inner.store.as_ref().unwrap();
        let store = store.lock().unwrap();
        store
            .connection
            .execute_batch(if on {
                "PRAGMA query_only = ON"
            } else {
                "PRAGMA query_only = OFF"
            })
            .unwrap();
    }

    type Step = (
        &'static str,
        Box<dyn Fn(&LocalEngine) -> Result<(), EngineError>>,
    );

    fn steps() -> Vec<Step> {
        fn step(
            name: &'static str,
            run: impl Fn(&LocalEngine) -> Result<(), EngineError> + 'static,
        ) -> Step {
            (name, Box::new(run))
        }
        let changes = |name: &str| Changes {
            name: Some(name.to_owned()),
            description: Some("changed".to_owned()),
        };
        vec![
            step("create permissions", |e| {
                e.create_permission(NewPermission::new("docs:read", "Read"))?;
                Ok(())
            }),
            step("create another permission", |e| {
                e.create_permission(NewPermission::new("docs:write", "Write"))?;
                Ok(())
            }),
            step("update a permission", move |e| {
                e.update_permission("docs:read", changes("Read docs"))?;
                Ok(())
            }),
            step("create an environment role", |e| {
                e.create_environment_role(
                    NewRole::new("viewer", "Viewer").permissions(["docs:read"]),
                )?;
                Ok(())
            }),
            step("create a second environment role", |e| {
                e.create_environment_role(NewRole::new("editor", "Editor"))?;
                Ok(())
            }),
            step("update an environment role", move |e| {
                e.update_environment_role("viewer", changes("Viewers"))?;
                Ok(())
            }),
            step("set role permissions", |e| {
                e.set_environment_role_permissions("editor", &["docs:read", "docs:write"])?;
                Ok(())
            }),
            step("add a role permission", |e| {
                e.add_environment_role_permission("viewer", "docs:write")?;
                Ok(())
            }),
            step("set the priority", |e| {
                e.set_role_priority(&["editor", "viewer", "member"])
            }),
            step("set the default role", |e| e.set_default_role("viewer")),
            step("multiple roles on", |e| e.set_multiple_roles(true)),
            step("create an organization", |e| {
                e.create_organization_with_id("org_acme", "Acme")?;
                Ok(())
            }),
            step("create an organization role", |e| {
                e.create_organization_role("org_acme", NewRole::new("", "Billing clerk"))?;
                Ok(())
            }),
            step("change the organization role", move |e| {
                e.set_organization_role_permissions(
                    "org_acme",
                    "org-billing-clerk",
                    &["docs:read"],
                )?;
                e.add_organization_role_permission("org_acme", "org-billing-clerk", "docs:write")?;
                e.update_organization_role("org_acme", "org-billing-clerk", changes("Clerks"))?;
                Ok(())
            }),
            step("remove an organization role permission", |e| {
                e.remove_organization_role_permission(
                    "org_acme",
                    "org-billing-clerk",
                    "docs:read",
                )?;
                Ok(())
            }),
            step("create users", |e| {
                e.create_user_with_id(
                    "user_alice",
                    NewUser::new("alice@example.com")
                        .first_name("Alice")
                        .email_verified(true),
                )?;
                e.create_user(NewUser::new("bob@example.com").last_name("Builder"))?;
                Ok(())
            }),
            step("create memberships", |e| {
                e.create_membership("user_alice", "org_acme", &["editor", "org-billing-clerk"])?;
                e.create_membership("user_bob", "org_acme", &[])?;
                Ok(())
            }),
            step("create resources", |e| {
                let workspace =
                    e.create_resource(NewResource::new("org_acme", "workspace", "ws", "WS"))?;
                e.create_resource(
                    NewResource::new("org_acme", "project", "p1", "P1")
                        .parent(ResourceRef::id(&workspace.id)),
                )?;
                e.create_resource(
                    NewResource::new("org_acme", "doc", "d1", "D1")
                        .parent(ResourceRef::external("project", "p1")),
                )?;
                Ok(())
            }),
            step("update a resource", move |e| {
                let project = e.get_resource_by_external_id("org_acme", "project", "p1")?;
                e.update_resource(&project.id, changes("Project one"))?;
                Ok(())
            }),
            step("assign roles", |e| {
                let bob = e.active_membership("user_bob", "org_acme").unwrap();
                e.assign_role(&bob.id, "viewer", &ResourceRef::external("project", "p1"))?;
                e.assign_role(&bob.id, "editor", &ResourceRef::external("doc", "d1"))?;
                e.assign_role(
                    &bob.id,
                    "org-billing-clerk",
                    &ResourceRef::external("workspace", "ws"),
                )?;
                let alice = e.active_membership("user_alice", "org_acme").unwrap();
                e.assign_role(&alice.id, "viewer", &ResourceRef::external("doc", "d1"))?;
                Ok(())
            }),
            step("remove a role by target", |e| {
                let bob = e.active_membership("user_bob", "org_acme").unwrap();
                e.remove_role(&bob.id, "editor", &ResourceRef::external("doc", "d1"))
            }),
            step("remove a role assignment by id", |e| {
                let alice = e.active_membership("user_alice", "org_acme").unwrap();
                let assignment = e.list_role_assignments(&alice.id)?.remove(0);
                e.remove_role_assignment(&alice.id, &assignment.id)
            }),
            step("membership roles and status", |e| {
                let bob = e.active_membership("user_bob", "org_acme").unwrap();
                e.set_membership_roles(&bob.id, &["editor", "viewer"])?;
                e.set_membership_status(&bob.id, MembershipStatus::Inactive)?;
                Ok(())
            }),
            step("reactivate a membership", |e| {
                e.activate_membership("user_bob", "org_acme", &["viewer"])?;
                Ok(())
            }),
            step("delete a permission roles carry", |e| {
                e.delete_permission("docs:write")
            }),
            step("delete an organization role held and assigned", |e| {
                e.delete_organization_role("org_acme", "org-billing-clerk")
            }),
            step("delete an environment role held and assigned", |e| {
                e.delete_environment_role("editor")
            }),
            step("multiple roles off", |e| e.set_multiple_roles(false)),
            step("delete a subtree with assignments", |e| {
                let workspace = e.get_resource_by_external_id("org_acme", "workspace", "ws")?;
                e.delete_resource(&workspace.id, true)
            }),
            step("delete a membership with assignments", |e| {
                let project =
                    e.create_resource(NewResource::new("org_acme", "project", "p2", "P2"))?;
                let bob = e.active_membership("user_bob", "org_acme").unwrap();
                e.assign_role(&bob.id, "viewer", &ResourceRef::id(&project.id))?;
                e.delete_membership(&bob.id)
            }),
            step("replace the whole policy", |e| {
                let mut policy = e.dump_policy();
                policy.permissions.truncate(0);
                for role in &mut policy.roles {
                    role.permissions.clear();
                }
                for organization in &mut policy.organizations {
                    for role in &mut organization.roles {
                        role.permissions.clear();
                    }
                }
                e.replace_policy(&policy)
            }),
        ]
    }

    /// Every kind of change, first with the database read-only (the commit fails: the change
    /// must be absent from memory, every index included, and from the disk), then for real
    /// (the rows it touched must be exactly what a reopened engine reads back).
    #[test]
    fn every_change_is_all_or_nothing_and_stored_whole() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.db");
        let engine = LocalEngine::open(&path).unwrap();
        for (name, step) in steps() {
            let before = observe(&engine);
            read_only(&engine, true);
            let failed = step(&engine);
            read_only(&engine, false);
            // A step of several changes fails at its first; either way nothing may remain.
            assert!(
                matches!(failed, Err(EngineError::Storage { .. })),
                "{name}: {failed:?}"
            );
            assert_eq!(
                observe(&engine),
                before,
                "{name}: a failed commit left a trace"
            );
            assert_eq!(
                observe(&LocalEngine::read_store(&path).unwrap()),
                before,
                "{name}: the disk changed"
            );

            step(&engine).unwrap_or_else(|e| panic!("{name}: {e}"));
            let after = observe(&engine);
            assert_ne!(after, before, "{name} changed nothing");
            assert_eq!(
                observe(&LocalEngine::read_store(&path).unwrap()),
                after,
                "{name}: the stored rows differ from memory"
            );
        }
        let last = observe(&engine);
        drop(engine);
        assert_eq!(observe(&LocalEngine::open(&path).unwrap()), last);
    }

    /// Sessions: each change is one committed row; with the database read-only the change
    /// fails with `Storage` and neither memory nor disk has it; a reopened engine reads every
    /// session back, recognising only the current refresh tokens.
    #[test]
    fn sessions_are_stored_row_by_row_and_a_failed_commit_changes_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sessions.db");
        let engine = LocalEngine::open(&path).unwrap();
        engine
            .create_user_with_id("user_ada", NewUser::new("ada@example.com"))
            .unwrap();
        assert!(matches!(
            engine.start_session("user_nobody", None, "client_1", "token_0"),
            Err(EngineError::NotFound { .. })
        ));

        read_only(&engine, true);
        let failed = engine.start_session("user_ada", None, "client_1", "token_0");
        read_only(&engine, false);
        assert!(
            matches!(failed, Err(EngineError::Storage { .. })),
            "{failed:?}"
        );
        assert!(engine.session_rows().is_empty());
        assert!(engine.session_for_refresh_token("token_0").is_none());

        let session = engine
            .start_session("user_ada", Some("org_x"), "client_1", "token_1")
            .unwrap();
        let other = engine
            .start_session("user_ada", None, "client_1", "token_other")
            .unwrap();
        assert_ne!(session.id, other.id);
        assert!(session.id.starts_with("session_"));

        read_only(&engine, true);
        let failed = engine.rotate_refresh_token("token_1", "token_2", None);
        let ended = engine.end_session(&other.id);
        read_only(&engine, false);
        assert!(matches!(failed, Err(EngineError::Storage { .. })));
        assert!(matches!(ended, Err(EngineError::Storage { .. })));
        assert_eq!(
            engine.session_for_refresh_token("token_1").map(|s| s.id),
            Some(session.id.clone()),
            "a failed rotation keeps the old token"
        );
        assert!(engine.session_for_refresh_token("token_2").is_none());
        assert_eq!(engine.get_session(&other.id).unwrap().ended_at, None);

        let rotated = engine
            .rotate_refresh_token("token_1", "token_2", None)
            .unwrap();
        assert_eq!(rotated.organization_id, None);
        assert!(matches!(
            engine.rotate_refresh_token("token_1", "token_3", None),
            Err(EngineError::NotFound { .. })
        ));
        engine.end_session(&other.id).unwrap();
        assert!(engine.session_for_refresh_token("token_other").is_none());
        let again = engine.end_session(&other.id).unwrap();
        assert!(again.ended_at.is_some());

        let rows = format!("{:?}", engine.session_rows());
        assert!(!rows.contains("token_"), "no token is kept: {rows}");
        drop(engine);
        let reopened = LocalEngine::open(&path).unwrap();
        assert_eq!(format!("{:?}", reopened.session_rows()), rows);
        assert_eq!(
            reopened.session_for_refresh_token("token_2").map(|s| s.id),
            Some(session.id)
        );
        assert!(reopened.session_for_refresh_token("token_1").is_none());
        assert!(reopened.session_for_refresh_token("token_other").is_none());
        // The model's replacement leaves sessions alone.
        reopened.replace_policy(&reopened.dump_policy()).unwrap();
        assert!(reopened.session_for_refresh_token("token_2").is_some());
        assert_eq!(
            format!(
                "{:?}",
                LocalEngine::read_store(&path).unwrap().session_rows()
            ),
            rows
        );
    }

    /// A database of schema 1 (before users and sessions) is read as it is, then upgraded in
    /// place to the current schema, and takes users and sessions from then on.
    #[test]
    fn a_version_1_database_is_upgraded_in_place() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("v1.db");
        {
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE schema_version (version INTEGER NOT NULL);
                     INSERT INTO schema_version (version) VALUES (1);",
                )
                .unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            let state = State::new();
            let transaction = connection.unchecked_transaction().unwrap();
            for row in state.every_row() {
                write_row(&transaction, &state, &row).unwrap();
            }
            transaction.commit().unwrap();
        }
        assert!(matches!(
            LocalEngine::read_store(&path),
            Err(EngineError::Io { .. })
        ));
        let engine = LocalEngine::open(&path).unwrap();
        assert_eq!(engine.default_role(), "member");
        engine
            .create_user_with_id("user_ada", NewUser::new("ada@example.com"))
            .unwrap();
        engine
            .start_session("user_ada", None, "client_1", "token_1")
            .unwrap();
        drop(engine);
        let connection = Connection::open(&path).unwrap();
        let version: i64 = connection
            .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION as i64);
        let reopened = LocalEngine::read_store(&path).unwrap();
        assert_eq!(reopened.list_users().len(), 1);
        assert_eq!(reopened.session_rows().len(), 1);
    }

    #[test]
    fn a_new_database_is_seeded_once_and_read_store_creates_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("seeded.db");
        let seed = crate::local::Policy::from_json(
            r#"{ "permissions": [{ "slug": "a:b", "name": "A" }],
                 "organizations": [{ "id": "org_seed", "name": "Seed" }] }"#,
        )
        .unwrap();
        let engine = LocalEngine::open_with_seed(&path, &seed).unwrap();
        engine
            .create_organization_with_id("org_later", "Later")
            .unwrap();
        drop(engine);
        let other_seed = crate::local::Policy::default();
        let reopened = LocalEngine::open_with_seed(&path, &other_seed).unwrap();
        assert!(reopened.get_organization("org_seed").is_ok());
        assert!(reopened.get_organization("org_later").is_ok());
        assert!(reopened.get_permission("a:b").is_ok());

        let missing = directory.path().join("missing.db");
        assert!(matches!(
            LocalEngine::read_store(&missing),
            Err(EngineError::Io { .. })
        ));
        assert!(!missing.exists());
    }
}
