//! Incidents: declare, run (status, severity, roles, checklist, notes, linked alerts),
//! report, close. Responders write, viewers read; every write is audited by the store in
//! the same transaction. Postmortems, action items and reports are in the submodules.

mod alerts;
pub mod paging;
pub mod postmortems;
pub mod reports;

pub use alerts::episode_key;

use crate::Result;
use crate::{Caller, ServiceError};
use chrono::TimeZone;
use chrono_tz::Tz;
use domain::alerting::AlertState;
use domain::incident::{
    checklist, sla, validate_note, validate_roles, ChecklistItem, Checkpoint, EntryKind,
    IncidentFields, IncidentRole, Roles, Sla, Status,
};
use domain::Permission;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
/// Incidents as the store keeps them, and the list filter: part of this API.
pub use store::{ActionItem, Incident, IncidentFilter};
use store::{AlertLink, AuditCtx, NewEntry, NewIncident, TimelineEntry};

/// A person as pickers and labels show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// An incident with everything its page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub timeline: Vec<TimelineEntry>,
    pub alerts: Vec<AlertLink>,
    pub sla: Sla,
    pub checklist: Vec<ChecklistItem>,
    pub postmortem: Option<domain::incident::postmortem::PmStatus>,
    /// Statuses it may move to now.
    pub next: Vec<Status>,
    pub now_ms: i64,
}

/// What declaring takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declare {
    pub fields: IncidentFields,
    /// Defaults to now.
    pub detected_at_ms: Option<i64>,
    /// Defaults to whoever is on call for the paging policy's first step.
    pub commander_id: Option<i64>,
    /// Who is paged: this policy, else the one the routing tree gives the incident's
    /// level; nobody when neither names one.
    #[serde(default)]
    pub escalation_policy_id: Option<i64>,
}

/// `2026-02-14 10:05` in `tz`.
pub fn format_minute(ms: i64, tz: Tz) -> String {
    crate::timefmt::format_in(ms, tz, "%Y-%m-%d %H:%M").unwrap_or_else(|| "—".into())
}

/// Parses `YYYY-MM-DD HH:MM` (or `YYYY-MM-DDTHH:MM`, as a datetime-local input sends it)
/// in `tz`; the message names what is wrong. DST gaps are refused, folds take the earlier.
pub fn parse_local_minute(s: &str, tz: Tz) -> Result<i64, String> {
    let s = s.trim().replace('T', " ");
    let naive = chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| format!("`{s}` is not a time like 2026-02-14 10:05"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("{s} does not exist in {tz} (a daylight-saving gap)"))
}

/// Hours and minutes, as the postmortem writes a duration: `2 小时 15 分钟`.
pub fn duration_zh(ms: i64) -> String {
    let m = ms.max(0) / 60_000;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} 分钟"),
        (h, 0) => format!("{h} 小时"),
        (h, m) => format!("{h} 小时 {m} 分钟"),
    }
}

fn status_zh(s: Status) -> &'static str {
    match s {
        Status::Detecting => "检测中",
        Status::Investigating => "调查中",
        Status::Fixing => "修复中",
        Status::Monitoring => "监控中",
        Status::Resolved => "已解决",
        Status::Closed => "已关闭",
    }
}

