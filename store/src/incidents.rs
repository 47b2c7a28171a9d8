//! Incidents, their timelines and linked alerts, postmortems and action items. The rules
//! (transitions, time order, SLA) are `domain::incident`'s; this module stores what the
//! services decided, with an optimistic `version` on incidents and postmortems.

use crate::audit::{self, AuditCtx};
use crate::give_up;
use crate::{one_row, Result, Store, StoreError};
use domain::alerting::Severity;
use domain::incident::postmortem::{ActionKind, ActionSpec, ActionStatus, PmStatus, Postmortem};
use domain::incident::{Checkpoint, EntryKind, IncidentFields, Roles, Status, StatusLog};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub code: String,
    pub fields: IncidentFields,
    pub log: StatusLog,
    pub roles: Roles,
    /// When each response-timeline step was done.
    pub checklist: BTreeMap<Checkpoint, i64>,
    pub reporter_id: Option<i64>,
    pub reporter: String,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Incident {
    pub fn status(&self) -> Status {
        self.log.current()
    }

    pub fn commander(&self) -> Option<i64> {
        self.roles.get(&domain::incident::IncidentRole::Commander).and_then(|v| v.first().copied())
    }
}

/// A new incident as the services built it.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub fields: IncidentFields,
    pub detected_at_ms: i64,
    /// `YYYYMMDD` of detection in the reporting zone, for the code.
    pub day: String,
    pub roles: Roles,
    pub reporter_id: Option<i64>,
    pub reporter: String,
}

/// An entry to append to a timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEntry {
    pub at_ms: i64,
    pub kind: EntryKind,
    pub body: String,
}

/// A timeline entry as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: i64,
    pub at_ms: i64,
    pub kind: EntryKind,
    pub body: String,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub created_at_ms: i64,
    pub edited_at_ms: Option<i64>,
}

/// An alert linked to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLink {
    pub fingerprint: String,
    /// `vigil` or `alertmanager`.
    pub source: String,
    pub rule_id: Option<i64>,
    pub title: String,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub linked_at_ms: i64,
}

/// List filter; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFilter {
    /// Only open (`Some(true)`) or only resolved/closed (`Some(false)`).
    pub open: Option<bool>,
    pub status: Option<Status>,
    pub severity: Option<Severity>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub commander_id: Option<i64>,
    /// Matches the code or the title (case-insensitive).
    pub q: Option<String>,
    pub limit: i64,
}

/// A stored postmortem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostmortemRow {
    pub incident_id: i64,
    pub status: PmStatus,
    pub doc: Postmortem,
    pub version: i64,
    pub published_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A stored action item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: i64,
    pub incident_id: i64,
    pub incident_code: String,
    pub incident_title: String,
    pub code: String,
    pub kind: ActionKind,
    pub description: String,
    pub owner_user_id: Option<i64>,
    pub due_date: String,
    pub status: ActionStatus,
    pub done_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFilter {
    pub incident_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub status: Option<ActionStatus>,
    /// Not done and due before this day (`YYYY-MM-DD`).
    pub overdue_on: Option<String>,
    /// Leave out done items.
    pub open_only: bool,
}

const COLUMNS: &str = "id, code, fields, status_log, roles, checklist, reporter_id, reporter, version, created_at_ms, updated_at_ms";

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse<T: for<'de> Deserialize<'de>>(r: &AnyRow, col: &str) -> Result<T> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("incident {col}: {e}")))
}

