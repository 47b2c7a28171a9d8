//! On-call storage: contact methods, schedules with their overrides, escalation policies,
//! running escalations and their pages, and calendar feed tokens. Schedules and policies are
//! the same shape — a named JSON definition with an optimistic version — and share one
//! set of queries ([`Doc`]).

use crate::audit::{self, AuditCtx};
use crate::give_up;
use crate::{one_row, Result, Store, StoreError};
use domain::oncall::escalation::{Method, NotifyRule, PolicySpec, Target};
use domain::oncall::{Override, ScheduleSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A named, versioned definition (a schedule or an escalation policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc<T> {
    pub id: i64,
    pub version: i64,
    pub spec: T,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub type Schedule = Doc<ScheduleSpec>;
pub type EscalationPolicy = Doc<PolicySpec>;

/// A table of named JSON definitions: its name, the audit noun, and how to read the name.
trait DocKind: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    const NOUN: &'static str;
    /// Audit action prefix and target noun.
    const AUDIT: &'static str;
    fn name(&self) -> &str;
}

impl DocKind for ScheduleSpec {
    const TABLE: &'static str = "schedules";
    const NOUN: &'static str = "schedule";
    const AUDIT: &'static str = "schedule";
    fn name(&self) -> &str {
        &self.name
    }
}

impl DocKind for PolicySpec {
    const TABLE: &'static str = "escalation_policies";
    const NOUN: &'static str = "escalation policy";
    const AUDIT: &'static str = "policy";
    fn name(&self) -> &str {
        &self.name
    }
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn doc_from_row<T: DocKind>(r: &AnyRow) -> Result<Doc<T>> {
    let spec: String = r.try_get("spec")?;
    Ok(Doc {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("{} spec: {e}", T::NOUN)))?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

async fn fetch_doc<T: DocKind>(conn: &mut AnyConnection, id: i64) -> Result<Doc<T>> {
    let row = sqlx::query(&format!(
        "SELECT id, version, spec, created_at_ms, updated_at_ms FROM {} WHERE id = $1",
        T::TABLE
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    doc_from_row(&row)
}

fn name_taken<T: DocKind>(e: sqlx::Error, spec: &T) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a {} named {:?} exists", T::NOUN, spec.name()))
        }
        e => e,
    }
}

fn action<T: DocKind>(verb: &str) -> String {
    format!("{}.{verb}", T::AUDIT)
}

impl Store {
    async fn create_doc<T: DocKind>(&self, spec: &T, ctx: &AuditCtx) -> Result<Doc<T>> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO {} (name, spec, version, created_at_ms, updated_at_ms, updated_by)
             VALUES ($1, $2, 1, $3, $3, $4) RETURNING id",
            T::TABLE
        ))
        .bind(spec.name().trim())
        .bind(json(spec)?)
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| name_taken(e, spec))?;
        let doc = fetch_doc::<T>(&mut tx, id).await?;
        let target = format!("{}:{id}", T::AUDIT);
        audit::append::<(), _>(&mut tx, ctx, &action::<T>("create"), &target, None, Some(&doc))
            .await?;
        tx.commit().await?;
        Ok(doc)
    }

    async fn update_doc<T: DocKind>(
        &self,
        id: i64,
        expected_version: i64,
        spec: &T,
        ctx: &AuditCtx,
    ) -> Result<Doc<T>> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_doc::<T>(&mut tx, id).await?;
        if before.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "the {} was changed by someone else (version {} is current, the edit was based on {expected_version}); reload and edit again",
                T::NOUN,
                before.version
            )));
        }
        // The version is checked again in the UPDATE: of two saves at once, one wins.
        let res = sqlx::query(&format!(
            "UPDATE {} SET name = $2, spec = $3, version = version + 1, updated_at_ms = $4, updated_by = $5
             WHERE id = $1 AND version = $6",
            T::TABLE
        ))
        .bind(id)
        .bind(spec.name().trim())
        .bind(json(spec)?)
        .bind(ctx.at_ms)
        .bind(ctx.user_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(|e| name_taken(e, spec))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "the {} was changed by someone else; reload and edit again",
                T::NOUN
            )));
        }
        let after = fetch_doc::<T>(&mut tx, id).await?;
        let target = format!("{}:{id}", T::AUDIT);
        audit::append(&mut tx, ctx, &action::<T>("update"), &target, Some(&before), Some(&after))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn delete_doc<T: DocKind>(&self, id: i64, ctx: &AuditCtx) -> Result<Doc<T>> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_doc::<T>(&mut tx, id).await?;
        one_row(
            sqlx::query(&format!("DELETE FROM {} WHERE id = $1", T::TABLE))
                .bind(id)
                .execute(&mut *tx)
                .await?,
        )?;
        // Overrides, escalations and pages go by foreign-key cascade; feeds have no key.
        sqlx::query("DELETE FROM calendar_feeds WHERE kind = $1 AND subject_id = $2")
            .bind(T::AUDIT)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let target = format!("{}:{id}", T::AUDIT);
        audit::append::<_, ()>(&mut tx, ctx, &action::<T>("delete"), &target, Some(&before), None)
            .await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn docs<T: DocKind>(&self) -> Result<Vec<Doc<T>>> {
        let rows = sqlx::query(&format!(
            "SELECT id, version, spec, created_at_ms, updated_at_ms FROM {} ORDER BY name",
            T::TABLE
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(doc_from_row).collect()
    }

    pub async fn create_schedule(&self, spec: &ScheduleSpec, ctx: &AuditCtx) -> Result<Schedule> {
        self.create_doc(spec, ctx).await
    }

    pub async fn update_schedule(
        &self,
        id: i64,
        expected_version: i64,
        spec: &ScheduleSpec,
        ctx: &AuditCtx,
    ) -> Result<Schedule> {
        self.update_doc(id, expected_version, spec, ctx).await
    }

    /// Deletes a schedule with its overrides and feed token.
    pub async fn delete_schedule(&self, id: i64, ctx: &AuditCtx) -> Result<Schedule> {
        self.delete_doc(id, ctx).await
    }

    pub async fn schedule(&self, id: i64) -> Result<Schedule> {
        let mut conn = self.pool.acquire().await?;
        fetch_doc(&mut conn, id).await
    }

    /// All schedules by name.
    pub async fn schedules(&self) -> Result<Vec<Schedule>> {
        self.docs().await
    }

    pub async fn create_escalation_policy(
        &self,
        spec: &PolicySpec,
        ctx: &AuditCtx,
    ) -> Result<EscalationPolicy> {
        self.create_doc(spec, ctx).await
    }

    pub async fn update_escalation_policy(
        &self,
        id: i64,
        expected_version: i64,
        spec: &PolicySpec,
        ctx: &AuditCtx,
    ) -> Result<EscalationPolicy> {
        self.update_doc(id, expected_version, spec, ctx).await
    }

    /// Deletes a policy and its escalations (with their pages).
    pub async fn delete_escalation_policy(
        &self,
        id: i64,
        ctx: &AuditCtx,
    ) -> Result<EscalationPolicy> {
        self.delete_doc(id, ctx).await
    }

    pub async fn escalation_policy(&self, id: i64) -> Result<EscalationPolicy> {
        let mut conn = self.pool.acquire().await?;
        fetch_doc(&mut conn, id).await
    }

    pub async fn escalation_policies(&self) -> Result<Vec<EscalationPolicy>> {
        self.docs().await
    }
}

// ---- overrides ---------------------------------------------------------------------------

/// A stored override with who made it and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideRow {
    pub schedule_id: i64,
    pub ov: Override,
    pub note: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

fn override_from_row(r: &AnyRow) -> Result<OverrideRow> {
    Ok(OverrideRow {
        schedule_id: r.try_get("schedule_id")?,
        ov: Override {
            id: r.try_get("id")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            user_id: r.try_get("user_id")?,
            replaces: r.try_get("replaces_user_id")?,
        },
        note: r.try_get("note")?,
        created_by: r.try_get("created_by")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

const OVERRIDE_COLUMNS: &str =
    "id, schedule_id, start_ms, end_ms, user_id, replaces_user_id, note, created_by, created_at_ms";

impl Store {
    pub async fn add_override(
        &self,
        schedule_id: i64,
        ov: &Override,
        note: &str,
        ctx: &AuditCtx,
    ) -> Result<OverrideRow> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO schedule_overrides (schedule_id, start_ms, end_ms, user_id, replaces_user_id, note, created_by, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(schedule_id)
        .bind(ov.start_ms)
        .bind(ov.end_ms)
        .bind(ov.user_id)
        .bind(ov.replaces)
        .bind(note.trim())
        .bind(&ctx.actor)
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let stored = override_from_row(&row)?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "schedule.override.create",
            &format!("schedule:{schedule_id}"),
            None,
            Some(&stored),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn delete_override(&self, id: i64, ctx: &AuditCtx) -> Result<OverrideRow> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let before = override_from_row(&row)?;
        sqlx::query("DELETE FROM schedule_overrides WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "schedule.override.delete",
            &format!("schedule:{}", before.schedule_id),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Overrides of `schedule_id` (all schedules when `None`) that overlap `[from, to)`.
    pub async fn overrides(
        &self,
        schedule_id: Option<i64>,
        from: i64,
        to: i64,
    ) -> Result<Vec<OverrideRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides
             WHERE ($1 IS NULL OR schedule_id = $1) AND end_ms > $2 AND start_ms < $3
             ORDER BY start_ms, id"
        ))
        .bind(schedule_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(override_from_row).collect()
    }
}

// ---- contacts ----------------------------------------------------------------------------

/// How to reach a person (the email and time zone live on the user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Contact {
    pub user_id: i64,
    pub phone: String,
    pub feishu_id: String,
    /// Empty: the defaults (`domain::oncall::escalation::default_rules`).
    pub rules: Vec<NotifyRule>,
}

impl Store {
    /// Every stored contact (people who never saved one have none).
    pub async fn contacts(&self) -> Result<Vec<Contact>> {
        let rows = sqlx::query(
            "SELECT user_id, phone, feishu_id, rules FROM user_contacts ORDER BY user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let rules: String = r.try_get("rules")?;
                Ok(Contact {
                    user_id: r.try_get("user_id")?,
                    phone: r.try_get("phone")?,
                    feishu_id: r.try_get("feishu_id")?,
                    rules: serde_json::from_str(&rules)
                        .map_err(|e| StoreError::Corrupt(format!("contact rules: {e}")))?,
                })
            })
            .collect()
    }

    pub async fn contact(&self, user_id: i64) -> Result<Contact> {
        Ok(self
            .contacts()
            .await?
            .into_iter()
            .find(|c| c.user_id == user_id)
            .unwrap_or(Contact { user_id, ..Contact::default() }))
    }

    pub async fn save_contact(&self, c: &Contact, ctx: &AuditCtx) -> Result<Contact> {
        let c = &Contact {
            user_id: c.user_id,
            phone: c.phone.trim().to_owned(),
            feishu_id: c.feishu_id.trim().to_owned(),
            rules: c.rules.clone(),
        };
        let before = self.contact(c.user_id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO user_contacts (user_id, phone, feishu_id, rules, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET phone = $2, feishu_id = $3, rules = $4, updated_at_ms = $5",
        )
        .bind(c.user_id)
        .bind(&c.phone)
        .bind(&c.feishu_id)
        .bind(json(&c.rules)?)
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            ctx,
            "user.contact.update",
            &format!("user:{}", c.user_id),
            Some(&before),
            Some(c),
        )
        .await?;
        tx.commit().await?;
        Ok(c.clone())
    }
}

// ---- escalations and pages ---------------------------------------------------------------

/// One run of a policy for one firing episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub id: i64,
    pub policy_id: i64,
    /// Pages only this person or schedule (see [`NewEscalation::target`]).
    pub target: Option<Target>,
    pub subject_key: String,
    pub rule_id: Option<i64>,
    pub title: String,
    pub severity: String,
    pub started_at_ms: i64,
    pub fired: i64,
    pub next_at_ms: Option<i64>,
    pub acked_at_ms: Option<i64>,
    pub acked_by: Option<String>,
    pub acked_user_id: Option<i64>,
    pub resolved_at_ms: Option<i64>,
}

impl Escalation {
    /// Still paging: neither acknowledged nor resolved.
    pub fn is_open(&self) -> bool {
        self.acked_at_ms.is_none() && self.resolved_at_ms.is_none()
    }
}

const ESC_COLUMNS: &str = "id, policy_id, target, subject_key, rule_id, title, severity, started_at_ms, fired, next_at_ms, acked_at_ms, acked_by, acked_user_id, resolved_at_ms";

fn esc_from_row(r: &AnyRow) -> Result<Escalation> {
    Ok(Escalation {
        id: r.try_get("id")?,
        policy_id: r.try_get("policy_id")?,
        target: match r.try_get::<Option<String>, _>("target")? {
            None => None,
            Some(t) => Some(
                serde_json::from_str(&t)
                    .map_err(|e| StoreError::Corrupt(format!("escalation target {t:?}: {e}")))?,
            ),
        },
        subject_key: r.try_get("subject_key")?,
        rule_id: r.try_get("rule_id")?,
        title: r.try_get("title")?,
        severity: r.try_get("severity")?,
        started_at_ms: r.try_get("started_at_ms")?,
        fired: r.try_get("fired")?,
        next_at_ms: r.try_get("next_at_ms")?,
        acked_at_ms: r.try_get("acked_at_ms")?,
        acked_by: r.try_get("acked_by")?,
        acked_user_id: r.try_get("acked_user_id")?,
        resolved_at_ms: r.try_get("resolved_at_ms")?,
    })
}

/// A page to send: `user_id` by `method` once `due_at_ms` has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPage {
    pub seq: i64,
    pub user_id: i64,
    pub method: Method,
    pub due_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub id: i64,
    pub escalation_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub method: String,
    pub due_at_ms: i64,
    pub status: String,
    pub detail: String,
    pub sent_at_ms: Option<i64>,
}

