//! Vigil's persistence. sqlx over SQLite (embedded default) or PostgreSQL, chosen at run time
//! from the database URL. Queries are written once in the dialect both accept (`$1`
//! placeholders, `RETURNING`, `ON CONFLICT`); times are `BIGINT` epoch milliseconds and JSON
//! is text, so rows decode the same on both backends.
//!
//! Every write that a user causes takes an [`AuditCtx`] and appends to the audit log in the
//! same transaction: a write and its audit entry land together or not at all.

pub mod acks;
pub mod alerting;
pub mod api_keys;
pub mod audit;
pub mod changes;
pub mod events;
pub mod incidents;
pub mod notify;
pub mod oncall;
pub mod probes;
pub mod sessions;
pub mod testing;
pub mod users;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use alerting::{Evaluated, HistoryEntry, HistoryQuery, Rule, RuleWithState};
pub use api_keys::{ApiKey, NewApiKey};
pub use audit::{AuditCtx, AuditEntry, AuditQuery};
pub use incidents::{
    ActionFilter, ActionItem, AlertLink, Incident, IncidentFilter, NewEntry, NewIncident,
    PostmortemRow, TimelineEntry,
};
pub use oncall::{
    Contact, Escalation, EscalationPolicy, FeedKind, NewEscalation, NewPage, OverrideRow, Page,
    Schedule,
};
pub use probes::Probe;
pub use sessions::{NewSession, SessionUser};
pub use users::{NewUser, User, UserWithHash};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite: or postgres:// (got `{}`)",
                redact_url(url)
            )))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Errors of the storage layer, mapped from sqlx in one place ([`StoreError::from`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            _ => StoreError::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Hides the secrets of a URL (see [`domain::secrets::redact_url`]).
pub use domain::secrets::redact_url;

/// Connection pool options.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(10) }
    }
}

/// The handle every service uses. Cheap to clone (a pool inside).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url`. SQLite files (and their folder) are created when missing and
    /// opened in WAL mode with foreign keys enforced.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let mut pool_opts = AnyPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout);
        if backend == Backend::Sqlite {
            pool_opts = pool_opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                         PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_opts.connect(&url).await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the database file; setting it once per open is enough.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations of this backend; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.pool).await?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// True when the database answers a trivial query (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes sure the folder of a SQLite file exists and the file is created when missing.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_owned());
    }
    if let Some(parent) = Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!("cannot create data folder {}: {e}", parent.display()))
            })?;
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_owned(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_owned(),
    };
    // Validate early so a typo in the URL is reported as such.
    let out = format!("sqlite://{path}?{query}");
    sqlx::sqlite::SqliteConnectOptions::from_str(&out)
        .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?;
    Ok(out)
}

/// Expects exactly one affected row, otherwise `NotFound`.
/// Ends a transaction that has nothing to keep and returns `value`. Rolling back at once
/// matters: a dropped transaction keeps SQLite's write lock until its connection is used
/// again, and other writers wait for it (then fail with "database is locked").
pub(crate) async fn give_up<T>(tx: sqlx::Transaction<'_, sqlx::Any>, value: T) -> Result<T> {
    tx.rollback().await?;
    Ok(value)
}

pub(crate) fn one_row(res: AnyQueryResult) -> Result<()> {
    if res.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("postgres://u@h/db").ok(), Some(Backend::Postgres));
        assert!(matches!(Backend::from_url("mysql://h/db"), Err(StoreError::Config(_))));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://vigil:s3cret@db:5432/vigil"),
            "postgres://vigil:***@db:5432/vigil"
        );
        assert_eq!(redact_url("postgres://vigil@db/vigil"), "postgres://vigil@db/vigil");
        assert_eq!(redact_url("sqlite://data/vigil.db"), "sqlite://data/vigil.db");
    }
}
