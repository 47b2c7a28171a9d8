//! Incident server functions: resolve the caller, one services call (which checks the
//! role), rows formatted in the caller's time zone. Writes also check the CSRF token.

use crate::error::AppError;
use domain::alerting::Severity;
use domain::incident::postmortem::{ActionKind, ActionStatus, PmStatus};
use domain::incident::{ClockState, IncidentFields, IncidentRole, Status};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub code: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub detected: String,
    pub commander: String,
    /// `2h 15m` from detection to resolution, or so far.
    pub duration: String,
}

/// Filters of the list page, as in its URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListFilter {
    /// `open` (default), `all`, `closed` or a status.
    pub status: String,
    pub severity: String,
    /// `YYYY-MM-DD` in the caller's zone, inclusive.
    pub from: String,
    pub to: String,
    pub ic: String,
    pub q: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListData {
    pub rows: Vec<IncidentRow>,
    pub people: Vec<PersonRow>,
}

/// The declare form as typed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeclareForm {
    pub fields: IncidentFields,
    /// `YYYY-MM-DDTHH:MM` in the caller's zone; empty for now.
    pub detected_at: String,
    pub commander_id: Option<i64>,
    /// Who is paged; `None`: the routing tree's policy for the incident's level.
    #[serde(default)]
    pub escalation_policy_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    pub key: String,
    pub checkpoint: domain::incident::Checkpoint,
    pub owner: IncidentRole,
    pub due_ms: i64,
    pub due: String,
    pub done: Option<String>,
    pub state: ClockState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryRow {
    pub id: i64,
    pub at_ms: i64,
    pub at: String,
    /// For the edit input (`YYYY-MM-DDTHH:MM`).
    pub at_input: String,
    pub kind: String,
    pub body: String,
    pub actor: String,
    pub edited: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLinkRow {
    pub title: String,
    pub severity: Severity,
    pub source: String,
    pub rule_id: Option<i64>,
    pub linked: String,
}

/// Everything the incident page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub code: String,
    pub version: i64,
    pub fields: IncidentFields,
    pub status: Status,
    pub detected: String,
    pub reporter: String,
    pub now_ms: i64,
    pub response_due_ms: i64,
    pub response_due: String,
    pub responded: Option<String>,
    pub response_state: ClockState,
    pub monitoring_until_ms: Option<i64>,
    pub monitoring_until: Option<String>,
    pub postmortem_due: Option<String>,
    pub postmortem: Option<PmStatus>,
    pub checklist: Vec<CheckRow>,
    pub roles: Vec<(IncidentRole, Vec<i64>)>,
    pub people: Vec<PersonRow>,
    pub alerts: Vec<AlertLinkRow>,
    pub timeline: Vec<EntryRow>,
    /// What changed around it (see `services::changes::IncidentChanges`): the services
    /// looked at (empty: every service) and the changes, newest first; also in the
    /// timeline as `change` entries.
    pub change_services: Vec<String>,
    pub changes: Vec<crate::features::changes::server_fns::ChangeRow>,
    pub next: Vec<Status>,
    /// Why "close" is not possible yet, if it is among the next statuses.
    pub close_blocked: Option<String>,
    pub channels: Vec<(i64, String)>,
    /// Now in the caller's zone, for time inputs' defaults.
    pub now_input: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRow {
    pub id: i64,
    pub incident_code: String,
    pub incident_title: String,
    pub code: String,
    pub kind: ActionKind,
    pub description: String,
    pub owner_id: Option<i64>,
    pub owner: String,
    pub due_date: String,
    pub status: ActionStatus,
    pub overdue: bool,
}

/// One postmortem timeline row as typed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PmRowForm {
    pub at: String,
    pub event: String,
    pub owner: String,
}

/// The postmortem form: the domain document with times and numbers as typed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PostmortemForm {
    pub timeline: Vec<PmRowForm>,
    pub users_affected: String,
    pub complaints: String,
    pub negative_mentions: String,
    /// Everything else, as is (its `timeline` and numbers are ignored).
    pub doc: domain::incident::postmortem::Postmortem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostmortemEdit {
    pub code: String,
    pub title: String,
    pub severity: Severity,
    pub incident_status: Status,
    pub status: Option<PmStatus>,
    pub version: i64,
    pub form: PostmortemForm,
    pub due: Option<String>,
    pub overdue: bool,
    pub actions: Vec<ActionRow>,
    pub people: Vec<PersonRow>,
    pub today: String,
    /// 基本信息, filled from the incident: (label key, value).
    pub basic: BasicInfo,
}

