//! The change log: deploys, configuration changes and feature flags. A change sent again
//! with the same client id (`external_id`) is not recorded twice. Audited in the same
//! transaction.

use crate::audit::{self, AuditCtx};
use crate::incidents::Bind;
use crate::{give_up, Result, Store, StoreError};
use domain::changes::{Change, ChangeKind};
use sqlx::Row;

/// A change as the services checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub at_ms: i64,
    pub service: String,
    pub kind: ChangeKind,
    pub version: String,
    pub author: String,
    pub description: String,
    pub url: String,
    pub external_id: Option<String>,
}

/// Which changes to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Any of these services; empty: every service.
    pub services: Vec<String>,
    pub kind: Option<ChangeKind>,
    /// In the service, version, author or description.
    pub q: Option<String>,
    /// At most this many (default 200, at most 5000).
    pub limit: i64,
}

const COLUMNS: &str = "id, at_ms, service, kind, version, author, description, url, recorded_by, \
                       recorded_at_ms, external_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Change> {
    let kind: String = r.try_get("kind")?;
    Ok(Change {
        id: r.try_get("id")?,
        at_ms: r.try_get("at_ms")?,
        service: r.try_get("service")?,
        kind: ChangeKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("change kind {kind:?}")))?,
        version: r.try_get("version")?,
        author: r.try_get("author")?,
        description: r.try_get("description")?,
        url: r.try_get("url")?,
        recorded_by: r.try_get("recorded_by")?,
        recorded_at_ms: r.try_get("recorded_at_ms")?,
        external_id: r.try_get("external_id")?,
    })
}

impl Store {
    /// Records a change; `(change, false)` when one with the same client id exists (that
    /// one is returned, nothing is written).
    pub async fn record_change(&self, c: &NewChange, ctx: &AuditCtx) -> Result<(Change, bool)> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO changes (at_ms, service, kind, version, author, description, url,
                                  recorded_by, recorded_at_ms, external_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (external_id) DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(c.at_ms)
        .bind(&c.service)
        .bind(c.kind.as_str())
        .bind(&c.version)
        .bind(&c.author)
        .bind(&c.description)
        .bind(&c.url)
        .bind(&ctx.actor)
        .bind(ctx.at_ms)
        .bind(c.external_id.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            let existing =
                sqlx::query(&format!("SELECT {COLUMNS} FROM changes WHERE external_id = $1"))
                    .bind(c.external_id.as_deref())
                    .fetch_one(&mut *tx)
                    .await?;
            let existing = from_row(&existing)?;
            return give_up(tx, (existing, false)).await;
        };
        let change = from_row(&row)?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "change.record",
            &format!("change:{}", change.id),
            None,
            Some(&change),
        )
        .await?;
        tx.commit().await?;
        Ok((change, true))
    }

    /// Changes matching `q`, newest first.
    pub async fn changes(&self, q: &ChangeQuery) -> Result<Vec<Change>> {
        let mut sql = format!("SELECT {COLUMNS} FROM changes WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, b: Bind| {
            binds.push(b);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(v) = q.from_ms {
            push(&mut sql, " AND at_ms >= ?", Bind::Int(v));
        }
        if let Some(v) = q.to_ms {
            push(&mut sql, " AND at_ms < ?", Bind::Int(v));
        }
        if let Some(k) = q.kind {
            push(&mut sql, " AND kind = ?", Bind::Text(k.as_str().to_owned()));
        }
        if !q.services.is_empty() {
            sql.push_str(" AND service IN (");
            for (i, s) in q.services.iter().enumerate() {
                push(&mut sql, if i == 0 { "?" } else { ", ?" }, Bind::Text(s.clone()));
            }
            sql.push(')');
        }
        if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let escaped = text.to_lowercase().replace(['%', '_'], "");
            push(
                &mut sql,
                " AND (LOWER(service) LIKE ? OR LOWER(version) LIKE ? OR LOWER(author) LIKE ? \
                 OR LOWER(description) LIKE ?)",
                Bind::Text(format!("%{escaped}%")),
            );
        }
        let limit = if q.limit <= 0 { 200 } else { q.limit.min(5000) };
        sql.push_str(&format!(" ORDER BY at_ms DESC, id DESC LIMIT {limit}"));
        let rows = Bind::all(sqlx::query(&sql), binds).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }
}