impl crate::Incidents<'_> {
    /// Saves `after` over `before` with one timeline entry (see `Store::save_incident`).
    async fn save_with_entry(
        &self,
        actor: &Caller,
        (before, after): (&Incident, &Incident),
        entry: NewEntry,
        action: &str,
    ) -> Result<Incident> {
        Ok(self
            .store
            .save_incident(before, after, &[entry], action, &self.audit_ctx(actor))
            .await?)
    }

    fn system_ctx(&self, who: &str) -> AuditCtx {
        AuditCtx::system(who, self.now_ms())
    }

    /// The reporting day of `ms` as `YYYYMMDD` (incident codes).
    fn incident_day(&self, ms: i64) -> String {
        crate::timefmt::format_in(ms, self.events().reporting_tz(), "%Y%m%d")
            .unwrap_or_else(|| "19700101".into())
    }

    /// Active users for role and owner pickers (responder: they assign people).
    pub async fn people(&self, actor: &Caller) -> Result<Vec<Person>> {
        actor.require(Permission::ViewIncidents)?;
        self.people_directory().await
    }

    pub(crate) async fn people_directory(&self) -> Result<Vec<Person>> {
        let mut out: Vec<Person> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.is_active())
            .map(|u| Person { id: u.id, name: u.name, email: u.email })
            .collect();
        out.sort_by_key(|a| a.name.to_lowercase());
        Ok(out)
    }

    async fn check_people(&self, ids: &[i64], field: &str) -> Result<()> {
        check_ids(&self.people_directory().await?, ids, field)
    }

    /// Declares an incident (responder). Detection defaults to now; an IC may be named.
    pub async fn declare_incident(&self, actor: &Caller, input: Declare) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let fields = input.fields.normalized();
        let mut e = fields.validate().err().unwrap_or_default();
        let detected = input.detected_at_ms.unwrap_or(now);
        if detected > now + domain::incident::MINUTE_MS {
            e.in_the_future("detected_at");
        }
        e.into_result()?;
        let policy = self.paging_policy(&fields, input.escalation_policy_id).await?;
        let commander = match (input.commander_id, &policy) {
            (Some(ic), _) => {
                self.check_people(&[ic], "commander").await?;
                Some(ic)
            }
            (None, Some(p)) => self.oncall().first_responder(p).await?,
            (None, None) => None,
        };
        let mut roles = Roles::new();
        if let Some(ic) = commander {
            roles.insert(IncidentRole::Commander, vec![ic]);
        }
        let new = NewIncident {
            fields,
            detected_at_ms: detected,
            day: self.incident_day(detected),
            roles,
            reporter_id: actor.user_id(),
            reporter: actor.name.clone(),
        };
        let mut inc = self.store.create_incident(&new, None, &actor.audit(now)).await?;
        if commander.is_some() {
            // Appointing the IC at declaration ticks the first checkpoint.
            let mut after = inc.clone();
            after.checklist.insert(Checkpoint::LevelAndCommander, now.max(detected));
            inc = self
                .store
                .save_incident(&inc, &after, &[], "incident.checklist", &actor.audit(now))
                .await?;
        }
        if let Some(p) = &policy {
            self.start_incident_paging(&inc, p, None, &actor.audit(now)).await?;
        }
        Ok(inc)
    }

    /// One incident by code (viewer).
    pub async fn incident(&self, actor: &Caller, code: &str) -> Result<Incident> {
        actor.require(Permission::ViewIncidents)?;
        Ok(self.store.incident_by_code(code).await?)
    }

    /// The incident page's data (viewer).
    pub async fn incident_detail(&self, actor: &Caller, code: &str) -> Result<IncidentDetail> {
        actor.require(Permission::ViewIncidents)?;
        let incident = self.store.incident_by_code(code).await?;
        let now = self.now_ms();
        let sev = incident.fields.severity;
        Ok(IncidentDetail {
            timeline: self.store.incident_timeline(incident.id).await?,
            alerts: self.store.incident_alerts(incident.id).await?,
            sla: sla(sev, &incident.log, now),
            checklist: checklist(sev, incident.log.detected_ms(), &incident.checklist, now),
            postmortem: self.store.postmortem(incident.id).await?.map(|p| p.status),
            next: incident.status().next(),
            now_ms: now,
            incident,
        })
    }

    /// Incidents matching the filter, newest first (viewer).
    pub async fn list_incidents(
        &self,
        actor: &Caller,
        filter: &IncidentFilter,
    ) -> Result<Vec<Incident>> {
        actor.require(Permission::ViewIncidents)?;
        Ok(self.store.incidents(filter).await?)
    }

    /// Moves an incident to `to` at `at_ms` (default now). Closing a P0–P2 incident needs
    /// a published postmortem; resolving before the monitoring period ends needs a reason.
    pub async fn change_incident_status(
        &self,
        actor: &Caller,
        code: &str,
        to: Status,
        at_ms: Option<i64>,
        override_reason: Option<String>,
    ) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let before = self.store.incident_by_code(code).await?;
        let sev = before.fields.severity;
        if to == Status::Closed {
            let published = self
                .store
                .postmortem(before.id)
                .await?
                .is_some_and(|p| p.status == domain::incident::postmortem::PmStatus::Published);
            domain::incident::check_close(sev, published)
                .map_err(|m| ServiceError::invalid("status", m))?;
        }
        let at = at_ms.unwrap_or(now);
        let mut after = before.clone();
        let from = before.status();
        after.log.change(sev, to, at, now, override_reason.as_deref())?;
        // Starting the fix is the "fix plan made, fixing started" step of the checklist.
        if to == Status::Fixing {
            after.checklist.entry(Checkpoint::FixPlan).or_insert(at);
        }
        let reason = override_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty() && to == Status::Resolved);
        let body = match reason {
            Some(r) if at - before.log.since_ms() < domain::incident::monitoring_ms(sev) => {
                format!(
                    "Status {} → {} (resolved before the {} monitoring period: {r})",
                    from,
                    to,
                    domain::alerting::format_duration(domain::incident::monitoring_ms(sev))
                )
            }
            _ => format!("Status {from} → {to}"),
        };
        let entry = NewEntry { at_ms: at, kind: EntryKind::Status, body };
        let saved =
            self.save_with_entry(actor, (&before, &after), entry, "incident.status").await?;
        if matches!(to, Status::Resolved | Status::Closed) {
            self.end_incident_paging(&saved, &self.audit_ctx(actor)).await?;
        }
        Ok(saved)
    }

    /// Edits the text fields and severity (responder) when `version` is current. A
    /// severity change goes on the timeline by itself.
    pub async fn update_incident(
        &self,
        actor: &Caller,
        code: &str,
        version: i64,
        fields: IncidentFields,
    ) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let before = self.store.incident_by_code(code).await?;
        if before.version != version {
            return Err(ServiceError::Conflict(format!(
                "the incident was changed by someone else (version {} is current, the edit was based on {version}); reload and edit again",
                before.version
            )));
        }
        if before.status() == Status::Closed {
            return Err(ServiceError::invalid("status", "a closed incident cannot be edited"));
        }
        let fields = fields.normalized();
        fields.validate()?;
        let mut entries = Vec::new();
        if fields.severity != before.fields.severity {
            entries.push(NewEntry {
                at_ms: now,
                kind: EntryKind::Severity,
                body: format!(
                    "Severity {} → {}",
                    before.fields.severity.as_str(),
                    fields.severity.as_str()
                ),
            });
        }
        let changed: Vec<&str> = [
            ("title", before.fields.title != fields.title),
            ("impact scope", before.fields.impact_scope != fields.impact_scope),
            ("user impact", before.fields.user_impact != fields.user_impact),
            ("description", before.fields.description != fields.description),
            ("measures taken", before.fields.measures_taken != fields.measures_taken),
            ("support needed", before.fields.support_needed != fields.support_needed),
            ("contact", before.fields.contact != fields.contact),
        ]
        .into_iter()
        .filter_map(|(n, c)| c.then_some(n))
        .collect();
        if !changed.is_empty() {
            entries.push(NewEntry {
                at_ms: now,
                kind: EntryKind::Edit,
                body: format!("Updated {}", changed.join(", ")),
            });
        }
        let mut after = before.clone();
        after.fields = fields;
        Ok(self
            .store
            .save_incident(&before, &after, &entries, "incident.update", &actor.audit(now))
            .await?)
    }

    /// Assigns the response roles (responder). Every change is a timeline entry; naming an
    /// IC ticks "level and IC" if it was open.
    pub async fn set_incident_roles(
        &self,
        actor: &Caller,
        code: &str,
        roles: Roles,
    ) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let roles: Roles = roles.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        validate_roles(&roles)?;
        // One read of the users for the checks and the timeline's names.
        let people = self.people_directory().await?;
        for (role, ids) in &roles {
            check_ids(&people, ids, role.as_str())?;
        }
        let before = self.store.incident_by_code(code).await?;
        if before.status() == Status::Closed {
            return Err(ServiceError::invalid("status", "a closed incident cannot be edited"));
        }
        let people = postmortems::names(&people);
        let names = |ids: Option<&Vec<i64>>| -> String {
            match ids {
                None => "nobody".into(),
                Some(v) if v.is_empty() => "nobody".into(),
                Some(v) => v
                    .iter()
                    .map(|id| people.get(id).cloned().unwrap_or_else(|| format!("user {id}")))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        };
        let entries: Vec<NewEntry> = IncidentRole::ALL
            .into_iter()
            .filter(|r| before.roles.get(r) != roles.get(r))
            .map(|r| NewEntry {
                at_ms: now,
                kind: EntryKind::Role,
                body: format!(
                    "{}: {} → {}",
                    r.label(),
                    names(before.roles.get(&r)),
                    names(roles.get(&r))
                ),
            })
            .collect();
        if entries.is_empty() {
            return Ok(before);
        }
        let mut after = before.clone();
        after.roles = roles;
        if after.commander().is_some() {
            after.checklist.entry(Checkpoint::LevelAndCommander).or_insert(now);
        }
        Ok(self
            .store
            .save_incident(&before, &after, &entries, "incident.roles", &actor.audit(now))
            .await?)
    }

    /// Ticks or unticks a response-timeline step (responder).
    pub async fn set_checkpoint(
        &self,
        actor: &Caller,
        code: &str,
        checkpoint: Checkpoint,
        done: bool,
    ) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let before = self.store.incident_by_code(code).await?;
        if !checkpoint.applies(before.fields.severity) {
            return Err(ServiceError::invalid(
                "checkpoint",
                format!("{} applies to P0/P1 incidents only", checkpoint.label()),
            ));
        }
        if before.checklist.contains_key(&checkpoint) == done {
            return Ok(before);
        }
        let mut after = before.clone();
        if done {
            after.checklist.insert(checkpoint, now);
        } else {
            after.checklist.remove(&checkpoint);
        }
        let body = format!("{} {}", if done { "Done:" } else { "Reopened:" }, checkpoint.label());
        let entry = NewEntry { at_ms: now, kind: EntryKind::Checklist, body };
        self.save_with_entry(actor, (&before, &after), entry, "incident.checklist").await
    }

    /// Adds a note with its event time (default now) (responder).
    pub async fn add_incident_note(
        &self,
        actor: &Caller,
        code: &str,
        text: &str,
        at_ms: Option<i64>,
    ) -> Result<Vec<TimelineEntry>> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let inc = self.store.incident_by_code(code).await?;
        let at = at_ms.unwrap_or(now);
        validate_note(text, at, inc.log.detected_ms(), now)?;
        Ok(self
            .store
            .add_timeline_entries(
                &inc,
                &[NewEntry { at_ms: at, kind: EntryKind::Note, body: text.trim().to_owned() }],
                &actor.audit(now),
            )
            .await?)
    }

    /// Edits a note's text and event time (responder).
    pub async fn edit_incident_note(
        &self,
        actor: &Caller,
        code: &str,
        entry_id: i64,
        text: &str,
        at_ms: i64,
    ) -> Result<TimelineEntry> {
        actor.require(Permission::RespondToIncidents)?;
        let now = self.now_ms();
        let inc = self.store.incident_by_code(code).await?;
        let entry = self.store.timeline_entry(entry_id).await?;
        if entry.incident_id != inc.id {
            return Err(ServiceError::NotFound);
        }
        validate_note(text, at_ms, inc.log.detected_ms(), now)?;
        self.store.update_note(entry_id, text.trim(), at_ms, &actor.audit(now)).await.map_err(|e| {
            match e {
                store::StoreError::Conflict(m) => ServiceError::invalid("entry", m),
                e => e.into(),
            }
        })
    }

    /// The seed's incident report (事故报告) as text for Feishu or email (viewer).
    pub async fn incident_report(&self, actor: &Caller, code: &str) -> Result<String> {
        actor.require(Permission::ViewIncidents)?;
        let inc = self.store.incident_by_code(code).await?;
        Ok(report_text(&inc, self.events().reporting_tz(), &self.public_url))
    }

    /// Sends the incident report to a notification channel now (responder); the timeline
    /// records it. The error says what the receiver answered.
    pub async fn send_incident_report(
        &self,
        actor: &Caller,
        code: &str,
        channel_id: i64,
    ) -> Result<()> {
        actor.require(Permission::RespondToIncidents)?;
        let inc = self.store.incident_by_code(code).await?;
        let text = report_text(&inc, self.events().reporting_tz(), &self.public_url);
        let channel = self
            .store
            .channels()
            .await?
            .into_iter()
            .find(|c| c.id == channel_id)
            .ok_or_else(|| ServiceError::invalid("channel", "no such channel"))?;
        let now = self.now_ms();
        let subject = text.lines().next().unwrap_or_default().to_owned();
        crate::notify::send_text(
            &self.http,
            &channel,
            &subject,
            &text,
            &format!("report-{}-{now}", inc.code),
            now,
        )
        .await
        .map_err(|e| ServiceError::invalid("channel", e))?;
        self.store
            .add_timeline_entries(
                &inc,
                &[NewEntry {
                    at_ms: now,
                    kind: EntryKind::Report,
                    body: format!("Incident report sent to {}", channel.name),
                }],
                &actor.audit(now),
            )
            .await?;
        Ok(())
    }
}