/// The postmortem's basic information, from the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasicInfo {
    pub period: String,
    pub duration: String,
    pub commander: String,
    pub impact_scope: String,
    pub user_impact: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub month: String,
    /// Per severity P0..P3: (count, MTTA, MTTR) formatted.
    pub cells: Vec<(usize, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdueRow {
    pub code: String,
    pub title: String,
    pub severity: Severity,
    pub due: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportView {
    pub rows: Vec<ReportRow>,
    pub totals: Vec<(usize, String, String)>,
    pub overdue: Vec<OverdueRow>,
    pub count_svg: Option<String>,
    pub mtta_svg: Option<String>,
    pub mttr_svg: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeData {
    pub open: Vec<IncidentRow>,
    pub mine: Vec<ActionRow>,
}

/// `2h 15m`.
pub fn short_duration(ms: i64) -> String {
    let m = ms.max(0) / 60_000;
    match (m / 1440, (m / 60) % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr_impl {
    use super::*;
    use services::incidents::{format_minute, parse_local_minute, IncidentDetail};
    use std::collections::BTreeMap;

    pub fn tz_of(actor: &services::Caller) -> chrono_tz::Tz {
        actor.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC)
    }

    pub fn people_rows(p: &[services::incidents::Person]) -> Vec<PersonRow> {
        p.iter().map(|p| PersonRow { id: p.id, name: p.name.clone() }).collect()
    }

    pub fn row(
        i: &services::incidents::Incident,
        names: &BTreeMap<i64, String>,
        tz: chrono_tz::Tz,
        now: i64,
    ) -> IncidentRow {
        let d = i.log.detected_ms();
        IncidentRow {
            code: i.code.clone(),
            title: i.fields.title.clone(),
            severity: i.fields.severity,
            status: i.status(),
            detected: format_minute(d, tz),
            commander: i
                .commander()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "—".into()),
            duration: short_duration(i.log.resolved_ms().unwrap_or(now) - d),
        }
    }

    pub fn action_row(
        a: &services::incidents::ActionItem,
        names: &BTreeMap<i64, String>,
        today: &str,
    ) -> ActionRow {
        ActionRow {
            id: a.id,
            incident_code: a.incident_code.clone(),
            incident_title: a.incident_title.clone(),
            code: a.code.clone(),
            kind: a.kind,
            description: a.description.clone(),
            owner_id: a.owner_user_id,
            owner: a
                .owner_user_id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "—".into()),
            due_date: a.due_date.clone(),
            status: a.status,
            overdue: domain::incident::postmortem::action_overdue(a.status, &a.due_date, today),
        }
    }

    pub fn local_input(ms: i64, tz: chrono_tz::Tz) -> String {
        format_minute(ms, tz).replace(' ', "T")
    }

    /// An optional local time input: empty → `None`; else parsed or an error on `field`.
    pub fn opt_time(s: &str, tz: chrono_tz::Tz, field: &str) -> Result<Option<i64>, AppError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        parse_local_minute(s, tz)
            .map(Some)
            .map_err(|m| services::ServiceError::invalid(field, m).into())
    }

    pub fn view(
        d: IncidentDetail,
        people: Vec<services::incidents::Person>,
        channels: Vec<(i64, String)>,
        tz: chrono_tz::Tz,
    ) -> IncidentView {
        let names = services::incidents::postmortems::names(&people);
        let inc = &d.incident;
        let close_blocked = d
            .next
            .contains(&Status::Closed)
            .then(|| {
                domain::incident::check_close(
                    inc.fields.severity,
                    d.postmortem == Some(PmStatus::Published),
                )
                .err()
            })
            .flatten();
        IncidentView {
            code: inc.code.clone(),
            version: inc.version,
            fields: inc.fields.clone(),
            status: inc.status(),
            detected: format_minute(inc.log.detected_ms(), tz),
            reporter: inc.reporter.clone(),
            now_ms: d.now_ms,
            response_due_ms: d.sla.response_due_ms,
            response_due: format_minute(d.sla.response_due_ms, tz),
            responded: d.sla.responded_ms.map(|t| format_minute(t, tz)),
            response_state: d.sla.response,
            monitoring_until_ms: d.sla.monitoring_until_ms,
            monitoring_until: d.sla.monitoring_until_ms.map(|t| format_minute(t, tz)),
            postmortem_due: d.sla.postmortem_due_ms.map(|t| format_minute(t, tz)),
            postmortem: d.postmortem,
            checklist: d
                .checklist
                .iter()
                .map(|c| CheckRow {
                    key: c.checkpoint.as_str().to_owned(),
                    checkpoint: c.checkpoint,
                    owner: c.checkpoint.owner(),
                    due_ms: c.due_ms,
                    due: format_minute(c.due_ms, tz),
                    done: c.done_ms.map(|t| format_minute(t, tz)),
                    state: c.state,
                })
                .collect(),
            roles: inc.roles.iter().map(|(r, v)| (*r, v.clone())).collect(),
            alerts: d
                .alerts
                .iter()
                .map(|a| AlertLinkRow {
                    title: a.title.clone(),
                    severity: a.severity,
                    source: a.source.clone(),
                    rule_id: a.rule_id,
                    linked: format_minute(a.linked_at_ms, tz),
                })
                .collect(),
            timeline: d
                .timeline
                .iter()
                .map(|e| EntryRow {
                    id: e.id,
                    at_ms: e.at_ms,
                    at: format_minute(e.at_ms, tz),
                    at_input: local_input(e.at_ms, tz),
                    kind: e.kind.as_str().to_owned(),
                    body: e.body.clone(),
                    actor: e
                        .actor_user_id
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_else(|| e.actor.clone()),
                    edited: e.edited_at_ms.is_some(),
                })
                .collect(),
            change_services: Vec::new(),
            changes: Vec::new(),
            next: d.next.clone(),
            close_blocked,
            channels,
            now_input: local_input(d.now_ms, tz),
            people: people_rows(&people),
        }
    }
}

#[server(prefix = "/rpc", endpoint = "incidents/list", input = Json)]
pub async fn list_incidents(filter: ListFilter) -> Result<ListData, AppError> {
    use ssr_impl::*;
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = tz_of(&actor);
    let day = |s: &str, field: &str, end: bool| -> Result<Option<i64>, AppError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        let t = services::incidents::parse_local_minute(&format!("{} 00:00", s.trim()), tz)
            .map_err(|_| {
                AppError::from(services::ServiceError::invalid(
                    field,
                    "must be a date like 2026-02-14",
                ))
            })?;
        Ok(Some(if end { t + 86_400_000 } else { t }))
    };
    let (open, status) = services::incidents::status_filter(&filter.status)?;
    let f = services::incidents::IncidentFilter {
        open,
        status,
        severity: Severity::parse(filter.severity.trim()),
        from_ms: day(&filter.from, "from", false)?,
        to_ms: day(&filter.to, "to", true)?,
        commander_id: filter.ic.trim().parse().ok(),
        q: Some(filter.q.clone()).filter(|q| !q.trim().is_empty()),
        limit: 500,
    };
    let incidents = svc.incidents().list_incidents(&actor, &f).await?;
    let people = svc.incidents().people(&actor).await?;
    let names = services::incidents::postmortems::names(&people);
    let now = svc.now_ms();
    Ok(ListData {
        rows: incidents.iter().map(|i| row(i, &names, tz, now)).collect(),
        people: people_rows(&people),
    })
}

