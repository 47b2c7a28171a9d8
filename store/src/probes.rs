//! HTTP probes and their results (kept 30 days).

use crate::audit::{self, AuditCtx};
use crate::{one_row, Result, Store, StoreError};
use domain::probe::{ProbeResult, ProbeSpec};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// A stored probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub id: i64,
    pub version: i64,
    pub spec: ProbeSpec,
    pub next_run_at_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub updated_by: Option<i64>,
}

const COLUMNS: &str = "id, version, spec, next_run_at_ms, created_at_ms, updated_at_ms, updated_by";

fn from_row(r: &AnyRow) -> Result<Probe> {
    let spec: String = r.try_get("spec")?;
    Ok(Probe {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("probe spec: {e}")))?,
        next_run_at_ms: r.try_get("next_run_at_ms")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        updated_by: r.try_get("updated_by")?,
    })
}

async fn fetch(conn: &mut AnyConnection, id: i64) -> Result<Probe> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM probes WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

fn spec_json(spec: &ProbeSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn name_conflict(e: sqlx::Error, name: &str) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("a probe named {name:?} exists")),
        e => e,
    }
}

impl Store {
    /// Creates a probe (validated by the caller); it runs at the engine's next tick.
    pub async fn create_probe(&self, spec: &ProbeSpec, ctx: &AuditCtx) -> Result<Probe> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO probes (name, spec, enabled, version, interval_ms, next_run_at_ms, created_at_ms, updated_at_ms, updated_by)
             VALUES ($1, $2, $3, 1, $6, 0, $4, $4, $5) RETURNING id",
        )
        .bind(&spec.name)
        .bind(spec_json(spec)?)
        .bind(i64::from(spec.enabled))
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .bind(spec.interval_ms.max(1))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| name_conflict(e, &spec.name))?;
        let probe = fetch(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "probe.create",
            &format!("probe:{id}"),
            None,
            Some(&probe),
        )
        .await?;
        tx.commit().await?;
        Ok(probe)
    }

    /// Replaces a probe's spec when `expected_version` is current (else `Conflict`); it
    /// runs again at the next tick. Its results stay (they are keyed by id, not name).
    pub async fn update_probe(
        &self,
        id: i64,
        expected_version: i64,
        spec: &ProbeSpec,
        ctx: &AuditCtx,
    ) -> Result<Probe> {
        let mut tx = self.pool.begin().await?;
        let before = fetch(&mut tx, id).await?;
        if before.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "probe was changed by someone else (version {} is current, the edit was based on {expected_version}); reload and edit again",
                before.version
            )));
        }
        sqlx::query(
            "UPDATE probes SET name = $2, spec = $3, enabled = $4, version = version + 1,
                    interval_ms = $7, next_run_at_ms = 0, updated_at_ms = $5, updated_by = $6
             WHERE id = $1",
        )
        .bind(id)
        .bind(&spec.name)
        .bind(spec_json(spec)?)
        .bind(i64::from(spec.enabled))
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .bind(spec.interval_ms.max(1))
        .execute(&mut *tx)
        .await
        .map_err(|e| name_conflict(e, &spec.name))?;
        let after = fetch(&mut tx, id).await?;
        audit::append(
            &mut tx,
            ctx,
            "probe.update",
            &format!("probe:{id}"),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a probe and its results.
    pub async fn delete_probe(&self, id: i64, ctx: &AuditCtx) -> Result<Probe> {
        let mut tx = self.pool.begin().await?;
        let before = fetch(&mut tx, id).await?;
        sqlx::query("DELETE FROM probe_results WHERE probe_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        one_row(sqlx::query("DELETE FROM probes WHERE id = $1").bind(id).execute(&mut *tx).await?)?;
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "probe.delete",
            &format!("probe:{id}"),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    pub async fn probe(&self, id: i64) -> Result<Probe> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id).await
    }

    /// Every probe, by name.
    pub async fn probes(&self) -> Result<Vec<Probe>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM probes ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Enabled probes due at `now_ms`, each moved to its next run by the same statement,
    /// so a check is started once even when ticks overlap. The next run keeps the cadence:
    /// a whole number of intervals after the last planned one, never in the past.
    pub async fn claim_due_probes(&self, now_ms: i64) -> Result<Vec<Probe>> {
        let rows = sqlx::query(&format!(
            "UPDATE probes SET next_run_at_ms = CASE
                 WHEN next_run_at_ms = 0 THEN $1 + interval_ms
                 ELSE next_run_at_ms + (($1 - next_run_at_ms) / interval_ms + 1) * interval_ms
             END
             WHERE enabled = 1 AND next_run_at_ms <= $1
             RETURNING {COLUMNS}"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut due: Vec<Probe> = rows.iter().map(from_row).collect::<Result<_>>()?;
        due.sort_by_key(|p| p.id);
        Ok(due)
    }

    /// Stores check results (one transaction). Results of probes deleted meanwhile are
    /// dropped.
    pub async fn record_probe_results(&self, results: &[(i64, ProbeResult)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, r) in results {
            sqlx::query(
                "INSERT INTO probe_results (probe_id, at_ms, ok, status, latency_ms, error)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM probes WHERE id = $1)",
            )
            .bind(id)
            .bind(r.at_ms)
            .bind(i64::from(r.ok))
            .bind(r.status.map(i64::from))
            .bind(r.latency_ms)
            .bind(r.error.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Results with `from_ms < at_ms <= to_ms`, per probe, oldest first; `ids` `None` for
    /// every probe.
    pub async fn probe_results(
        &self,
        ids: Option<&[i64]>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<HashMap<i64, Vec<ProbeResult>>> {
        let filter = match ids {
            Some([]) => return Ok(HashMap::new()),
            Some(ids) => format!(
                " AND probe_id IN ({})",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ),
            None => String::new(),
        };
        let rows = sqlx::query(&format!(
            "SELECT probe_id, at_ms, ok, status, latency_ms, error FROM probe_results
             WHERE at_ms > $1 AND at_ms <= $2{filter} ORDER BY probe_id, at_ms"
        ))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<ProbeResult>> = HashMap::new();
        for r in rows {
            let ok: i64 = r.try_get("ok")?;
            let status: Option<i64> = r.try_get("status")?;
            out.entry(r.try_get("probe_id")?).or_default().push(ProbeResult {
                at_ms: r.try_get("at_ms")?,
                ok: ok != 0,
                status: status.and_then(|s| u16::try_from(s).ok()),
                latency_ms: r.try_get("latency_ms")?,
                error: r.try_get("error")?,
            });
        }
        Ok(out)
    }

    /// (runs, failures) per probe with `from_ms < at_ms <= to_ms`, counted by the database
    /// (the 30-day error budget without loading every row).
    pub async fn probe_counts(&self, from_ms: i64, to_ms: i64) -> Result<HashMap<i64, (i64, i64)>> {
        let rows = sqlx::query(
            "SELECT probe_id, COUNT(*) AS runs, CAST(SUM(1 - ok) AS BIGINT) AS failures FROM probe_results
             WHERE at_ms > $1 AND at_ms <= $2 GROUP BY probe_id",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let failures: Option<i64> = r.try_get("failures")?;
                Ok((r.try_get("probe_id")?, (r.try_get("runs")?, failures.unwrap_or(0))))
            })
            .collect()
    }

    /// Deletes results older than `before_ms`; returns how many.
    pub async fn prune_probe_results(&self, before_ms: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM probe_results WHERE at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
