//! Alert rules (`RuleStore`), the engine's per-rule state, the alert history and the
//! database lease that lets one replica at a time run background jobs.

use crate::audit::{self, AuditCtx};
use crate::{one_row, Result, Store, StoreError};
use domain::alerting::{AlertState, Labels, RuleSpec, RuleState, Severity};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: i64,
    pub version: i64,
    pub spec: RuleSpec,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub updated_by: Option<i64>,
}

/// A rule with what the engine last did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleWithState {
    pub rule: Rule,
    pub state: RuleState,
    pub last_eval_at_ms: Option<i64>,
    pub next_eval_at_ms: i64,
    pub last_value: Option<f64>,
    pub last_error: Option<String>,
}

/// The engine's result for one rule at one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluated<'a> {
    pub rule_id: i64,
    /// The version evaluated: a rule edited meanwhile keeps its reset state.
    pub version: i64,
    pub rule_name: &'a str,
    pub severity: Severity,
    pub state: &'a RuleState,
    pub at_ms: i64,
    pub next_eval_at_ms: i64,
    pub last_value: Option<f64>,
    pub last_error: Option<&'a str>,
    pub transitions: &'a [domain::alerting::Transition],
}

/// One row of the alert history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub severity: Severity,
    pub labels: Labels,
    pub from: Option<AlertState>,
    pub to: Option<AlertState>,
    pub value: Option<f64>,
    pub at_ms: i64,
}

/// Filters of the alert history page.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub rule_id: Option<i64>,
    pub severity: Option<Severity>,
    /// Only transitions into this state (`None` inside: dropped pending instances).
    pub to: Option<Option<AlertState>>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Entries with an id below this (paging from newest).
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn state_str(s: Option<AlertState>) -> &'static str {
    match s {
        None => "dropped",
        Some(AlertState::Inactive) => "resolved",
        Some(AlertState::Pending) => "pending",
        Some(AlertState::Firing) => "firing",
    }
}

fn parse_state(s: Option<String>) -> Result<Option<AlertState>> {
    Ok(match s.as_deref() {
        None | Some("dropped") => None,
        Some("resolved") => Some(AlertState::Inactive),
        Some("pending") => Some(AlertState::Pending),
        Some("firing") => Some(AlertState::Firing),
        Some(other) => return Err(StoreError::Corrupt(format!("alert state {other:?}"))),
    })
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

const RULE_COLUMNS: &str =
    "r.id, r.version, r.spec, r.created_at_ms, r.updated_at_ms, r.updated_by";

fn rule_from_row(r: &AnyRow) -> Result<Rule> {
    let spec: String = r.try_get("spec")?;
    Ok(Rule {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        spec: from_json(&spec, "rule spec")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        updated_by: r.try_get("updated_by")?,
    })
}

async fn fetch_rule(conn: &mut AnyConnection, id: i64) -> Result<Rule> {
    let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM alert_rules r WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    rule_from_row(&row)
}

/// A rule name is unique; say so in words a form can show.
fn name_conflict(e: StoreError, name: &str) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!("a rule named {name:?} exists")),
        e => e,
    }
}

