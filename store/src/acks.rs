//! Acknowledgements of firing alerts, by firing episode (`subject_key`, the same key an
//! escalation run of that episode has). Acknowledging stops the run if one pages; taking
//! it back makes the run page again from its next step. Audited in the same transaction.

use crate::audit::{self, AuditCtx};
use crate::give_up;
use crate::oncall::{stop_run, RunOf};
use crate::{Result, Store};
use serde::{Deserialize, Serialize};

/// Who acknowledged one firing episode, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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
            return give_up(tx, false).await;
        }
        stop_run(&mut tx, RunOf::Subject(key), ctx).await?;
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
        let before: Option<AlertAck> = sqlx::query_as(
            "DELETE FROM alert_acks WHERE subject_key = $1
             RETURNING subject_key, acked_at_ms, acked_by, acked_user_id",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
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
            return give_up(tx, false).await;
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
        Ok(sqlx::query_as(
            "SELECT subject_key, acked_at_ms, acked_by, acked_user_id FROM alert_acks ORDER BY subject_key",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