fn from_row(r: &AnyRow) -> Result<Incident> {
    Ok(Incident {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        fields: parse(r, "fields")?,
        log: parse(r, "status_log")?,
        roles: parse(r, "roles")?,
        checklist: parse(r, "checklist")?,
        reporter_id: r.try_get("reporter_id")?,
        reporter: r.try_get("reporter")?,
        version: r.try_get("version")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

async fn fetch(conn: &mut AnyConnection, id: i64) -> Result<Incident> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

async fn append_entries(
    conn: &mut AnyConnection,
    incident_id: i64,
    entries: &[NewEntry],
    ctx: &AuditCtx,
) -> Result<()> {
    for e in entries {
        sqlx::query(
            "INSERT INTO incident_timeline (incident_id, at_ms, kind, body, actor, actor_user_id, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(incident_id)
        .bind(e.at_ms)
        .bind(e.kind.as_str())
        .bind(&e.body)
        .bind(&ctx.actor)
        .bind(ctx.user_id)
        .bind(ctx.at_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_link(conn: &mut AnyConnection, incident_id: i64, a: &AlertLink) -> Result<bool> {
    let res = sqlx::query(
        "INSERT INTO incident_alerts (incident_id, fingerprint, source, rule_id, title, severity, labels, linked_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id, fingerprint) DO NOTHING",
    )
    .bind(incident_id)
    .bind(&a.fingerprint)
    .bind(&a.source)
    .bind(a.rule_id)
    .bind(&a.title)
    .bind(a.severity.as_str())
    .bind(json(&a.labels)?)
    .bind(a.linked_at_ms)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() > 0)
}

fn link_entry(a: &AlertLink) -> NewEntry {
    NewEntry {
        at_ms: a.linked_at_ms,
        kind: EntryKind::Alert,
        body: format!("Alert linked: {} ({}, {})", a.title, a.severity.as_str(), a.source),
    }
}

/// The copied-out columns of an incident, in bind order after `id`.
async fn write_incident(conn: &mut AnyConnection, i: &Incident) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, severity = $3, status = $4, fields = $5, status_log = $6,
                roles = $7, checklist = $8, commander_id = $9, detected_at_ms = $10,
                responded_at_ms = $11, resolved_at_ms = $12, closed_at_ms = $13,
                version = $14, updated_at_ms = $15
         WHERE id = $1",
    )
    .bind(i.id)
    .bind(&i.fields.title)
    .bind(i.fields.severity.as_str())
    .bind(i.status().as_str())
    .bind(json(&i.fields)?)
    .bind(json(&i.log)?)
    .bind(json(&i.roles)?)
    .bind(json(&i.checklist)?)
    .bind(i.commander())
    .bind(i.log.detected_ms())
    .bind(i.log.responded_ms())
    .bind(i.log.resolved_ms())
    .bind(i.log.closed_ms())
    .bind(i.version)
    .bind(i.updated_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

fn entry_from_row(r: &AnyRow) -> Result<TimelineEntry> {
    let kind: String = r.try_get("kind")?;
    Ok(TimelineEntry {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        at_ms: r.try_get("at_ms")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("timeline kind {kind}")))?,
        body: r.try_get("body")?,
        actor: r.try_get("actor")?,
        actor_user_id: r.try_get("actor_user_id")?,
        created_at_ms: r.try_get("created_at_ms")?,
        edited_at_ms: r.try_get("edited_at_ms")?,
    })
}

const ENTRY_COLUMNS: &str =
    "id, incident_id, at_ms, kind, body, actor, actor_user_id, created_at_ms, edited_at_ms";

fn pm_from_row(r: &AnyRow) -> Result<PostmortemRow> {
    let status: String = r.try_get("status")?;
    let doc: String = r.try_get("doc")?;
    Ok(PostmortemRow {
        incident_id: r.try_get("incident_id")?,
        status: PmStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("postmortem status {status}")))?,
        doc: serde_json::from_str(&doc)
            .map_err(|e| StoreError::Corrupt(format!("postmortem: {e}")))?,
        version: r.try_get("version")?,
        published_at_ms: r.try_get("published_at_ms")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

const ACTION_COLUMNS: &str = "a.id, a.incident_id, i.code AS incident_code, i.title AS incident_title, a.code, a.kind, a.description, a.owner_user_id, a.due_date, a.status, a.done_at_ms, a.created_at_ms, a.updated_at_ms";

fn action_from_row(r: &AnyRow) -> Result<ActionItem> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(ActionItem {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        incident_code: r.try_get("incident_code")?,
        incident_title: r.try_get("incident_title")?,
        code: r.try_get("code")?,
        kind: ActionKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("action kind {kind}")))?,
        description: r.try_get("description")?,
        owner_user_id: r.try_get("owner_user_id")?,
        due_date: r.try_get("due_date")?,
        status: ActionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("action status {status}")))?,
        done_at_ms: r.try_get("done_at_ms")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

async fn fetch_action(conn: &mut AnyConnection, id: i64) -> Result<ActionItem> {
    let row = sqlx::query(&format!(
        "SELECT {ACTION_COLUMNS} FROM action_items a JOIN incidents i ON i.id = a.incident_id WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    action_from_row(&row)
}

fn conflict(kind: &str, current: i64, expected: i64) -> StoreError {
    StoreError::Conflict(format!(
        "the {kind} was changed by someone else (version {current} is current, the edit was based on {expected}); reload and edit again"
    ))
}

impl Store {
    /// Creates an incident numbered `INC-<day>-NNN` (next free number of that day), its
    /// "declared" entry, and the alert it came from if any. One transaction; retried on a
    /// number taken by a concurrent declaration.
    pub async fn create_incident(
        &self,
        new: &NewIncident,
        alert: Option<&AlertLink>,
        ctx: &AuditCtx,
    ) -> Result<Incident> {
        let mut last = None;
        for _ in 0..5 {
            match self.try_create_incident(new, alert, ctx).await {
                Err(StoreError::Conflict(m)) => last = Some(m),
                other => return other,
            }
        }
        Err(StoreError::Conflict(last.unwrap_or_default()))
    }

    async fn try_create_incident(
        &self,
        new: &NewIncident,
        alert: Option<&AlertLink>,
        ctx: &AuditCtx,
    ) -> Result<Incident> {
        let mut tx = self.pool.begin().await?;
        let prefix = format!("INC-{}-", new.day);
        let last: Option<String> =
            sqlx::query_scalar("SELECT MAX(code) FROM incidents WHERE code LIKE $1")
                .bind(format!("{prefix}%"))
                .fetch_one(&mut *tx)
                .await?;
        let seq = last
            .and_then(|c| c.rsplit('-').next().and_then(|n| n.parse::<u32>().ok()))
            .unwrap_or(0)
            + 1;
        let code = domain::incident::incident_key(&new.day, seq);
        let log = StatusLog::new(new.detected_at_ms);
        let commander = new
            .roles
            .get(&domain::incident::IncidentRole::Commander)
            .and_then(|v| v.first().copied());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (code, title, severity, status, fields, status_log, roles, checklist,
                 commander_id, detected_at_ms, reporter_id, reporter, version, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, 'detecting', $4, $5, $6, '{}', $7, $8, $9, $10, 1, $11, $11) RETURNING id",
        )
        .bind(&code)
        .bind(&new.fields.title)
        .bind(new.fields.severity.as_str())
        .bind(json(&new.fields)?)
        .bind(json(&log)?)
        .bind(json(&new.roles)?)
        .bind(commander)
        .bind(new.detected_at_ms)
        .bind(new.reporter_id)
        .bind(&new.reporter)
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entries = vec![NewEntry {
            at_ms: new.detected_at_ms,
            kind: EntryKind::Declared,
            body: format!(
                "{} declared as {} by {}",
                code,
                new.fields.severity.as_str(),
                new.reporter
            ),
        }];
        if let Some(a) = alert {
            insert_link(&mut tx, id, a).await?;
            entries.push(link_entry(a));
        }
        append_entries(&mut tx, id, &entries, ctx).await?;
        let inc = fetch(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "incident.create",
            &format!("incident:{code}"),
            None,
            Some(&inc),
        )
        .await?;
        tx.commit().await?;
        Ok(inc)
    }

    /// Writes `after` over `before` when `before.version` is still current (else
    /// `Conflict`), appends the timeline entries, audits `action`. Returns the stored
    /// incident (version + 1).
    pub async fn save_incident(
        &self,
        before: &Incident,
        after: &Incident,
        entries: &[NewEntry],
        action: &str,
        ctx: &AuditCtx,
    ) -> Result<Incident> {
        let mut tx = self.pool.begin().await?;
        let current = fetch(&mut tx, before.id).await?;
        if current.version != before.version {
            return Err(conflict("incident", current.version, before.version));
        }
        let mut next = after.clone();
        next.version = current.version + 1;
        next.updated_at_ms = ctx.at_ms;
        write_incident(&mut tx, &next).await?;
        append_entries(&mut tx, before.id, entries, ctx).await?;
        let stored = fetch(&mut tx, before.id).await?;
        audit::append(
            &mut tx,
            ctx,
            action,
            &format!("incident:{}", before.code),
            Some(&current),
            Some(&stored),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn incident(&self, id: i64) -> Result<Incident> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id).await
    }

    pub async fn incident_by_code(&self, code: &str) -> Result<Incident> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE code = $1"))
            .bind(code.trim().to_ascii_uppercase())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// Incidents matching `f`, newest detection first.
    pub async fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>> {
        let mut sql = format!("SELECT {COLUMNS} FROM incidents WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        match f.open {
            Some(true) => sql.push_str(" AND status NOT IN ('resolved', 'closed')"),
            Some(false) => sql.push_str(" AND status IN ('resolved', 'closed')"),
            None => {}
        }
        // Values are bound in placeholder order.
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(s) = f.status {
            sql.push_str(&format!(" AND status = ${}", next()));
            binds.push(Bind::Text(s.as_str().to_owned()));
        }
        if let Some(s) = f.severity {
            sql.push_str(&format!(" AND severity = ${}", next()));
            binds.push(Bind::Text(s.as_str().to_owned()));
        }
        if let Some(v) = f.from_ms {
            sql.push_str(&format!(" AND detected_at_ms >= ${}", next()));
            binds.push(Bind::Int(v));
        }
        if let Some(v) = f.to_ms {
            sql.push_str(&format!(" AND detected_at_ms < ${}", next()));
            binds.push(Bind::Int(v));
        }
        if let Some(v) = f.commander_id {
            sql.push_str(&format!(" AND commander_id = ${}", next()));
            binds.push(Bind::Int(v));
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let k = next();
            sql.push_str(&format!(" AND (LOWER(title) LIKE ${k} OR LOWER(code) LIKE ${k})"));
            let escaped = q.to_lowercase().replace(['%', '_'], "");
            binds.push(Bind::Text(format!("%{escaped}%")));
        }
        let limit = if f.limit <= 0 { 500 } else { f.limit.min(5000) };
        sql.push_str(&format!(" ORDER BY detected_at_ms DESC, id DESC LIMIT {limit}"));
        let rows = Bind::all(sqlx::query(&sql), binds).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// The incident's timeline, oldest first.
    pub async fn incident_timeline(&self, incident_id: i64) -> Result<Vec<TimelineEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM incident_timeline WHERE incident_id = $1 ORDER BY at_ms, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Appends entries without changing the incident (notes, report sent), audited.
    pub async fn add_timeline_entries(
        &self,
        incident: &Incident,
        entries: &[NewEntry],
        ctx: &AuditCtx,
    ) -> Result<Vec<TimelineEntry>> {
        let mut tx = self.pool.begin().await?;
        append_entries(&mut tx, incident.id, entries, ctx).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "incident.timeline.add",
            &format!("incident:{}", incident.code),
            None,
            Some(&entries),
        )
        .await?;
        tx.commit().await?;
        self.incident_timeline(incident.id).await
    }

    pub async fn timeline_entry(&self, entry_id: i64) -> Result<TimelineEntry> {
        let row =
            sqlx::query(&format!("SELECT {ENTRY_COLUMNS} FROM incident_timeline WHERE id = $1"))
                .bind(entry_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    /// Edits a note's text and event time (notes only; automatic entries are history).
    pub async fn update_note(
        &self,
        entry_id: i64,
        body: &str,
        at_ms: i64,
        ctx: &AuditCtx,
    ) -> Result<TimelineEntry> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query(&format!("SELECT {ENTRY_COLUMNS} FROM incident_timeline WHERE id = $1"))
                .bind(entry_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let before = entry_from_row(&row)?;
        if before.kind != EntryKind::Note {
            return Err(StoreError::Conflict(
                "only notes can be edited; automatic entries are the incident's history".into(),
            ));
        }
        sqlx::query(
            "UPDATE incident_timeline SET body = $2, at_ms = $3, edited_at_ms = $4 WHERE id = $1",
        )
        .bind(entry_id)
        .bind(body)
        .bind(at_ms)
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?;
        let row =
            sqlx::query(&format!("SELECT {ENTRY_COLUMNS} FROM incident_timeline WHERE id = $1"))
                .bind(entry_id)
                .fetch_one(&mut *tx)
                .await?;
        let after = entry_from_row(&row)?;
        audit::append(
            &mut tx,
            ctx,
            "incident.note.update",
            &format!("incident-entry:{entry_id}"),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Links an alert (once per fingerprint) with a timeline entry; `false` when it was
    /// linked already.
    pub async fn link_alert(
        &self,
        incident: &Incident,
        alert: &AlertLink,
        ctx: &AuditCtx,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !insert_link(&mut tx, incident.id, alert).await? {
            return give_up(tx, false).await;
        }
        append_entries(&mut tx, incident.id, &[link_entry(alert)], ctx).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "incident.alert.link",
            &format!("incident:{}", incident.code),
            None,
            Some(alert),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn incident_alerts(&self, incident_id: i64) -> Result<Vec<AlertLink>> {
        let rows = sqlx::query(
            "SELECT fingerprint, source, rule_id, title, severity, labels, linked_at_ms
             FROM incident_alerts WHERE incident_id = $1 ORDER BY linked_at_ms",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let sev: String = r.try_get("severity")?;
                Ok(AlertLink {
                    fingerprint: r.try_get("fingerprint")?,
                    source: r.try_get("source")?,
                    rule_id: r.try_get("rule_id")?,
                    title: r.try_get("title")?,
                    severity: Severity::parse(&sev).unwrap_or(Severity::P2),
                    labels: parse(r, "labels")?,
                    linked_at_ms: r.try_get("linked_at_ms")?,
                })
            })
            .collect()
    }

    /// The incident an alert (firing episode) is linked to, if any.
    pub async fn incident_for_alert(&self, fingerprint: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT i.id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
             WHERE a.fingerprint = $1
             ORDER BY i.id DESC LIMIT 1",
        )
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?)
    }

    // ----- postmortems -----

    pub async fn postmortem(&self, incident_id: i64) -> Result<Option<PostmortemRow>> {
        let row = sqlx::query(
            "SELECT incident_id, status, doc, version, published_at_ms, created_at_ms, updated_at_ms
             FROM postmortems WHERE incident_id = $1",
        )
        .bind(incident_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pm_from_row).transpose()
    }

    /// Creates (expected version 0) or replaces the postmortem when `expected_version` is
    /// current; a status change also goes on the incident's timeline.
    pub async fn save_postmortem(
        &self,
        incident: &Incident,
        expected_version: i64,
        doc: &Postmortem,
        status: PmStatus,
        ctx: &AuditCtx,
    ) -> Result<PostmortemRow> {
        let mut tx = self.pool.begin().await?;
        let select = "SELECT incident_id, status, doc, version, published_at_ms, created_at_ms, updated_at_ms
             FROM postmortems WHERE incident_id = $1";
        let before = sqlx::query(select)
            .bind(incident.id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(pm_from_row)
            .transpose()?;
        let current = before.as_ref().map_or(0, |b| b.version);
        if current != expected_version {
            return Err(conflict("postmortem", current, expected_version));
        }
        let published = match (&before, status) {
            (_, PmStatus::Published)
                if before.as_ref().map(|b| b.status) != Some(PmStatus::Published) =>
            {
                Some(ctx.at_ms)
            }
            (Some(b), PmStatus::Published) => b.published_at_ms,
            _ => None,
        };
        if before.is_none() {
            sqlx::query(
                "INSERT INTO postmortems (incident_id, status, doc, version, published_at_ms, created_at_ms, updated_at_ms, updated_by)
                 VALUES ($1, $2, $3, 1, $4, $5, $5, $6)",
            )
            .bind(incident.id)
            .bind(status.as_str())
            .bind(json(doc)?)
            .bind(published)
            .bind(ctx.at_ms)
            .bind(ctx.user_id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE postmortems SET status = $2, doc = $3, version = version + 1, published_at_ms = $4,
                        updated_at_ms = $5, updated_by = $6 WHERE incident_id = $1",
            )
            .bind(incident.id)
            .bind(status.as_str())
            .bind(json(doc)?)
            .bind(published)
            .bind(ctx.at_ms)
            .bind(ctx.user_id)
            .execute(&mut *tx)
            .await?;
        }
        let old_status = before.as_ref().map(|b| b.status);
        if old_status != Some(status) {
            let body = match old_status {
                None => format!("Postmortem started ({})", status.as_str()),
                Some(s) => format!("Postmortem {} → {}", s.as_str(), status.as_str()),
            };
            append_entries(
                &mut tx,
                incident.id,
                &[NewEntry { at_ms: ctx.at_ms, kind: EntryKind::Postmortem, body }],
                ctx,
            )
            .await?;
        }
        let after = sqlx::query(select)
            .bind(incident.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)
            .and_then(|r| pm_from_row(&r))?;
        audit::append(
            &mut tx,
            ctx,
            "postmortem.save",
            &format!("incident:{}", incident.code),
            before.as_ref(),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Published-or-not and due state of every postmortem: `(incident_id, status)`.
    pub async fn postmortem_statuses(&self) -> Result<BTreeMap<i64, PmStatus>> {
        let rows = sqlx::query("SELECT incident_id, status FROM postmortems")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("status")?;
                Ok((r.try_get("incident_id")?, PmStatus::parse(&s).unwrap_or(PmStatus::Draft)))
            })
            .collect()
    }

    // ----- action items -----

    /// Creates an action item numbered per incident and kind (`AI-001`, `LI-001`, …).
    pub async fn create_action_item(
        &self,
        incident: &Incident,
        spec: &ActionSpec,
        ctx: &AuditCtx,
    ) -> Result<ActionItem> {
        let mut tx = self.pool.begin().await?;
        let prefix = format!("{}-", spec.kind.prefix());
        let last: Option<String> = sqlx::query_scalar(
            "SELECT MAX(code) FROM action_items WHERE incident_id = $1 AND code LIKE $2",
        )
        .bind(incident.id)
        .bind(format!("{prefix}%"))
        .fetch_one(&mut *tx)
        .await?;
        let seq = last
            .and_then(|c| c.rsplit('-').next().and_then(|n| n.parse::<u32>().ok()))
            .unwrap_or(0)
            + 1;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO action_items (incident_id, code, kind, description, owner_user_id, due_date, status, done_at_ms, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(incident.id)
        .bind(spec.kind.code(seq))
        .bind(spec.kind.as_str())
        .bind(spec.description.trim())
        .bind(spec.owner_user_id)
        .bind(spec.due_date.trim())
        .bind(spec.status.as_str())
        .bind((spec.status == ActionStatus::Done).then_some(ctx.at_ms))
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let item = fetch_action(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "action_item.create",
            &format!("action-item:{}/{}", incident.code, item.code),
            None,
            Some(&item),
        )
        .await?;
        tx.commit().await?;
        Ok(item)
    }

    /// Replaces an action item's description, owner, due day and status (its kind and
    /// code stay).
    pub async fn update_action_item(
        &self,
        id: i64,
        spec: &ActionSpec,
        ctx: &AuditCtx,
    ) -> Result<ActionItem> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_action(&mut tx, id).await?;
        let done_at = match (before.status, spec.status) {
            (ActionStatus::Done, ActionStatus::Done) => before.done_at_ms,
            (_, ActionStatus::Done) => Some(ctx.at_ms),
            _ => None,
        };
        sqlx::query(
            "UPDATE action_items SET description = $2, owner_user_id = $3, due_date = $4, status = $5,
                    done_at_ms = $6, updated_at_ms = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(spec.description.trim())
        .bind(spec.owner_user_id)
        .bind(spec.due_date.trim())
        .bind(spec.status.as_str())
        .bind(done_at)
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?;
        let after = fetch_action(&mut tx, id).await?;
        audit::append(
            &mut tx,
            ctx,
            "action_item.update",
            &format!("action-item:{}/{}", before.incident_code, before.code),
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_action_item(&self, id: i64, ctx: &AuditCtx) -> Result<ActionItem> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_action(&mut tx, id).await?;
        one_row(
            sqlx::query("DELETE FROM action_items WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?,
        )?;
        audit::append::<_, ()>(
            &mut tx,
            ctx,
            "action_item.delete",
            &format!("action-item:{}/{}", before.incident_code, before.code),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    pub async fn action_item(&self, id: i64) -> Result<ActionItem> {
        let mut conn = self.pool.acquire().await?;
        fetch_action(&mut conn, id).await
    }

    /// Action items matching `f`: by due day, then incident and code.
    pub async fn action_items(&self, f: &ActionFilter) -> Result<Vec<ActionItem>> {
        let mut sql = format!(
            "SELECT {ACTION_COLUMNS} FROM action_items a JOIN incidents i ON i.id = a.incident_id WHERE 1 = 1"
        );
        let mut binds: Vec<Bind> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if let Some(v) = f.incident_id {
            sql.push_str(&format!(" AND a.incident_id = ${}", next()));
            binds.push(Bind::Int(v));
        }
        if let Some(v) = f.owner_user_id {
            sql.push_str(&format!(" AND a.owner_user_id = ${}", next()));
            binds.push(Bind::Int(v));
        }
        if let Some(s) = f.status {
            sql.push_str(&format!(" AND a.status = ${}", next()));
            binds.push(Bind::Text(s.as_str().to_owned()));
        }
        if let Some(d) = &f.overdue_on {
            sql.push_str(&format!(" AND a.status <> 'done' AND a.due_date < ${}", next()));
            binds.push(Bind::Text(d.clone()));
        }
        if f.open_only {
            sql.push_str(" AND a.status <> 'done'");
        }
        sql.push_str(" ORDER BY a.due_date, i.code, a.code LIMIT 2000");
        let rows = Bind::all(sqlx::query(&sql), binds).fetch_all(&self.pool).await?;
        rows.iter().map(action_from_row).collect()
    }
}

/// A value bound to a numbered placeholder of a dynamic query.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    /// Binds the values in placeholder order.
    pub(crate) fn all(mut query: AnyQuery<'_>, binds: Vec<Bind>) -> AnyQuery<'_> {
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        query
    }
}