impl Store {
    /// Creates a rule (validated by the caller) and its empty engine state.
    pub async fn create_rule(&self, spec: &RuleSpec, ctx: &AuditCtx) -> Result<Rule> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_rules (name, severity, enabled, spec, version, created_at_ms, updated_at_ms, updated_by)
             VALUES ($1, $2, $3, $4, 1, $5, $5, $6) RETURNING id",
        )
        .bind(spec.name.trim())
        .bind(spec.severity.as_str())
        .bind(i64::from(spec.enabled))
        .bind(json(spec)?)
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| name_conflict(e.into(), &spec.name))?;
        sqlx::query(
            "INSERT INTO alert_rule_state (rule_id, state, next_eval_at_ms) VALUES ($1, $2, 0)",
        )
        .bind(id)
        .bind(json(&RuleState::default())?)
        .execute(&mut *tx)
        .await?;
        let rule = fetch_rule(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "rule.create",
            &format!("rule:{id}"),
            None,
            Some(&rule),
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Replaces a rule's spec when `expected_version` is still current (else `Conflict`).
    /// The engine evaluates it at its next cycle; a changed query or condition starts the
    /// rule's instances afresh (their history stays).
    pub async fn update_rule(
        &self,
        id: i64,
        expected_version: i64,
        spec: &RuleSpec,
        ctx: &AuditCtx,
    ) -> Result<Rule> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_rule(&mut tx, id).await?;
        if before.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "rule was changed by someone else (version {} is current, the edit was based on {expected_version}); reload and edit again",
                before.version
            )));
        }
        // The version is checked again in the UPDATE: of two saves at once, one wins.
        let res = sqlx::query(
            "UPDATE alert_rules SET name = $2, severity = $3, enabled = $4, spec = $5,
                    version = version + 1, updated_at_ms = $6, updated_by = $7
             WHERE id = $1 AND version = $8",
        )
        .bind(id)
        .bind(spec.name.trim())
        .bind(spec.severity.as_str())
        .bind(i64::from(spec.enabled))
        .bind(json(spec)?)
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(|e| name_conflict(e.into(), &spec.name))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "rule was changed by someone else; reload and edit again".into(),
            ));
        }
        let reset = before.spec.query != spec.query || before.spec.condition != spec.condition;
        if reset {
            sqlx::query(
                "UPDATE alert_rule_state SET state = $2, next_eval_at_ms = 0, last_error = NULL WHERE rule_id = $1",
            )
            .bind(id)
            .bind(json(&RuleState::default())?)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("UPDATE alert_rule_state SET next_eval_at_ms = 0 WHERE rule_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let after = fetch_rule(&mut tx, id).await?;
        audit::append(
            &mut tx,
            ctx,
            "rule.update",
            &format!("rule:{id}"),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a rule and its state; its history stays (with the rule's name).
    pub async fn delete_rule(&self, id: i64, ctx: &AuditCtx) -> Result<Rule> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_rule(&mut tx, id).await?;
        sqlx::query("DELETE FROM alert_rule_state WHERE rule_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        one_row(
            sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(id).execute(&mut *tx).await?,
        )?;
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "rule.delete",
            &format!("rule:{id}"),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    pub async fn rule(&self, id: i64) -> Result<Rule> {
        let mut conn = self.pool.acquire().await?;
        fetch_rule(&mut conn, id).await
    }

    pub async fn count_rules(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM alert_rules").fetch_one(&self.pool).await?)
    }

    /// Every rule with its engine state, by severity then name.
    pub async fn rules_with_state(&self) -> Result<Vec<RuleWithState>> {
        self.rules_with_state_where("1 = 1", None).await
    }

    /// Enabled rules due at `now_ms` (the engine's work list).
    pub async fn due_rules(&self, now_ms: i64) -> Result<Vec<RuleWithState>> {
        self.rules_with_state_where("r.enabled = 1 AND s.next_eval_at_ms <= $1", Some(now_ms)).await
    }

    async fn rules_with_state_where(
        &self,
        cond: &str,
        now_ms: Option<i64>,
    ) -> Result<Vec<RuleWithState>> {
        let sql = format!(
            "SELECT {RULE_COLUMNS}, s.state, s.last_eval_at_ms, s.next_eval_at_ms, s.last_value, s.last_error
             FROM alert_rules r JOIN alert_rule_state s ON s.rule_id = r.id
             WHERE {cond} ORDER BY r.severity, r.name"
        );
        let mut q = sqlx::query(&sql);
        if let Some(now) = now_ms {
            q = q.bind(now);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(RuleWithState {
                    rule: rule_from_row(r)?,
                    state: from_json(&state, "rule state")?,
                    last_eval_at_ms: r.try_get("last_eval_at_ms")?,
                    next_eval_at_ms: r.try_get("next_eval_at_ms")?,
                    last_value: r.try_get("last_value")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Stores one evaluation: the rule's new state and its transitions, together. Skipped
    /// (returns `false`) when the rule was edited or deleted since it was read, so an edit's
    /// reset is never overwritten by an evaluation of the old version.
    pub async fn record_evaluation(&self, e: &Evaluated<'_>) -> Result<bool> {
        Ok(self.record_evaluations(std::slice::from_ref(e)).await?[0])
    }

    /// [`Store::record_evaluation`] for a whole cycle in one transaction (one commit instead
    /// of one per rule); per rule `true` when stored.
    pub async fn record_evaluations(&self, batch: &[Evaluated<'_>]) -> Result<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        for e in batch {
            let res = sqlx::query(
                "UPDATE alert_rule_state SET state = $2, last_eval_at_ms = $3, next_eval_at_ms = $4,
                        last_value = $5, last_error = $6
                 WHERE rule_id = $1 AND EXISTS (SELECT 1 FROM alert_rules WHERE id = $1 AND version = $7)",
            )
            .bind(e.rule_id)
            .bind(json(e.state)?)
            .bind(e.at_ms)
            .bind(e.next_eval_at_ms)
            .bind(e.last_value)
            .bind(e.last_error)
            .bind(e.version)
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() == 0 {
                out.push(false);
                continue;
            }
            for t in e.transitions {
                sqlx::query(
                    "INSERT INTO alert_history (rule_id, rule_name, severity, labels, from_state, to_state, value, at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(e.rule_id)
                .bind(e.rule_name)
                .bind(e.severity.as_str())
                .bind(json(&t.labels)?)
                .bind(t.from.map(|s| state_str(Some(s))))
                .bind(state_str(t.to))
                .bind(t.value.is_finite().then_some(t.value))
                .bind(t.at_ms)
                .execute(&mut *tx)
                .await?;
            }
            out.push(true);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Alert history, newest first.
    pub async fn alert_history(&self, q: &HistoryQuery) -> Result<Vec<HistoryEntry>> {
        let mut sql = String::from(
            "SELECT id, rule_id, rule_name, severity, labels, from_state, to_state, value, at_ms
             FROM alert_history WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = |sql: &mut String, cond: &str| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        let conds = [
            (q.rule_id.is_some(), "rule_id ="),
            (q.severity.is_some(), "severity ="),
            (q.to.is_some(), "to_state ="),
            (q.from_ms.is_some(), "at_ms >="),
            (q.to_ms.is_some(), "at_ms <"),
            (q.before_id.is_some(), "id <"),
        ];
        for (_, cond) in conds.iter().filter(|(on, _)| *on) {
            next(&mut sql, cond);
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", q.limit.clamp(1, 1000)));
        let mut query = sqlx::query(&sql);
        if let Some(v) = q.rule_id {
            query = query.bind(v);
        }
        if let Some(v) = q.severity {
            query = query.bind(v.as_str());
        }
        if let Some(v) = q.to {
            query = query.bind(state_str(v));
        }
        for v in [q.from_ms, q.to_ms, q.before_id].into_iter().flatten() {
            query = query.bind(v);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let labels: String = r.try_get("labels")?;
                let sev: String = r.try_get("severity")?;
                Ok(HistoryEntry {
                    id: r.try_get("id")?,
                    rule_id: r.try_get("rule_id")?,
                    rule_name: r.try_get("rule_name")?,
                    severity: Severity::parse(&sev)
                        .ok_or_else(|| StoreError::Corrupt(format!("severity {sev:?}")))?,
                    labels: from_json(&labels, "labels")?,
                    from: parse_state(r.try_get("from_state")?)?,
                    to: parse_state(r.try_get("to_state")?)?,
                    value: r.try_get("value")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`; `true` when
    /// `holder` has it. Another holder's lease is taken over only once it has expired, so
    /// at most one replica runs a job at a time (given clocks agree within the TTL).
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
             WHERE leases.holder = excluded.holder OR leases.expires_at_ms < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms + ttl_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Gives a lease up (on shutdown) so another replica takes over at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
