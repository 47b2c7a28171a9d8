//! Notification storage: channels, the policy document, silences, alert-group state and the
//! durable outbox (with its delivery log). Documents are JSON text validated by services.

use crate::audit::{self, AuditCtx};
use crate::{one_row, Result, Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// JSON with secrets: never serialized into audit entries or the UI.
    #[serde(skip)]
    pub config: String,
    pub enabled: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilenceRow {
    pub id: i64,
    pub matchers: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
    pub created_at_ms: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub idempotency_key: String,
    pub channel_id: i64,
    pub channel_name: String,
    pub group_key: String,
    pub kind: String,
    pub severity: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub idempotency_key: String,
    pub channel_id: i64,
    pub channel_name: String,
    pub group_key: String,
    pub status: String,
    pub kind: String,
    pub severity: String,
    #[serde(skip)]
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
}

fn channel_from_row(r: &AnyRow) -> Result<ChannelRow> {
    let enabled: i64 = r.try_get("enabled")?;
    Ok(ChannelRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        config: r.try_get("config")?,
        enabled: enabled != 0,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

fn delivery_from_row(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        idempotency_key: r.try_get("idempotency_key")?,
        channel_id: r.try_get("channel_id")?,
        channel_name: r.try_get("channel_name")?,
        group_key: r.try_get("group_key")?,
        status: r.try_get("status")?,
        kind: r.try_get("kind")?,
        severity: r.try_get("severity")?,
        payload: r.try_get("payload")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at_ms: r.try_get("next_attempt_at_ms")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at_ms")?,
        sent_at_ms: r.try_get("sent_at_ms")?,
    })
}

const CHANNEL_COLUMNS: &str = "id, name, kind, config, enabled, created_at_ms, updated_at_ms";
const DELIVERY_COLUMNS: &str = "id, idempotency_key, channel_id, channel_name, group_key, status, kind, severity, payload, attempts, next_attempt_at_ms, last_error, created_at_ms, sent_at_ms";

impl Store {
    // ----- channels -----

    pub async fn create_channel(
        &self,
        name: &str,
        kind: &str,
        config: &str,
        enabled: bool,
        ctx: &AuditCtx,
    ) -> Result<ChannelRow> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notify_channels (name, kind, config, enabled, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(config)
        .bind(i64::from(enabled))
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("a channel named {name:?} exists")),
            e => e,
        })?;
        let row =
            sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let ch = channel_from_row(&row)?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "channel.create",
            &format!("channel:{id}"),
            None,
            Some(&ch),
        )
        .await?;
        tx.commit().await?;
        Ok(ch)
    }

    pub async fn delete_channel(&self, id: i64, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let before = channel_from_row(&row)?;
        one_row(
            sqlx::query("DELETE FROM notify_channels WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?,
        )?;
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "channel.delete",
            &format!("channel:{id}"),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn channels(&self) -> Result<Vec<ChannelRow>> {
        let rows =
            sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM notify_channels ORDER BY name"))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(channel_from_row).collect()
    }

    // ----- policy -----

    /// The policy document and its version, `None` before the first save.
    pub async fn policy(&self) -> Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT policy, version FROM notify_policy WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("policy")?, r.try_get("version")?))).transpose()
    }

    /// Saves the policy if `expected_version` is current (0 before the first save).
    pub async fn put_policy(
        &self,
        doc: &str,
        expected_version: i64,
        ctx: &AuditCtx,
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let before: Option<(String, i64)> =
            sqlx::query("SELECT policy, version FROM notify_policy WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| -> Result<_> { Ok((r.try_get("policy")?, r.try_get("version")?)) })
                .transpose()?;
        let current = before.as_ref().map_or(0, |b| b.1);
        if current != expected_version {
            return Err(StoreError::Conflict(format!(
                "the policy was changed by someone else (version {current} is current); reload and edit again"
            )));
        }
        let version = current + 1;
        sqlx::query(
            "INSERT INTO notify_policy (id, policy, version, updated_at_ms, updated_by) VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, version = excluded.version,
                 updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
        )
        .bind(doc)
        .bind(version)
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            ctx,
            "policy.update",
            "policy:1",
            before.as_ref().map(|b| &b.0),
            Some(&doc.to_owned()),
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    // ----- silences -----

    pub async fn create_silence(
        &self,
        matchers: &str,
        starts_at_ms: i64,
        ends_at_ms: i64,
        comment: &str,
        ctx: &AuditCtx,
    ) -> Result<SilenceRow> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO silences (matchers, starts_at_ms, ends_at_ms, created_by, comment, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(matchers)
        .bind(starts_at_ms)
        .bind(ends_at_ms)
        .bind(&ctx.actor)
        .bind(comment)
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let s = SilenceRow {
            id,
            matchers: matchers.to_owned(),
            starts_at_ms,
            ends_at_ms,
            created_by: ctx.actor.clone(),
            comment: comment.to_owned(),
            created_at_ms: ctx.at_ms,
        };
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "silence.create",
            &format!("silence:{id}"),
            None,
            Some(&s),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Ends a silence now (kept, as expired, for the record).
    pub async fn expire_silence(&self, id: i64, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        one_row(
            sqlx::query("UPDATE silences SET ends_at_ms = $2 WHERE id = $1 AND ends_at_ms > $2")
                .bind(id)
                .bind(ctx.at_ms)
                .execute(&mut *tx)
                .await?,
        )?;
        audit::append::<(), ()>(
            &mut tx,
            ctx,
            "silence.expire",
            &format!("silence:{id}"),
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Silences that end after `since_ms`, newest first.
    pub async fn silences(&self, since_ms: i64) -> Result<Vec<SilenceRow>> {
        let rows = sqlx::query(
            "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment, created_at_ms
             FROM silences WHERE ends_at_ms > $1 ORDER BY id DESC",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SilenceRow {
                    id: r.try_get("id")?,
                    matchers: r.try_get("matchers")?,
                    starts_at_ms: r.try_get("starts_at_ms")?,
                    ends_at_ms: r.try_get("ends_at_ms")?,
                    created_by: r.try_get("created_by")?,
                    comment: r.try_get("comment")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    // ----- groups and outbox -----

    pub async fn notify_groups(&self) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT group_key, state FROM notify_groups").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("group_key")?, r.try_get("state")?))).collect()
    }

    /// Stores a dispatch: group states (`None` deletes) and new deliveries, together. A
    /// delivery whose idempotency key exists is skipped. Returns how many were enqueued.
    pub async fn apply_dispatch(
        &self,
        groups: &[(String, Option<(String, i64)>)],
        deliveries: &[NewDelivery],
        now_ms: i64,
    ) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        for (key, st) in groups {
            match st {
                Some((state, next)) => {
                    sqlx::query(
                        "INSERT INTO notify_groups (group_key, state, next_flush_at_ms) VALUES ($1, $2, $3)
                         ON CONFLICT (group_key) DO UPDATE SET state = excluded.state, next_flush_at_ms = excluded.next_flush_at_ms",
                    )
                    .bind(key)
                    .bind(state)
                    .bind(next)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM notify_groups WHERE group_key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let mut n = 0;
        for d in deliveries {
            let res = sqlx::query(
                "INSERT INTO notify_outbox (idempotency_key, channel_id, channel_name, group_key, status, kind, severity, payload, attempts, next_attempt_at_ms, created_at_ms)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, 0, $8, $8)
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&d.idempotency_key)
            .bind(d.channel_id)
            .bind(&d.channel_name)
            .bind(&d.group_key)
            .bind(&d.kind)
            .bind(&d.severity)
            .bind(&d.payload)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            n += res.rows_affected() as usize;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Pending deliveries due at `now_ms`, oldest first.
    pub async fn due_deliveries(&self, now_ms: i64, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM notify_outbox
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 ORDER BY id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Records an attempt: `Ok` marks it sent; an error schedules the next attempt at
    /// `retry_at` or, when `None`, gives up (`failed`).
    pub async fn record_attempt(
        &self,
        id: i64,
        now_ms: i64,
        outcome: std::result::Result<(), (&str, Option<i64>)>,
    ) -> Result<()> {
        let q = match outcome {
            Ok(()) => sqlx::query(
                "UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, sent_at_ms = $2, last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms),
            Err((err, Some(retry_at))) => sqlx::query(
                "UPDATE notify_outbox SET attempts = attempts + 1, next_attempt_at_ms = $2, last_error = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(retry_at)
            .bind(err.to_owned()),
            Err((err, None)) => sqlx::query(
                "UPDATE notify_outbox SET status = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(err.to_owned()),
        };
        one_row(q.execute(&self.pool).await?)
    }

    /// The delivery log, newest first.
    pub async fn deliveries(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM notify_outbox WHERE id < $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }
}

/// An alert received from another system (Alertmanager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalAlert {
    pub source: String,
    pub fingerprint: String,
    pub firing: bool,
    /// JSON objects of strings.
    pub labels: String,
    pub annotations: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
    pub received_at_ms: i64,
}

impl Store {
    /// Inserts or updates received alerts and audits the call, in one transaction.
    pub async fn upsert_external_alerts(
        &self,
        alerts: &[ExternalAlert],
        ctx: &AuditCtx,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for a in alerts {
            sqlx::query(
                "INSERT INTO external_alerts (source, fingerprint, status, labels, annotations, starts_at_ms, ends_at_ms, generator_url, received_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (source, fingerprint) DO UPDATE SET status = excluded.status, labels = excluded.labels,
                     annotations = excluded.annotations, starts_at_ms = excluded.starts_at_ms,
                     ends_at_ms = excluded.ends_at_ms, generator_url = excluded.generator_url,
                     received_at_ms = excluded.received_at_ms",
            )
            .bind(&a.source)
            .bind(&a.fingerprint)
            .bind(if a.firing { "firing" } else { "resolved" })
            .bind(&a.labels)
            .bind(&a.annotations)
            .bind(a.starts_at_ms)
            .bind(a.ends_at_ms)
            .bind(&a.generator_url)
            .bind(a.received_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        let summary = serde_json::json!({
            "alerts": alerts.len(),
            "firing": alerts.iter().filter(|a| a.firing).count(),
            "fingerprints": alerts.iter().map(|a| a.fingerprint.as_str()).collect::<Vec<_>>(),
        });
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "integration.alertmanager",
            "external_alerts",
            None,
            Some(&summary),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Received alerts still firing (and not past their `endsAt`), newest first.
    pub async fn firing_external_alerts(&self, now_ms: i64) -> Result<Vec<ExternalAlert>> {
        let mut all = self.external_alerts_since(now_ms, now_ms).await?;
        all.retain(|a| a.firing);
        Ok(all)
    }

    /// Received alerts firing at `now_ms`, and those that ended after `since_ms` (with
    /// `firing` false: a resolved notice may still be due), newest first.
    pub async fn external_alerts_since(
        &self,
        now_ms: i64,
        since_ms: i64,
    ) -> Result<Vec<ExternalAlert>> {
        let rows = sqlx::query(
            "SELECT source, fingerprint, status, labels, annotations, starts_at_ms, ends_at_ms, generator_url, received_at_ms
             FROM external_alerts WHERE ends_at_ms IS NULL OR ends_at_ms > $1
             ORDER BY starts_at_ms DESC, fingerprint",
        )
        .bind(since_ms.min(now_ms))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let ends_at_ms: Option<i64> = r.try_get("ends_at_ms")?;
                Ok(ExternalAlert {
                    source: r.try_get("source")?,
                    fingerprint: r.try_get("fingerprint")?,
                    firing: status == "firing" && ends_at_ms.is_none_or(|e| e > now_ms),
                    labels: r.try_get("labels")?,
                    annotations: r.try_get("annotations")?,
                    starts_at_ms: r.try_get("starts_at_ms")?,
                    ends_at_ms,
                    generator_url: r.try_get("generator_url")?,
                    received_at_ms: r.try_get("received_at_ms")?,
                })
            })
            .collect()
    }
}