#[server(prefix = "/rpc", endpoint = "incidents/people")]
pub async fn incident_people() -> Result<Vec<PersonRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let p = svc.incidents().people(&actor).await?;
    Ok(ssr_impl::people_rows(&p))
}

#[server(prefix = "/rpc", endpoint = "incidents/declare", input = Json)]
pub async fn declare_incident(form: DeclareForm) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = ssr_impl::tz_of(&actor);
    let detected = ssr_impl::opt_time(&form.detected_at, tz, "detected_at")?;
    let inc = svc
        .incidents()
        .declare_incident(
            &actor,
            services::incidents::Declare {
                fields: form.fields,
                detected_at_ms: detected,
                commander_id: form.commander_id,
                escalation_policy_id: form.escalation_policy_id,
            },
        )
        .await?;
    Ok(inc.code)
}

#[server(prefix = "/rpc", endpoint = "incidents/get")]
pub async fn get_incident(code: String) -> Result<IncidentView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let d = svc.incidents().incident_detail(&actor, &code).await?;
    let people = svc.incidents().people(&actor).await?;
    // Channel names only (no settings), for "send the report".
    let channels = svc.notify().report_channels(&actor).await?;
    let changes = svc.changes().changes_around(&actor, &d.incident, &d.alerts).await?;
    let detected = d.incident.log.detected_ms();
    let tz = ssr_impl::tz_of(&actor);
    let mut v = ssr_impl::view(d, people, channels, tz);
    for c in &changes.changes {
        let what = [c.kind.as_str(), &c.service, &c.version, &c.description]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        v.timeline.push(EntryRow {
            id: -c.id,
            at_ms: c.at_ms,
            at: services::incidents::format_minute(c.at_ms, tz),
            at_input: String::new(),
            kind: "change".into(),
            body: what,
            actor: if c.author.is_empty() { c.recorded_by.clone() } else { c.author.clone() },
            edited: false,
        });
    }
    v.timeline.sort_by_key(|e| e.at_ms);
    v.change_services = changes.services;
    v.changes = changes
        .changes
        .iter()
        .map(|c| {
            crate::features::changes::server_fns::ssr::row(c, &actor.time_zone, Some(detected))
        })
        .collect();
    Ok(v)
}