fn page_from_row(r: &AnyRow) -> Result<Page> {
    Ok(Page {
        id: r.try_get("id")?,
        escalation_id: r.try_get("escalation_id")?,
        seq: r.try_get("seq")?,
        user_id: r.try_get("user_id")?,
        method: r.try_get("method")?,
        due_at_ms: r.try_get("due_at_ms")?,
        status: r.try_get("status")?,
        detail: r.try_get("detail")?,
        sent_at_ms: r.try_get("sent_at_ms")?,
    })
}

const PAGE_COLUMNS: &str =
    "id, escalation_id, seq, user_id, method, due_at_ms, status, detail, sent_at_ms";

/// A new escalation run.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub policy_id: i64,
    /// Page only this person or schedule, with the policy's channels and first wait.
    pub target: Option<Target>,
    pub subject_key: String,
    pub rule_id: Option<i64>,
    pub title: String,
    pub severity: String,
    pub started_at_ms: i64,
}

impl Store {
    /// Starts a run unless one exists for the subject; `None` when it existed. Audited as
    /// the engine's write.
    pub async fn start_escalation(
        &self,
        new: &NewEscalation,
        ctx: &AuditCtx,
    ) -> Result<Option<Escalation>> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO escalations (policy_id, subject_key, rule_id, title, severity, started_at_ms, fired, next_at_ms, created_at_ms, target)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $6, $7, $8)
             ON CONFLICT (subject_key) DO NOTHING RETURNING id",
        )
        .bind(new.policy_id)
        .bind(&new.subject_key)
        .bind(new.rule_id)
        .bind(&new.title)
        .bind(&new.severity)
        .bind(new.started_at_ms)
        .bind(ctx.at_ms)
        .bind(new.target.map(|t| serde_json::json!(t).to_string()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return give_up(tx, None).await;
        };
        let esc = fetch_esc(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "escalation.start",
            &format!("escalation:{id}"),
            None,
            Some(&esc),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(esc))
    }

    pub async fn escalation(&self, id: i64) -> Result<Escalation> {
        let mut conn = self.pool.acquire().await?;
        fetch_esc(&mut conn, id).await
    }

    /// Runs still paging (not acknowledged, not resolved), oldest first.
    pub async fn open_escalations(&self) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ESC_COLUMNS} FROM escalations
             WHERE acked_at_ms IS NULL AND resolved_at_ms IS NULL ORDER BY started_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(esc_from_row).collect()
    }

    /// Runs not resolved yet, paging or acknowledged: what the firing list shows beside
    /// each alert.
    pub async fn unresolved_escalations(&self) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ESC_COLUMNS} FROM escalations WHERE resolved_at_ms IS NULL
             ORDER BY started_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(esc_from_row).collect()
    }

    /// Every run whose subject key starts with `prefix` (an incident's runs), oldest first.
    pub async fn escalations_with_prefix(&self, prefix: &str) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ESC_COLUMNS} FROM escalations WHERE substr(subject_key, 1, CAST($1 AS INTEGER)) = $2
             ORDER BY started_at_ms, id"
        ))
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(esc_from_row).collect()
    }

    /// Every run of one subject (an alert episode's key), oldest first.
    pub async fn escalations_of_subject(&self, key: &str) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ESC_COLUMNS} FROM escalations WHERE subject_key = $1 ORDER BY started_at_ms, id"
        ))
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(esc_from_row).collect()
    }

    /// The newest runs, open ones included.
    pub async fn recent_escalations(&self, limit: i64) -> Result<Vec<Escalation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ESC_COLUMNS} FROM escalations ORDER BY started_at_ms DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(esc_from_row).collect()
    }

    /// Records fired steps: the new `fired` count and next due time, and their pages, in one
    /// transaction, only if the run is still open and at `expected_fired` (another replica
    /// or an acknowledgement in between makes this a no-op: `false`).
    pub async fn record_steps(
        &self,
        id: i64,
        expected_fired: i64,
        fired: i64,
        next_at_ms: Option<i64>,
        pages: &[NewPage],
        now_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "UPDATE escalations SET fired = $2, next_at_ms = $3
             WHERE id = $1 AND fired = $4 AND acked_at_ms IS NULL AND resolved_at_ms IS NULL",
        )
        .bind(id)
        .bind(fired)
        .bind(next_at_ms)
        .bind(expected_fired)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return give_up(tx, false).await;
        }
        for p in pages {
            sqlx::query(
                "INSERT INTO pages (escalation_id, seq, user_id, method, due_at_ms, status, detail, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5, 'pending', '', $6)",
            )
            .bind(id)
            .bind(p.seq)
            .bind(p.user_id)
            .bind(p.method.as_str())
            .bind(p.due_at_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Acknowledges a run: no further steps, pending pages cancelled. `Ok(false)` when it
    /// was already acknowledged or resolved (nothing changes).
    pub async fn ack_escalation(&self, id: i64, ctx: &AuditCtx) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_esc(&mut tx, id).await?;
        // The condition is in the UPDATE: of two acknowledgements at once, one wins.
        if stop_run(&mut tx, RunOf::Id(id), ctx).await?.is_none() {
            return give_up(tx, false).await;
        }
        let after = fetch_esc(&mut tx, id).await?;
        audit::append(
            &mut tx,
            ctx,
            "escalation.ack",
            &format!("escalation:{id}"),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Once per `claim` (a marker in `settings`, written in the same transaction): brings
    /// the next step of every open run whose subject key starts with `prefix` forward to
    /// `now_ms` (a missed response deadline escalates at once). `None` when the claim was
    /// already taken; otherwise how many runs were brought forward.
    pub async fn hurry_runs_once(
        &self,
        claim: &str,
        prefix: &str,
        now_ms: i64,
    ) -> Result<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(format!("once:{claim}"))
        .bind(now_ms.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return give_up(tx, None).await;
        }
        let n = sqlx::query(
            "UPDATE escalations SET next_at_ms = $3
             WHERE substr(subject_key, 1, CAST($1 AS INTEGER)) = $2
               AND acked_at_ms IS NULL AND resolved_at_ms IS NULL AND next_at_ms > $3",
        )
        .bind(prefix.len() as i64)
        .bind(prefix)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(n))
    }

    /// Ends a run whose alert stopped firing: no further steps, pending pages cancelled.
    pub async fn resolve_escalation(&self, id: i64, at_ms: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE escalations SET resolved_at_ms = $2, next_at_ms = NULL
             WHERE id = $1 AND resolved_at_ms IS NULL",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
        cancel_pending(&mut tx, id, "resolved").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending pages due at `now`, oldest first.
    pub async fn due_pages(&self, now_ms: i64) -> Result<Vec<Page>> {
        let rows = sqlx::query(&format!(
            "SELECT {PAGE_COLUMNS} FROM pages WHERE status = 'pending' AND due_at_ms <= $1
             ORDER BY due_at_ms, id"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(page_from_row).collect()
    }

    /// Marks a pending page `sent` or `failed` (with what the channel answered).
    pub async fn finish_page(&self, id: i64, status: &str, detail: &str, at_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE pages SET status = $2, detail = $3, sent_at_ms = $4 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(status)
        .bind(detail)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Pages of the given runs, in order.
    pub async fn pages_of(&self, escalation_ids: &[i64]) -> Result<Vec<Page>> {
        if escalation_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = escalation_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows = sqlx::query(&format!(
            "SELECT {PAGE_COLUMNS} FROM pages WHERE escalation_id IN ({list}) ORDER BY due_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(page_from_row).collect()
    }
}

async fn fetch_esc(conn: &mut AnyConnection, id: i64) -> Result<Escalation> {
    let row = sqlx::query(&format!("SELECT {ESC_COLUMNS} FROM escalations WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    esc_from_row(&row)
}

/// Which run to stop.
pub(crate) enum RunOf<'a> {
    Id(i64),
    /// The run of a firing episode (its subject key), if any.
    Subject(&'a str),
}

/// Acknowledges a run still paging — no further steps, pending pages cancelled — and
/// says which one; `None` when none was (already acknowledged, resolved, or no run).
pub(crate) async fn stop_run(
    conn: &mut AnyConnection,
    run: RunOf<'_>,
    ctx: &AuditCtx,
) -> Result<Option<i64>> {
    let cond = match run {
        RunOf::Id(_) => "id = $1",
        RunOf::Subject(_) => "subject_key = $1",
    };
    let sql = format!(
        "UPDATE escalations SET acked_at_ms = $2, acked_by = $3, acked_user_id = $4, next_at_ms = NULL
         WHERE {cond} AND acked_at_ms IS NULL AND resolved_at_ms IS NULL RETURNING id"
    );
    let q = sqlx::query(&sql);
    let q = match run {
        RunOf::Id(id) => q.bind(id),
        RunOf::Subject(key) => q.bind(key),
    };
    let id: Option<i64> = q
        .bind(ctx.at_ms)
        .bind(&ctx.actor)
        .bind(ctx.user_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
    if let Some(id) = id {
        cancel_pending(conn, id, "acknowledged").await?;
    }
    Ok(id)
}

pub(crate) async fn cancel_pending(conn: &mut AnyConnection, id: i64, why: &str) -> Result<()> {
    sqlx::query(
        "UPDATE pages SET status = 'cancelled', detail = $2 WHERE escalation_id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(why)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- calendar feeds ----------------------------------------------------------------------

/// What a calendar feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    Schedule,
    User,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Schedule => "schedule",
            FeedKind::User => "user",
        }
    }
}

impl Store {
    /// Replaces the feed's token (the old URL stops working at once).
    pub async fn rotate_feed(
        &self,
        kind: FeedKind,
        subject_id: i64,
        token_hash: &str,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM calendar_feeds WHERE kind = $1 AND subject_id = $2")
            .bind(kind.as_str())
            .bind(subject_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO calendar_feeds (kind, subject_id, token_hash, created_by, created_at_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kind.as_str())
        .bind(subject_id)
        .bind(token_hash)
        .bind(&ctx.actor)
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "calendar_feed.rotate",
            &format!("{}:{subject_id}", kind.as_str()),
            None,
            Some(&kind),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The feed a token hash opens.
    pub async fn feed_by_hash(&self, token_hash: &str) -> Result<Option<(FeedKind, i64)>> {
        let row = sqlx::query("SELECT kind, subject_id FROM calendar_feeds WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => {
                let kind: String = r.try_get("kind")?;
                let kind = if kind == "user" { FeedKind::User } else { FeedKind::Schedule };
                Some((kind, r.try_get("subject_id")?))
            }
            None => None,
        })
    }

    /// When the feed's current token was made (`None`: no feed yet).
    pub async fn feed_created_at(&self, kind: FeedKind, subject_id: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT created_at_ms FROM calendar_feeds WHERE kind = $1 AND subject_id = $2",
        )
        .bind(kind.as_str())
        .bind(subject_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
