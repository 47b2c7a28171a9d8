//! On-call server functions: resolve the caller, one services call (which checks the role),
//! results formatted in the caller's time zone. The schedule timeline's geometry (bar
//! offsets and widths in percent) is computed here so the browser only draws it.

use crate::error::AppError;
use domain::oncall::escalation::{NotifyRule, PolicySpec};
use domain::oncall::ScheduleSpec;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Option2 {
    pub id: i64,
    pub name: String,
}

/// Someone on call, formatted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoRow {
    pub user_id: i64,
    pub name: String,
    pub phone: String,
    pub from: String,
    pub until: String,
    pub by_override: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub now: Option<WhoRow>,
    pub next: Option<WhoRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftRow {
    pub schedule_id: i64,
    pub schedule: String,
    pub start: String,
    pub end: String,
    pub now: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRow {
    pub name: String,
    pub method: String,
    pub status: String,
    pub at: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationRow {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub policy: String,
    pub started: String,
    /// `open`, `acknowledged`, `resolved` or `exhausted`.
    pub state: String,
    pub acked_by: String,
    pub step: String,
    pub pages: Vec<PageRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Per step: "Primary on-call (on call), Sun Li · 5 min".
    pub steps: Vec<String>,
    pub repeat: u32,
    pub channels: Vec<String>,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub schedules: Vec<ScheduleRow>,
    pub my_shifts: Vec<ShiftRow>,
    pub escalations: Vec<EscalationRow>,
    pub policies: Vec<PolicyRow>,
    pub time_zone: String,
}

/// One bar of a timeline row, placed in percent of the shown range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub left: f64,
    pub width: f64,
    pub label: String,
    pub title: String,
    /// Colour slot (by person) or `gap` / `override`.
    pub class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub label: String,
    pub hint: String,
    pub bars: Vec<Bar>,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCol {
    pub label: String,
    pub weekend: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideView {
    pub id: i64,
    pub who: String,
    pub replaces: String,
    pub start: String,
    pub end: String,
    pub note: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleTimeline {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub schedule_tz: String,
    pub viewer_tz: String,
    /// `YYYY-MM-DD` of the first day shown, and of the ranges before and after.
    pub from: String,
    pub prev: String,
    pub next: String,
    pub days: Vec<DayCol>,
    pub rows: Vec<TimelineRow>,
    /// Where "now" is, in percent, when inside the range.
    pub now_pct: Option<f64>,
    pub now: Option<WhoRow>,
    pub overrides: Vec<OverrideView>,
    pub people: Vec<Option2>,
    pub feed_made: Option<String>,
    /// Defaults for the override form: the next full hour and 8 hours later.
    pub default_start: String,
    pub default_end: String,
}

/// The schedule editor's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleDraft {
    pub version: i64,
    pub spec: ScheduleSpec,
    pub people: Vec<Option2>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDraft {
    pub version: i64,
    pub spec: PolicySpec,
    pub people: Vec<Option2>,
    pub schedules: Vec<Option2>,
    pub channels: Vec<Option2>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactData {
    pub phone: String,
    pub feishu_id: String,
    pub rules: Vec<NotifyRule>,
    pub email: String,
    pub time_zone: String,
    pub feed_made: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeOncallData {
    pub schedules: Vec<ScheduleRow>,
    pub paging: Vec<EscalationRow>,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr_impl {
    use super::*;
    use chrono_tz::Tz;
    use domain::oncall::{Shift, Source, DAY_MS};
    use services::incidents::format_minute;
    use services::oncall::{EscalationView, OnCall, ScheduleSummary};
    use std::collections::BTreeMap;

    pub use crate::features::incidents::server_fns::ssr_impl::tz_of;

    pub fn who(o: &OnCall, tz: Tz) -> WhoRow {
        WhoRow {
            user_id: o.user_id,
            name: o.name.clone(),
            phone: o.phone.clone(),
            from: format_minute(o.start_ms, tz),
            until: format_minute(o.end_ms, tz),
            by_override: o.by_override,
        }
    }

    pub fn schedule_rows(list: &[ScheduleSummary], tz: Tz) -> Vec<ScheduleRow> {
        list.iter()
            .map(|s| ScheduleRow {
                id: s.id,
                name: s.name.clone(),
                description: s.description.clone(),
                time_zone: s.time_zone.clone(),
                now: s.now.as_ref().map(|o| who(o, tz)),
                next: s.next.as_ref().map(|o| who(o, tz)),
            })
            .collect()
    }

    pub fn escalation_rows(list: &[EscalationView], tz: Tz) -> Vec<EscalationRow> {
        list.iter()
            .map(|v| {
                let e = &v.escalation;
                let state = if e.acked_at_ms.is_some() {
                    "acknowledged"
                } else if e.resolved_at_ms.is_some() {
                    "resolved"
                } else if e.next_at_ms.is_none() {
                    "exhausted"
                } else {
                    "open"
                };
                EscalationRow {
                    id: e.id,
                    title: e.title.clone(),
                    severity: e.severity.clone(),
                    policy: v.policy_name.clone(),
                    started: format_minute(e.started_at_ms, tz),
                    state: state.into(),
                    acked_by: e
                        .acked_at_ms
                        .map(|at| {
                            format!(
                                "{} · {}",
                                e.acked_by.clone().unwrap_or_default(),
                                format_minute(at, tz)
                            )
                        })
                        .unwrap_or_default(),
                    step: format!("{}/{}", e.fired, v.steps_total),
                    pages: v
                        .pages
                        .iter()
                        .map(|p| PageRow {
                            name: p.name.clone(),
                            method: p.page.method.clone(),
                            status: p.page.status.clone(),
                            at: format_minute(p.page.sent_at_ms.unwrap_or(p.page.due_at_ms), tz),
                            detail: p.page.detail.clone(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Local midnight of the day `date` (`YYYY-MM-DD`) in `tz`, or today's.
    pub fn day_start(date: &str, tz: Tz, now: i64) -> i64 {
        let d = if date.trim().is_empty() {
            services::timefmt::format_in(now, tz, "%Y-%m-%d").unwrap_or_default()
        } else {
            date.trim().to_owned()
        };
        services::incidents::parse_local_minute(&format!("{d} 00:00"), tz)
            .or_else(|_| {
                let today = services::timefmt::format_in(now, tz, "%Y-%m-%d").unwrap_or_default();
                services::incidents::parse_local_minute(&format!("{today} 00:00"), tz)
            })
            .unwrap_or(now)
    }

    pub fn bars(
        shifts: &[Shift],
        from: i64,
        to: i64,
        names: &BTreeMap<i64, String>,
        slots: &BTreeMap<i64, usize>,
        tz: Tz,
    ) -> Vec<Bar> {
        let span = (to - from) as f64;
        shifts
            .iter()
            .map(|s| {
                let name = s
                    .user_id
                    .map(|u| names.get(&u).cloned().unwrap_or_else(|| format!("user {u}")))
                    .unwrap_or_default();
                let class = match (s.user_id, s.source) {
                    (None, _) => "gap".to_owned(),
                    (Some(_), Source::Override(_)) => "override".to_owned(),
                    (Some(u), _) => format!("p{}", slots.get(&u).copied().unwrap_or(0) % 8),
                };
                Bar {
                    left: (s.start_ms - from) as f64 / span * 100.0,
                    width: (s.end_ms - s.start_ms) as f64 / span * 100.0,
                    title: format!(
                        "{} · {} → {}",
                        if name.is_empty() { "—".to_owned() } else { name.clone() },
                        format_minute(s.start_ms, tz),
                        format_minute(s.end_ms, tz)
                    ),
                    label: name,
                    class,
                }
            })
            .collect()
    }

    pub fn days(from: i64, n: i64, tz: Tz) -> Vec<DayCol> {
        (0..n)
            .map(|i| {
                // Noon of the day avoids DST edges when naming it.
                let t = from + i * DAY_MS + DAY_MS / 2;
                let wd = services::timefmt::format_in(t, tz, "%u").unwrap_or_default();
                DayCol {
                    label: services::timefmt::format_in(t, tz, "%a %m-%d").unwrap_or_default(),
                    weekend: wd == "6" || wd == "7",
                }
            })
            .collect()
    }

    pub fn option_people(p: &[services::incidents::Person]) -> Vec<Option2> {
        p.iter().map(|p| Option2 { id: p.id, name: p.name.clone() }).collect()
    }
}

/// The on-call page: schedules with who is on call, my shifts, escalations, policies.
#[server(prefix = "/rpc", endpoint = "oncall/overview")]
pub async fn oncall_overview() -> Result<Overview, AppError> {
    use ssr_impl::*;
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = tz_of(&actor);
    let now = svc.now_ms();
    let list = svc.oncall().schedules(&actor).await?;
    let my_shifts = svc
        .oncall()
        .my_shifts(&actor, 28)
        .await?
        .into_iter()
        .map(|m| ShiftRow {
            schedule_id: m.schedule_id,
            schedule: m.schedule_name,
            start: services::incidents::format_minute(m.start_ms, tz),
            end: services::incidents::format_minute(m.end_ms, tz),
            now: m.start_ms <= now && now < m.end_ms,
        })
        .collect();
    let escalations = escalation_rows(&svc.oncall().escalations(&actor, 30).await?, tz);
    let policies = svc
        .oncall()
        .policies(&actor)
        .await?
        .into_iter()
        .map(|p| PolicyRow {
            id: p.policy.id,
            name: p.policy.spec.name.clone(),
            description: p.policy.spec.description.clone(),
            steps: p
                .policy
                .spec
                .steps
                .iter()
                .zip(&p.target_names)
                .map(|(s, names)| format!("{} · {} min", names.join(", "), s.delay_min))
                .collect(),
            repeat: p.policy.spec.repeat,
            channels: p.channel_names,
            rules: p.rules,
        })
        .collect();
    Ok(Overview {
        schedules: schedule_rows(&list, tz),
        my_shifts,
        escalations,
        policies,
        time_zone: actor.time_zone.clone(),
    })
}

/// The home page's card: who is on call now, and what is paging.
#[server(prefix = "/rpc", endpoint = "oncall/home")]
pub async fn home_oncall() -> Result<HomeOncallData, AppError> {
    use ssr_impl::*;
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = tz_of(&actor);
    let list = svc.oncall().schedules(&actor).await?;
    let paging = svc
        .oncall()
        .escalations(&actor, 1)
        .await?
        .into_iter()
        .filter(|e| e.escalation.is_open())
        .collect::<Vec<_>>();
    Ok(HomeOncallData { schedules: schedule_rows(&list, tz), paging: escalation_rows(&paging, tz) })
}

#[server(prefix = "/rpc", endpoint = "oncall/ack")]
pub async fn ack_escalation(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.oncall().ack_escalation(&actor, id).await?;
    Ok(())
}

/// A schedule's timeline for `days` days from `from` (`YYYY-MM-DD` in the viewer's zone;
/// empty: today).
#[server(prefix = "/rpc", endpoint = "oncall/schedule")]
pub async fn schedule_data(
    id: i64,
    from: String,
    n_days: i64,
) -> Result<ScheduleTimeline, AppError> {
    use domain::oncall::DAY_MS;
    use services::incidents::format_minute;
    use ssr_impl::*;
    use std::collections::BTreeMap;
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = tz_of(&actor);
    let now = svc.now_ms();
    let n = if n_days == 0 { 14 } else { n_days.clamp(1, 28) };
    let start = day_start(&from, tz, now);
    let v = svc.oncall().schedule_view(&actor, id, start, n).await?;
    let names: BTreeMap<i64, String> = v.people.iter().map(|p| (p.id, p.name.clone())).collect();
    // A stable colour per person: the order they first appear in the layers.
    let mut slots = BTreeMap::new();
    for l in &v.schedule.spec.layers {
        for p in &l.participants {
            let n = slots.len();
            slots.entry(*p).or_insert(n);
        }
    }
    let mut rows: Vec<TimelineRow> = v
        .schedule
        .spec
        .layers
        .iter()
        .zip(&v.layers)
        .enumerate()
        .rev()
        .map(|(i, (l, shifts))| TimelineRow {
            label: l.name.clone(),
            hint: format!(
                "{} {} · {}",
                i + 1,
                l.rotation.kind.as_str(),
                l.restrictions
                    .iter()
                    .map(|w| format!("{}–{}", w.start, w.end))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            bars: bars(shifts, v.from_ms, v.to_ms, &names, &slots, tz),
            kind: "layer".into(),
        })
        .collect();
    let ov_shifts: Vec<domain::oncall::Shift> = v
        .overrides
        .iter()
        .map(|o| domain::oncall::Shift {
            start_ms: o.ov.start_ms.max(v.from_ms),
            end_ms: o.ov.end_ms.min(v.to_ms),
            user_id: Some(o.ov.user_id),
            source: domain::oncall::Source::Override(o.ov.id),
        })
        .collect();
    rows.push(TimelineRow {
        label: "Overrides".into(),
        hint: String::new(),
        bars: bars(&ov_shifts, v.from_ms, v.to_ms, &names, &slots, tz),
        kind: "overrides".into(),
    });
    rows.push(TimelineRow {
        label: "Final".into(),
        hint: String::new(),
        bars: bars(&v.final_shifts, v.from_ms, v.to_ms, &names, &slots, tz),
        kind: "final".into(),
    });
    let now_row = v.on_call_now.as_ref().map(|o| who(o, tz));
    let date = |ms: i64| services::timefmt::format_in(ms, tz, "%Y-%m-%d").unwrap_or_default();
    let next_hour = (now / 3_600_000 + 1) * 3_600_000;
    let input =
        |ms: i64| services::timefmt::format_in(ms, tz, "%Y-%m-%dT%H:%M").unwrap_or_default();
    Ok(ScheduleTimeline {
        id,
        name: v.schedule.spec.name.clone(),
        description: v.schedule.spec.description.clone(),
        schedule_tz: v.schedule.spec.time_zone.clone(),
        viewer_tz: actor.time_zone.clone(),
        from: date(v.from_ms + DAY_MS / 2),
        prev: date(v.from_ms - n * DAY_MS + DAY_MS / 2),
        next: date(v.to_ms + DAY_MS / 2),
        days: days(v.from_ms, n, tz),
        rows,
        now_pct: (v.from_ms <= now && now < v.to_ms)
            .then(|| (now - v.from_ms) as f64 / (v.to_ms - v.from_ms) as f64 * 100.0),
        now: now_row,
        overrides: v
            .overrides
            .iter()
            .map(|o| OverrideView {
                id: o.ov.id,
                who: names.get(&o.ov.user_id).cloned().unwrap_or_default(),
                replaces: o.ov.replaces.and_then(|r| names.get(&r).cloned()).unwrap_or_default(),
                start: format_minute(o.ov.start_ms, tz),
                end: format_minute(o.ov.end_ms, tz),
                note: o.note.clone(),
                by: o.created_by.clone(),
            })
            .collect(),
        people: option_people(&v.people),
        feed_made: v.feed_created_at_ms.map(|t| format_minute(t, tz)),
        default_start: input(next_hour),
        default_end: input(next_hour + 8 * 3_600_000),
    })
}

/// Adds an override; times are `YYYY-MM-DDTHH:MM` in the caller's zone.
#[server(prefix = "/rpc", endpoint = "oncall/override")]
pub async fn create_override(
    schedule_id: i64,
    user_id: String,
    replaces: String,
    start: String,
    end: String,
    note: String,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = ssr_impl::tz_of(&actor);
    let mut errs = domain::FieldErrors::new();
    let mut time = |s: &str, field: &str| match services::incidents::parse_local_minute(s, tz) {
        Ok(t) => t,
        Err(m) => {
            errs.add(field, m);
            0
        }
    };
    let (start_ms, end_ms) = (time(&start, "start"), time(&end, "end"));
    let user = user_id.trim().parse::<i64>().ok();
    if user.is_none() {
        errs.add("user", "pick who is on call");
    }
    if !errs.is_empty() {
        return Err(services::ServiceError::Invalid(errs).into());
    }
    svc.oncall()
        .add_override(
            &actor,
            schedule_id,
            start_ms,
            end_ms,
            user.unwrap_or_default(),
            replaces.trim().parse().ok(),
            &note,
        )
        .await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "oncall/override-delete")]
pub async fn remove_override(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.oncall().delete_override(&actor, id).await?;
    Ok(())
}

/// A new secret calendar URL: a schedule's (`schedule_id`) or the caller's own (`0`).
#[server(prefix = "/rpc", endpoint = "oncall/feed")]
pub async fn rotate_feed(schedule_id: i64) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(if schedule_id > 0 {
        svc.oncall().rotate_feed(&actor, services::oncall::FeedKind::Schedule, schedule_id).await?
    } else {
        svc.oncall().rotate_feed(&actor, services::oncall::FeedKind::User, actor.person()?).await?
    })
}

/// A schedule for the editor (`0`: a new one with one layer).
#[server(prefix = "/rpc", endpoint = "oncall/schedule-edit")]
pub async fn schedule_edit(id: i64) -> Result<ScheduleDraft, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let people = ssr_impl::option_people(&svc.incidents().people(&actor).await?);
    if id == 0 {
        let now = svc.now_ms();
        let tz = ssr_impl::tz_of(&actor);
        let today = services::timefmt::format_in(now, tz, "%Y-%m-%d").unwrap_or_default();
        return Ok(ScheduleDraft {
            version: 0,
            spec: ScheduleSpec {
                name: String::new(),
                description: String::new(),
                time_zone: domain::oncall::DEFAULT_TIME_ZONE.into(),
                layers: vec![domain::oncall::Layer {
                    name: "Layer 1".into(),
                    participants: vec![],
                    rotation: domain::oncall::Rotation {
                        kind: domain::oncall::RotationKind::Weekly,
                        every: 1,
                        start: format!("{today}T09:00"),
                    },
                    restrictions: vec![],
                }],
            },
            people,
        });
    }
    let s = svc.oncall().schedule(&actor, id).await?;
    Ok(ScheduleDraft { version: s.version, spec: s.spec, people })
}

/// Saves a schedule (`id` 0 creates); returns its id.
#[server(prefix = "/rpc", endpoint = "oncall/schedule-save", input = Json)]
pub async fn save_schedule(id: i64, version: i64, spec: ScheduleSpec) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(if id == 0 {
        svc.oncall().create_schedule(&actor, spec).await?.id
    } else {
        svc.oncall().update_schedule(&actor, id, version, spec).await?.id
    })
}

#[server(prefix = "/rpc", endpoint = "oncall/schedule-delete")]
pub async fn delete_schedule(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.oncall().delete_schedule(&actor, id).await?;
    Ok(())
}

/// A policy for the editor (`0`: a new one) with the choices for its targets.
#[server(prefix = "/rpc", endpoint = "oncall/policy-edit")]
pub async fn policy_edit(id: i64) -> Result<PolicyDraft, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let people = ssr_impl::option_people(&svc.incidents().people(&actor).await?);
    let schedules = svc
        .oncall()
        .schedules(&actor)
        .await?
        .into_iter()
        .map(|s| Option2 { id: s.id, name: s.name })
        .collect();
    let channels = svc
        .notify()
        .list_channels(&actor)
        .await?
        .into_iter()
        .map(|c| Option2 { id: c.id, name: format!("{} ({})", c.name, c.kind) })
        .collect();
    let (version, spec) = if id == 0 {
        (
            0,
            PolicySpec {
                name: String::new(),
                description: String::new(),
                steps: vec![domain::oncall::escalation::Step { targets: vec![], delay_min: 5 }],
                repeat: 0,
                channel_ids: vec![],
            },
        )
    } else {
        let p = svc.oncall().escalation_policy(&actor, id).await?;
        (p.version, p.spec)
    };
    Ok(PolicyDraft { version, spec, people, schedules, channels })
}

#[server(prefix = "/rpc", endpoint = "oncall/policy-save", input = Json)]
pub async fn save_policy(id: i64, version: i64, spec: PolicySpec) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(if id == 0 {
        svc.oncall().create_policy(&actor, spec).await?.id
    } else {
        svc.oncall().update_policy(&actor, id, version, spec).await?.id
    })
}

#[server(prefix = "/rpc", endpoint = "oncall/policy-delete")]
pub async fn delete_policy(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.oncall().delete_policy(&actor, id).await?;
    Ok(())
}

/// Policies by name, for the rule editor's picker.
#[server(prefix = "/rpc", endpoint = "oncall/policy-options")]
pub async fn policy_options() -> Result<Vec<Option2>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc
        .oncall()
        .policies(&actor)
        .await?
        .into_iter()
        .map(|p| Option2 { id: p.policy.id, name: p.policy.spec.name })
        .collect())
}

/// The caller's contact settings.
#[server(prefix = "/rpc", endpoint = "oncall/contact")]
pub async fn my_contact() -> Result<ContactData, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let c = svc.oncall().contact(&actor, actor.person()?).await?;
    let tz = ssr_impl::tz_of(&actor);
    Ok(ContactData {
        phone: c.phone,
        feishu_id: c.feishu_id,
        rules: c.rules,
        email: c.email,
        time_zone: c.time_zone,
        feed_made: c.feed_created_at_ms.map(|t| services::incidents::format_minute(t, tz)),
    })
}

#[server(prefix = "/rpc", endpoint = "oncall/contact-save", input = Json)]
pub async fn save_my_contact(
    phone: String,
    feishu_id: String,
    rules: Vec<NotifyRule>,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.oncall().save_contact(&actor, actor.person()?, &phone, &feishu_id, rules).await?;
    Ok(())
}
