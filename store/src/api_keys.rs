//! API keys for machines (ingestion, read access). Only a SHA-256 of the key is stored; the
//! key itself is shown once, at creation.

use crate::audit::{self, AuditCtx};
use crate::{one_row, Result, Store, StoreError};
use domain::ApiScope;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// An API key as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scope: ApiScope,
    /// The first characters of the key, so users can tell keys apart.
    pub prefix: String,
    pub created_by: Option<i64>,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// Input for [`Store::create_api_key`].
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scope: ApiScope,
    pub prefix: String,
    pub token_hash: String,
    pub created_by: Option<i64>,
}

const KEY_COLUMNS: &str =
    "id, name, scope, prefix, created_by, created_at_ms, last_used_at_ms, revoked_at_ms";

fn key_from_row(r: &AnyRow) -> Result<ApiKey> {
    let scope: String = r.try_get("scope")?;
    Ok(ApiKey {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        scope: scope.parse().map_err(StoreError::Corrupt)?,
        prefix: r.try_get("prefix")?,
        created_by: r.try_get("created_by")?,
        created_at_ms: r.try_get("created_at_ms")?,
        last_used_at_ms: r.try_get("last_used_at_ms")?,
        revoked_at_ms: r.try_get("revoked_at_ms")?,
    })
}

async fn fetch_key(conn: &mut AnyConnection, id: i64) -> Result<ApiKey> {
    let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    key_from_row(&row)
}

impl Store {
    pub async fn create_api_key(&self, new: &NewApiKey, ctx: &AuditCtx) -> Result<ApiKey> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (name, scope, prefix, token_hash, created_by, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.name)
        .bind(new.scope.as_str())
        .bind(&new.prefix)
        .bind(&new.token_hash)
        .bind(new.created_by)
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let key = fetch_key(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "api_key.create",
            &format!("api_key:{id}"),
            None,
            Some(&key),
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// All keys, newest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id DESC"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes a key (idempotent: revoking twice keeps the first time).
    pub async fn revoke_api_key(&self, id: i64, ctx: &AuditCtx) -> Result<ApiKey> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_key(&mut tx, id).await?;
        one_row(
            sqlx::query(
                "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(ctx.at_ms)
            .execute(&mut *tx)
            .await?,
        )?;
        let after = fetch_key(&mut tx, id).await?;
        audit::append(
            &mut tx,
            ctx,
            "api_key.revoke",
            &format!("api_key:{id}"),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The unrevoked key with this hash, unless the user who created it is disabled (a
    /// disabled person's keys stop working with them; enabling the user again revives
    /// them). Keys made with `vigil apikey add` have no creator and only revocation ends
    /// them.
    pub async fn api_key_by_hash(&self, token_hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = $1 AND revoked_at_ms IS NULL
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.id = api_keys.created_by AND u.disabled_at_ms IS NOT NULL)"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Records use of a key (bookkeeping, not audited).
    pub async fn touch_api_key(&self, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
