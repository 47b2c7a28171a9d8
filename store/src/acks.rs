//! Acknowledgements of firing alerts, by firing episode (`subject_key`, the same key an
//! escalation run of that episode has). Acknowledging stops the run if one pages; taking
//! it back makes the run page again from its next step. Audited in the same transaction.

use crate::audit::{self, AuditCtx};
use crate::oncall::cancel_pending;
use crate::{Result, Store};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Who acknowledged one firing episode, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAck {
    pub subject_key: String,
    pub acked_at_ms: i64,
    pub acked_by: String,
    pub acked_user_id: Option<i64>,
}

impl Store {
    /// Acknowledges a firing episode, and stops the run paging for it. `false` when it was
    /// acknowledged already (of two at once, one wins).
    pub async fn ack_alert(&self, key: &str, ctx: &AuditCtx) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "INSERT INTO alert_acks (subject_key, acked_at_ms, acked_by, acked_user_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT (subject_key) DO NOTHING",
        )
        .bind(key)
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .bind(ctx.user_id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        let run: Option<i64> = sqlx::query(
            "UPDATE escalations SET acked_at_ms = $2, acked_by = $3, acked_user_id = $4, next_at_ms = NULL
             WHERE subject_key = $1 AND acked_at_ms IS NULL AND resolved_at_ms IS NULL RETURNING id",
        )
        .bind(key)
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .bind(ctx.user_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
        if let Some(id) = run {
            cancel_pending(&mut tx, id, "acknowledged").await?;
        }
        let after = AlertAck {
            subject_key: key.to_owned(),
            acked_at_ms: ctx.at_ms,
            acked_by: ctx.actor.clone(),
            acked_user_id: ctx.user_id,
        };
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "alert.ack",
            &format!("alert:{key}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes an acknowledgement back: the episode is unanswered again, and a run stopped by
    /// an acknowledgement (this one or its escalation's) pages again from its next step
    /// now. `false` when there was nothing to take back.
    pub async fn unack_alert(&self, key: &str, ctx: &AuditCtx) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(
            "DELETE FROM alert_acks WHERE subject_key = $1 RETURNING acked_at_ms, acked_by, acked_user_id",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| -> Result<AlertAck> {
            Ok(AlertAck {
                subject_key: key.to_owned(),
                acked_at_ms: r.try_get("acked_at_ms")?,
                acked_by: r.try_get("acked_by")?,
                acked_user_id: r.try_get("acked_user_id")?,
            })
        })
        .transpose()?;
        let reopened = sqlx::query(
            "UPDATE escalations SET acked_at_ms = NULL, acked_by = NULL, acked_user_id = NULL, next_at_ms = $2
             WHERE subject_key = $1 AND acked_at_ms IS NOT NULL AND resolved_at_ms IS NULL",
        )
        .bind(key)
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if before.is_none() && reopened == 0 {
            return Ok(false);
        }
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "alert.unack",
            &format!("alert:{key}"),
            before.as_ref(),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every acknowledgement on record, by key.
    pub async fn alert_acks(&self) -> Result<Vec<AlertAck>> {
        let rows = sqlx::query(
            "SELECT subject_key, acked_at_ms, acked_by, acked_user_id FROM alert_acks ORDER BY subject_key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertAck {
                    subject_key: r.try_get("subject_key")?,
                    acked_at_ms: r.try_get("acked_at_ms")?,
                    acked_by: r.try_get("acked_by")?,
                    acked_user_id: r.try_get("acked_user_id")?,
                })
            })
            .collect()
    }
}