#[server(prefix = "/rpc", endpoint = "incidents/status")]
pub async fn change_status(
    code: String,
    to: String,
    at: String,
    override_reason: String,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let to = Status::parse(&to).ok_or_else(|| {
        AppError::from(services::ServiceError::invalid("status", "unknown status"))
    })?;
    let at = ssr_impl::opt_time(&at, ssr_impl::tz_of(&actor), "at")?;
    svc.incidents()
        .change_incident_status(
            &actor,
            &code,
            to,
            at,
            Some(override_reason).filter(|r| !r.trim().is_empty()),
        )
        .await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/update", input = Json)]
pub async fn update_incident(
    code: String,
    version: i64,
    fields: IncidentFields,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents().update_incident(&actor, &code, version, fields).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/roles", input = Json)]
pub async fn set_roles(code: String, roles: Vec<(IncidentRole, Vec<i64>)>) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents().set_incident_roles(&actor, &code, roles.into_iter().collect()).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/checkpoint")]
pub async fn set_checkpoint(code: String, key: String, done: bool) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let c = domain::incident::Checkpoint::parse(&key).ok_or_else(|| {
        AppError::from(services::ServiceError::invalid("checkpoint", "unknown step"))
    })?;
    svc.incidents().set_checkpoint(&actor, &code, c, done).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/note")]
pub async fn add_note(code: String, text: String, at: String) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let at = ssr_impl::opt_time(&at, ssr_impl::tz_of(&actor), "at")?;
    svc.incidents().add_incident_note(&actor, &code, &text, at).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/edit_note")]
pub async fn edit_note(code: String, id: i64, text: String, at: String) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let at = ssr_impl::opt_time(&at, ssr_impl::tz_of(&actor), "at")?
        .ok_or_else(|| AppError::from(services::ServiceError::invalid("at", "is required")))?;
    svc.incidents().edit_incident_note(&actor, &code, id, &text, at).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/report")]
pub async fn incident_report(code: String) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.incidents().incident_report(&actor, &code).await?)
}

#[server(prefix = "/rpc", endpoint = "incidents/send_report")]
pub async fn send_report(code: String, channel_id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents().send_incident_report(&actor, &code, channel_id).await?;
    Ok(())
}

/// Declares an incident from an active alert (or finds the one it has); returns its code.
#[server(prefix = "/rpc", endpoint = "incidents/from_alert")]
pub async fn incident_from_alert(
    source: String,
    rule_id: Option<i64>,
    fingerprint: String,
) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.incidents().incident_from_alert(&actor, &source, rule_id, &fingerprint).await?.code)
}