/// The list's status filter as the UI and the API take it: `open` (also empty), `all`,
/// `done` (resolved or closed) or one status → (open-only flag, status).
pub fn status_filter(s: &str) -> Result<(Option<bool>, Option<Status>)> {
    match s.trim() {
        "" | "open" => Ok((Some(true), None)),
        "all" => Ok((None, None)),
        "done" => Ok((Some(false), None)),
        s => Status::parse(s).map(|st| (None, Some(st))).ok_or_else(|| {
            ServiceError::invalid(
                "status",
                "must be open, all, done or one of detecting, investigating, fixing, monitoring, resolved, closed",
            )
        }),
    }
}

/// `Invalid` on `field` unless every id is an active user in `people`.
pub(crate) fn check_ids(people: &[Person], ids: &[i64], field: &str) -> Result<()> {
    match ids.iter().find(|id| !people.iter().any(|p| p.id == **id)) {
        Some(bad) => {
            Err(ServiceError::invalid(field, format!("user {bad} does not exist or is disabled")))
        }
        None => Ok(()),
    }
}

/// The report template of seed 003 §2.1.3, filled in.
pub fn report_text(inc: &Incident, tz: Tz, base_url: &str) -> String {
    let f = &inc.fields;
    let or_dash = |s: &str| {
        if s.trim().is_empty() {
            "—".to_owned()
        } else {
            s.trim().to_owned()
        }
    };
    format!(
        "【事故报告】{sev} - {title}\n\n\
         事故编号: {code}\n\
         事故级别: {sev}\n\
         当前状态: {status}\n\
         影响范围: {scope}\n\
         事故时间: {start} ({tz})\n\
         报告人: {reporter}\n\
         联系方式: {contact}\n\n\
         事故描述:\n{desc}\n\n\
         影响评估:\n{impact}\n\n\
         已采取的措施:\n{measures}\n\n\
         需要支持:\n{support}\n\n\
         详情: {base_url}/incidents/{code}\n",
        sev = f.severity.as_str(),
        title = f.title,
        code = inc.code,
        status = status_zh(inc.status()),
        scope = or_dash(&f.impact_scope),
        start = format_minute(inc.log.detected_ms(), tz),
        reporter = or_dash(&inc.reporter),
        contact = or_dash(&f.contact),
        desc = or_dash(&f.description),
        impact = or_dash(&f.user_impact),
        measures = or_dash(&f.measures_taken),
        support = or_dash(&f.support_needed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_parse_in_zone() {
        let sh: Tz = "Asia/Shanghai".parse().expect("tz");
        let ms = parse_local_minute("2026-02-14 23:50", sh).expect("ok");
        assert_eq!(format_minute(ms, sh), "2026-02-14 23:50");
        assert_eq!(format_minute(ms, Tz::UTC), "2026-02-14 15:50");
        assert_eq!(parse_local_minute("2026-02-14T23:50", sh), Ok(ms));
        assert!(parse_local_minute("yesterday", sh).unwrap_err().contains("not a time"));
        let ny: Tz = "America/New_York".parse().expect("tz");
        assert!(parse_local_minute("2026-03-08 02:30", ny)
            .unwrap_err()
            .contains("daylight-saving gap"));
        assert_eq!(duration_zh(135 * 60_000), "2 小时 15 分钟");
        assert_eq!(duration_zh(45 * 60_000), "45 分钟");
    }
}
