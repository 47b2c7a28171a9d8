//! The audit log: an append-only record of every write (who, when, action, target, before
//! and after as JSON). Entries are written inside the transaction of the write they record.

use crate::Result;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// Who is writing, from where, and when. Passed to every store write.
#[derive(Debug, Clone)]
pub struct AuditCtx {
    /// The signed-in user, if any (`None` for the CLI, bootstrap and API keys).
    pub user_id: Option<i64>,
    /// Human-readable actor: an email, `cli`, `system` or `api-key:<name>`.
    pub actor: String,
    pub ip: String,
    pub at_ms: i64,
}

impl AuditCtx {
    /// An actor that is not a signed-in user (CLI, bootstrap, background jobs).
    pub fn system(actor: &str, at_ms: i64) -> Self {
        Self { user_id: None, actor: actor.to_owned(), ip: String::new(), at_ms }
    }
}

/// One audit log entry as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor_user_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub ip: String,
}

/// Filter and page for reading the log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries whose action starts with this (e.g. `user.`).
    pub action_prefix: Option<String>,
    /// Only entries with an id below this (keyset paging).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Appends one entry on `conn` (normally the transaction of the write being recorded).
pub async fn append<B: Serialize, A: Serialize>(
    conn: &mut AnyConnection,
    ctx: &AuditCtx,
    action: &str,
    target: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<()> {
    let before = before.map(to_json).transpose()?;
    let after = after.map(to_json).transpose()?;
    sqlx::query(
        "INSERT INTO audit_log (at_ms, actor_user_id, actor, action, target, before_json, after_json, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ctx.at_ms)
    .bind(ctx.user_id)
    .bind(&ctx.actor)
    .bind(action)
    .bind(target)
    .bind(before)
    .bind(after)
    .bind(&ctx.ip)
    .execute(conn)
    .await?;
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| crate::StoreError::Corrupt(e.to_string()))
}

impl crate::Store {
    /// Records an event that has no other write attached (sign-in, sign-out, failures).
    pub async fn audit_event(
        &self,
        ctx: &AuditCtx,
        action: &str,
        target: &str,
        detail: Option<&serde_json::Value>,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        append::<(), _>(&mut conn, ctx, action, target, None, detail).await
    }

    /// Reads the log, newest first.
    pub async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let limit = q.limit.clamp(1, 500);
        let prefix = q.action_prefix.clone().unwrap_or_default();
        let before = q.before_id.unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT id, at_ms, actor_user_id, actor, action, target, before_json, after_json, ip
             FROM audit_log
             WHERE id < $1 AND substr(action, 1, CAST($2 AS INTEGER)) = $3
             ORDER BY id DESC
             LIMIT $4",
        )
        .bind(before)
        .bind(i64::try_from(prefix.len()).unwrap_or(0))
        .bind(&prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at_ms: r.try_get("at_ms")?,
                    actor_user_id: r.try_get("actor_user_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    before_json: r.try_get("before_json")?,
                    after_json: r.try_get("after_json")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect()
    }
}