#[server(prefix = "/rpc", endpoint = "incidents/postmortem")]
pub async fn get_postmortem(code: String) -> Result<PostmortemEdit, AppError> {
    use ssr_impl::*;
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = tz_of(&actor);
    let v = svc.incidents().postmortem(&actor, &code).await?;
    let people = svc.incidents().people(&actor).await?;
    let names = services::incidents::postmortems::names(&people);
    let today = svc.incidents().today_date();
    let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    Ok(PostmortemEdit {
        code: v.incident.code.clone(),
        title: v.incident.fields.title.clone(),
        severity: v.incident.fields.severity,
        incident_status: v.incident.status(),
        status: v.status,
        version: v.version,
        form: PostmortemForm {
            timeline: v
                .doc
                .timeline
                .iter()
                .map(|r| PmRowForm {
                    at: services::incidents::format_minute(r.at_ms, tz),
                    event: r.event.clone(),
                    owner: r.owner.clone(),
                })
                .collect(),
            users_affected: num(v.doc.users_affected),
            complaints: num(v.doc.complaints),
            negative_mentions: num(v.doc.negative_mentions),
            doc: v.doc.clone(),
        },
        due: v.due_ms.map(|t| services::incidents::format_minute(t, tz)),
        overdue: v.overdue,
        actions: v.actions.iter().map(|a| action_row(a, &names, &today)).collect(),
        basic: {
            let inc = &v.incident;
            let start = inc.log.detected_ms();
            let end = inc.log.resolved_ms();
            let fmt = |t| services::incidents::format_minute(t, tz);
            BasicInfo {
                period: format!("{} – {}", fmt(start), end.map_or_else(|| "…".to_owned(), fmt)),
                duration: end.map_or_else(|| "—".to_owned(), |e| short_duration(e - start)),
                commander: inc
                    .commander()
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| "—".into()),
                impact_scope: inc.fields.impact_scope.clone(),
                user_impact: inc.fields.user_impact.clone(),
            }
        },
        people: people_rows(&people),
        today,
    })
}

#[server(prefix = "/rpc", endpoint = "incidents/save_postmortem", input = Json)]
pub async fn save_postmortem(
    code: String,
    version: i64,
    form: PostmortemForm,
    status: PmStatus,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = ssr_impl::tz_of(&actor);
    let mut e = domain::FieldErrors::new();
    let mut doc = form.doc.clone();
    doc.timeline = form
        .timeline
        .iter()
        .enumerate()
        .filter(|(_, r)| !(r.at.trim().is_empty() && r.event.trim().is_empty()))
        .map(|(i, r)| domain::incident::postmortem::PmTimelineRow {
            at_ms: services::incidents::parse_local_minute(&r.at, tz).unwrap_or_else(|m| {
                e.add(&format!("timeline[{i}].at"), m);
                0
            }),
            event: r.event.trim().to_owned(),
            owner: r.owner.trim().to_owned(),
        })
        .collect();
    let mut num = |s: &str, field: &str| -> Option<u64> {
        let s = s.trim().replace([',', '_'], "");
        if s.is_empty() {
            return None;
        }
        s.parse().map_err(|_| e.add(field, "must be a whole number")).ok()
    };
    doc.users_affected = num(&form.users_affected, "users_affected");
    doc.complaints = num(&form.complaints, "complaints");
    doc.negative_mentions = num(&form.negative_mentions, "negative_mentions");
    let doc =
        e.then_validate(doc.clone(), doc.validate()).map_err(services::ServiceError::Invalid)?;
    svc.incidents().save_postmortem(&actor, &code, version, doc, status).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/postmortem_md")]
pub async fn postmortem_markdown(code: String) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.incidents().postmortem_markdown(&actor, &code).await?)
}

#[server(prefix = "/rpc", endpoint = "incidents/add_action")]
pub async fn add_action_item(
    code: String,
    kind: ActionKind,
    description: String,
    owner: Option<i64>,
    due_date: String,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents()
        .add_action_item(
            &actor,
            &code,
            &domain::incident::postmortem::ActionSpec {
                kind,
                description,
                owner_user_id: owner,
                due_date,
                status: ActionStatus::Todo,
            },
        )
        .await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/action_status")]
pub async fn set_action_status(id: i64, status: ActionStatus) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents().set_action_status(&actor, id, status).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/delete_action")]
pub async fn delete_action_item(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.incidents().delete_action_item(&actor, id).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "incidents/actions")]
pub async fn list_action_items(
    owner: String,
    status: String,
    overdue: bool,
) -> Result<(Vec<ActionRow>, Vec<PersonRow>), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let people = svc.incidents().people(&actor).await?;
    let names = services::incidents::postmortems::names(&people);
    let owner = match owner.as_str() {
        "me" => actor.user_id(),
        s => s.parse().ok(),
    };
    let items =
        svc.incidents().action_items(&actor, owner, ActionStatus::parse(&status), overdue).await?;
    let today = svc.incidents().today_date();
    Ok((
        items.iter().map(|a| ssr_impl::action_row(a, &names, &today)).collect(),
        ssr_impl::people_rows(&people),
    ))
}

