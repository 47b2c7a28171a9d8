//! Throw-away databases for the test suites of this workspace (store contract, services
//! scenarios). PostgreSQL comes from `VIGIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is unreachable the caller gets
//! `None` and a loud SKIPPED line — except under `CI=true`, where it panics, so a Postgres
//! half can never silently skip in CI.

use crate::{ConnectOptions, Store};

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A name no other call in any process on this machine returns: process id, wall-clock
/// nanoseconds and a per-process sequence number (the clock alone repeated between two
/// tests started at once, which then shared — and raced to migrate — one SQLite file).
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A fresh directory path for a test's SQLite file (not created).
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(unique_name(prefix))
}

/// A fresh, migrated SQLite store in a new temporary directory (returned so a test can
/// remove it).
pub async fn sqlite_store(prefix: &str) -> (Store, std::path::PathBuf) {
    let dir = temp_dir(prefix);
    let store =
        Store::connect(&format!("sqlite://{}/vigil.db", dir.display()), &ConnectOptions::default())
            .await
            .expect("connect sqlite");
    let applied = store.migrate().await.expect("migrate sqlite");
    assert!(applied >= 1, "fresh database applies migrations");
    (store, dir)
}

/// A fresh PostgreSQL database (not migrated) and how to drop it.
#[derive(Debug, Clone)]
pub struct PostgresDb {
    pub url: String,
    admin_url: String,
    name: String,
}

fn one_connection() -> ConnectOptions {
    ConnectOptions { max_connections: 1, ..Default::default() }
}

/// Creates a database named `<prefix>_<random>`; `None` when skipped outside CI.
pub async fn postgres_db(prefix: &str) -> Option<PostgresDb> {
    let admin_url = std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let admin = match Store::connect(&admin_url, &one_connection()).await {
        Ok(s) => s,
        Err(e) => {
            assert!(!in_ci, "PostgreSQL at {admin_url} is unreachable under CI=true: {e}");
            eprintln!("SKIPPED (Postgres unreachable, CI not set): {e}");
            return None;
        }
    };
    let name = unique_name(prefix);
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .expect("create test database");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
    Some(PostgresDb { url: format!("{base}/{name}"), admin_url, name })
}

impl PostgresDb {
    /// Drops the database (closing whatever connections are left).
    pub async fn drop_db(&self) {
        if let Ok(admin) = Store::connect(&self.admin_url, &one_connection()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                .execute(admin.pool())
                .await;
            admin.close().await;
        }
    }
}