#[server(prefix = "/rpc", endpoint = "incidents/home")]
pub async fn home_incidents() -> Result<HomeData, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = ssr_impl::tz_of(&actor);
    let people = svc.incidents().people(&actor).await?;
    let names = services::incidents::postmortems::names(&people);
    let now = svc.now_ms();
    let open = svc
        .incidents()
        .list_incidents(
            &actor,
            &services::incidents::IncidentFilter {
                open: Some(true),
                limit: 10,
                ..Default::default()
            },
        )
        .await?;
    let today = svc.incidents().today_date();
    Ok(HomeData {
        open: open.iter().map(|i| ssr_impl::row(i, &names, tz, now)).collect(),
        mine: svc
            .incidents()
            .my_action_items(&actor)
            .await?
            .iter()
            .map(|a| ssr_impl::action_row(a, &names, &today))
            .collect(),
    })
}

#[server(prefix = "/rpc", endpoint = "incidents/reports")]
pub async fn incident_reports(months: u32) -> Result<ReportView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = ssr_impl::tz_of(&actor);
    let r = svc.incidents().incident_report_stats(&actor, months).await?;
    let fmt = |c: &services::incidents::reports::Cell| {
        let d = |v: Option<i64>| v.map_or_else(|| "—".to_owned(), short_duration);
        (c.count, d(c.mtta_ms), d(c.mttr_ms))
    };
    Ok(ReportView {
        rows: r
            .months
            .iter()
            .zip(&r.cells)
            .map(|(m, cells)| ReportRow {
                month: m.clone(),
                cells: cells.iter().map(fmt).collect(),
            })
            .collect(),
        totals: r.totals.iter().map(fmt).collect(),
        overdue: r
            .overdue
            .iter()
            .map(|o| OverdueRow {
                code: o.code.clone(),
                title: o.title.clone(),
                severity: o.severity,
                due: services::incidents::format_minute(o.due_ms, tz),
                status: o.status.map_or("not started", |s| s.as_str()).to_owned(),
            })
            .collect(),
        count_svg: r.count_svg,
        mtta_svg: r.mtta_svg,
        mttr_svg: r.mttr_svg,
    })
}

/// Who was paged for the incident, when, how, and who acknowledged (viewer).
#[server(prefix = "/rpc", endpoint = "incidents/paging")]
pub async fn incident_paging(
    code: String,
) -> Result<Vec<crate::features::oncall::server_fns::EscalationRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let list = svc.incidents().incident_paging(&actor, &code).await?;
    Ok(crate::features::oncall::server_fns::ssr_impl::escalation_rows(
        &list,
        ssr_impl::tz_of(&actor),
    ))
}

/// What "page more" can page: escalation policies, schedules (their on-call) and people.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PagingChoices {
    pub policies: Vec<crate::features::oncall::server_fns::Option2>,
    pub schedules: Vec<crate::features::oncall::server_fns::Option2>,
    pub people: Vec<crate::features::oncall::server_fns::Option2>,
}

#[server(prefix = "/rpc", endpoint = "incidents/page_targets")]
pub async fn page_targets() -> Result<PagingChoices, AppError> {
    use crate::features::oncall::server_fns::Option2;
    let (svc, actor) = crate::session::ssr::door().await?;
    let policies = svc.oncall().policies(&actor).await?;
    let schedules = svc.oncall().schedules(&actor).await?;
    let people = svc.incidents().people(&actor).await?;
    Ok(PagingChoices {
        policies: policies
            .into_iter()
            .map(|p| Option2 { id: p.policy.id, name: p.policy.spec.name })
            .collect(),
        schedules: schedules.into_iter().map(|s| Option2 { id: s.id, name: s.name }).collect(),
        people: people.into_iter().map(|p| Option2 { id: p.id, name: p.name }).collect(),
    })
}

/// Pages more people for the incident (responder): `policy:ID` through another
/// escalation policy, `schedule:ID` its on-call, `user:ID` one person — the last two with
/// the channels of the policy that pages the incident.
#[server(prefix = "/rpc", endpoint = "incidents/page_more")]
pub async fn page_more(code: String, target: String) -> Result<bool, AppError> {
    use domain::oncall::escalation::Target;
    let (svc, actor) = crate::session::ssr::door().await?;
    let bad =
        || AppError::from(services::ServiceError::invalid("target", "pick someone from the list"));
    let (kind, id) = target.split_once(':').ok_or_else(bad)?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    let (policy, target) = match kind {
        "policy" => (Some(id), None),
        "schedule" => (None, Some(Target::Schedule(id))),
        "user" => (None, Some(Target::User(id))),
        _ => return Err(bad()),
    };
    Ok(svc.incidents().page_more(&actor, &code, policy, target).await?)
}
