//! The scheduler of digests and reminders (SPEC, "The response loop"), in the reporting
//! time zone: the daily digest of the digest routes (P3 by default) at 10:00; postmortems
//! coming due within 24 h and overdue (daily); overdue action items (daily, per owner);
//! the weekly incident review on Monday 10:00. It runs in the engine loop, so on one
//! replica at a time (the lease). Reminders are routed like alerts (labels `source =
//! "reminder"`, the incident's level), so a team points them where it wants in the tree.
//!
//! Never twice: each message's idempotency key is what it is about, the day and the
//! channel, and the outbox skips a key it already has — a restart, a second tick or a
//! replica that takes over re-runs the same slot harmlessly. A slot missed while no
//! replica ran is caught up within 12 hours, then left.

use super::channels::{Addressee, ChannelKind};
use super::dispatch::NotifyAlert;
use super::policy::{self, Policy};
use crate::events::{local_day, local_time_ms};
use crate::{Caller, Result, ServiceError};
use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use domain::alerting::routing::{ScheduleSettings, ScheduleSlot};
use domain::alerting::{Labels, Severity};
use domain::incident::postmortem::ActionStatus;
use domain::incident::{response_ms, EntryKind};
use domain::Permission;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use store::incidents::{ActionFilter, IncidentFilter};
use store::notify::{ChannelRow, NewDelivery};

/// Where the settings live (`settings` table).
const SETTINGS_KEY: &str = "schedule";

/// A missed slot is sent this long after its time, not later.
pub const CATCH_UP_MS: i64 = 12 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The latest `at` (on `weekday`, when given) at or before `now` in `tz`, if it is at most
/// [`CATCH_UP_MS`] ago: its local day and instant.
pub fn due_slot(
    now_ms: i64,
    tz: Tz,
    at: NaiveTime,
    weekday: Option<Weekday>,
) -> Option<(i32, i64)> {
    let today = local_day(now_ms, tz);
    let back = |day: i32| -> i32 {
        match weekday {
            None => day,
            Some(w) => {
                // Day 0 (1970-01-01) was a Thursday.
                let wd = (day + 3).rem_euclid(7) as u32;
                day - (wd as i32 - w.num_days_from_monday() as i32).rem_euclid(7)
            }
        }
    };
    let at_of = |day: i32| local_time_ms(day, tz, at);
    let mut day = back(today);
    if at_of(day) > now_ms {
        day = back(day - 1);
    }
    let t = at_of(day);
    (now_ms - t <= CATCH_UP_MS).then_some((day, t))
}

fn key_of(what: &str, channel_id: i64) -> String {
    hex::encode(&Sha256::digest(format!("{what}#{channel_id}").as_bytes())[..16])
}

/// What one scheduler pass queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleReport {
    pub digests: usize,
    pub postmortems: usize,
    pub action_items: usize,
    pub weekly: usize,
    /// Incidents whose response deadline passed without a response (escalated, IC told).
    pub deadlines: usize,
    /// Deliveries queued (0 when the slot's messages were already queued).
    pub enqueued: usize,
}

/// The channels a message with these labels goes to, as delivery picks them; `digest`
/// keeps only digest routes (the daily digest), otherwise every route counts.
fn routed<'c>(
    p: &Policy,
    channels: &'c [ChannelRow],
    labels: &Labels,
    digest: bool,
) -> Vec<&'c ChannelRow> {
    let mut out: Vec<&ChannelRow> = Vec::new();
    for r in p.routes_for(labels).into_iter().filter(|r| !digest || r.digest) {
        for c in policy::pick_channels(channels, &r.channels, |c| (&c.name, c.enabled)).0 {
            if !out.iter().any(|x| x.id == c.id) {
                out.push(c);
            }
        }
    }
    out
}

fn reminder_labels(name: &str, severity: Severity, extra: &[(&str, &str)]) -> Labels {
    let mut l = Labels::new();
    l.insert("alertname".into(), name.into());
    l.insert("severity".into(), severity.as_str().into());
    l.insert("source".into(), "reminder".into());
    for (k, v) in extra {
        l.insert((*k).into(), (*v).into());
    }
    l
}

/// One scheduler pass: the tree and channels it routes with, and what it queues.
struct Pass {
    policy: Policy,
    channels: Vec<ChannelRow>,
    tz: Tz,
    out: Vec<NewDelivery>,
}

/// A due slot: its local day as `YYYY-MM-DD`, and its instant.
struct Slot {
    date: String,
    at: i64,
}

/// One scheduled message: its key (what it is about, and when), its kind in the outbox,
/// its text, and the person it is addressed to, if any.
struct Note<'a> {
    what: String,
    tag: &'static str,
    severity: Severity,
    subject: String,
    text: String,
    person: Option<&'a Addressee>,
}

impl Pass {
    /// Queues a note to wherever the tree sends these labels.
    fn remind(&mut self, labels: &Labels, note: &Note<'_>) {
        let to = routed(&self.policy, &self.channels, labels, false);
        queue(&mut self.out, &to, note);
    }
}

/// Queues one note to `channels`, addressed to its person (mailed to them, mentioned in
/// Feishu, named to a webhook) when it has one.
fn queue(out: &mut Vec<NewDelivery>, channels: &[&ChannelRow], n: &Note<'_>) {
    for c in channels {
        let Some(kind) = ChannelKind::parse(&c.kind) else { continue };
        let key = key_of(&n.what, c.id);
        let mut body = super::text_body(kind, &n.subject, &n.text, &key, n.tag);
        if let Some(p) = n.person {
            super::channels::address(kind, &mut body, p);
        }
        out.push(NewDelivery {
            payload: body.to_string(),
            idempotency_key: key,
            channel_id: c.id,
            channel_name: c.name.clone(),
            group_key: n.what.clone(),
            kind: n.tag.to_owned(),
            severity: n.severity.as_str().to_owned(),
        });
    }
}

impl crate::Notify<'_> {
    /// One pass of the scheduler (the engine runs it every tick): queues what is due now
    /// and was not queued before.
    pub async fn run_schedule(&self) -> Result<ScheduleReport> {
        let now = self.now_ms();
        let tz = self.events().reporting_tz();
        let settings = self.settings_in_force().await?;
        let mut report = ScheduleReport::default();
        let due = |s: &ScheduleSlot, weekday: Option<Weekday>| {
            let (h, m) = s.hour_minute().filter(|_| s.on)?;
            due_slot(now, tz, NaiveTime::from_hms_opt(h, m, 0)?, weekday)
        };
        let slot =
            |(day, at): (i32, i64)| Slot { date: domain::kpi::calendar::format_day(day), at };
        let digest = due(&settings.digest, None).map(slot);
        let postmortems = due(&settings.postmortems, None).map(slot);
        let actions = due(&settings.action_items, None).map(slot);
        let weekly = due(&settings.weekly, Some(Weekday::Mon)).map(slot);
        // Open incidents still `detecting` after their response deadline (every pass, not
        // at a slot: a deadline is minutes).
        let mut missed: Vec<store::incidents::Incident> = Vec::new();
        if settings.deadlines {
            missed = self
                .store
                .incidents(&IncidentFilter {
                    open: Some(true),
                    limit: 5000,
                    ..IncidentFilter::default()
                })
                .await?
                .into_iter()
                .filter(|i| {
                    i.log.responded_ms().is_none()
                        && now >= i.log.detected_ms() + response_ms(i.fields.severity)
                })
                .collect();
        }
        if [&digest, &postmortems, &actions, &weekly].iter().all(|s| s.is_none())
            && missed.is_empty()
        {
            return Ok(report);
        }
        let mut pass = Pass {
            policy: self.policy_in_force().await?.0,
            channels: self.store.channels().await?,
            tz,
            out: Vec::new(),
        };
        if let Some(s) = &digest {
            report.digests = self.queue_digest(&mut pass, s).await?;
        }
        if let Some(s) = &postmortems {
            report.postmortems = self.queue_postmortems(&mut pass, s).await?;
        }
        if let Some(s) = &actions {
            report.action_items = self.queue_action_items(&mut pass, s).await?;
        }
        if let Some(s) = &weekly {
            report.weekly = self.queue_weekly(&mut pass, s, &settings.weekly_channel).await?;
        }
        report.deadlines = self.queue_missed_deadlines(&mut pass, &missed).await?;
        if !pass.out.is_empty() {
            report.enqueued = self.store.apply_dispatch(&[], &pass.out, now).await?;
        }
        Ok(report)
    }

    /// The scheduler's settings (viewer).
    pub async fn schedule_settings(&self, actor: &Caller) -> Result<ScheduleSettings> {
        actor.require(Permission::ViewAlerts)?;
        self.settings_in_force().await
    }

    async fn settings_in_force(&self) -> Result<ScheduleSettings> {
        match self.store.setting(SETTINGS_KEY).await? {
            None => Ok(ScheduleSettings::default()),
            Some(doc) => serde_json::from_str(&doc)
                .map_err(|e| ServiceError::Internal(format!("corrupt schedule settings: {e}"))),
        }
    }

    /// Changes the scheduler's settings (editors of routing), audited; errors name the
    /// field (`digest.at`, `weekly_channel`).
    pub async fn set_schedule_settings(&self, actor: &Caller, s: &ScheduleSettings) -> Result<()> {
        actor.require(Permission::EditRouting)?;
        s.validate()?;
        let channel = s.weekly_channel.trim();
        if !channel.is_empty() && !self.store.channels().await?.iter().any(|c| c.name == channel) {
            return Err(ServiceError::invalid(
                "weekly_channel",
                format!("no channel is named {channel:?}"),
            ));
        }
        let s = ScheduleSettings { weekly_channel: channel.to_owned(), ..s.clone() };
        let doc = serde_json::to_string(&s).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(self.store.put_setting_audited(SETTINGS_KEY, &doc, &self.audit_ctx(actor)).await?)
    }

    /// The digest: alerts on digest routes firing now or fired in the 24 h before the
    /// slot, one message per channel. Returns how many alerts it lists.
    async fn queue_digest(&self, pass: &mut Pass, slot: &Slot) -> Result<usize> {
        let rules = self.store.rules_with_state().await?;
        let mut lines: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut listed = 0;
        let mut add = |a: &NotifyAlert, line: String| {
            if !seen.insert((a.fingerprint.clone(), a.starts_at_ms)) {
                return;
            }
            let to = routed(&pass.policy, &pass.channels, &a.labels, true);
            if to.is_empty() {
                return;
            }
            listed += 1;
            for c in to {
                lines.entry(c.id).or_default().push(line.clone());
            }
        };
        for a in self.notify_alerts_of(&rules).await?.iter().filter(|a| a.firing) {
            let since = crate::timefmt::format_ms(a.starts_at_ms, pass.tz.name());
            add(
                a,
                format!(
                    "• [{}] {} — firing since {since} {}",
                    a.severity.as_str(),
                    a.rule_name,
                    a.summary
                ),
            );
        }
        let history = self
            .store
            .alert_history(&store::alerting::HistoryQuery {
                to: Some(Some(domain::alerting::AlertState::Firing)),
                from_ms: Some(slot.at - DAY_MS),
                to_ms: Some(slot.at),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        for h in history {
            let labels = match rules.iter().find(|r| Some(r.rule.id) == h.rule_id) {
                Some(r) => r.rule.spec.alert_labels(&h.labels),
                None => h.labels.clone(),
            };
            let a = NotifyAlert {
                fingerprint: super::alert_fingerprint(h.rule_id.unwrap_or(0), &h.labels),
                rule_id: h.rule_id,
                rule_name: h.rule_name.clone(),
                labels,
                severity: h.severity,
                firing: true,
                value: String::new(),
                threshold: None,
                summary: String::new(),
                runbook_url: String::new(),
                starts_at_ms: h.at_ms,
                ends_at_ms: None,
                acknowledged: false,
            };
            let when = crate::timefmt::format_ms(h.at_ms, pass.tz.name());
            add(&a, format!("• [{}] {} — fired {when}", h.severity.as_str(), h.rule_name));
        }
        let date = &slot.date;
        for (id, ls) in lines {
            let Some(c) = pass.channels.iter().find(|c| c.id == id) else { continue };
            let subject = format!("Vigil daily digest {date}: {} alerts", ls.len());
            let text = format!("{subject}\n{}\nConsole: {}/alerts", ls.join("\n"), self.public_url);
            let note = Note {
                what: format!("digest:{date}"),
                tag: "digest",
                severity: Severity::P3,
                subject,
                text,
                person: None,
            };
            queue(&mut pass.out, &[c], &note);
        }
        Ok(listed)
    }

    /// Everyone a reminder can be addressed to: the active users with their contacts.
    async fn addressees(&self) -> Result<Vec<Addressee>> {
        let contacts = self.store.contacts().await?;
        let people = self.incidents().people_directory().await?;
        Ok(people
            .into_iter()
            .map(|p| {
                let c = contacts.iter().find(|c| c.user_id == p.id);
                Addressee {
                    user_id: p.id,
                    name: p.name,
                    email: p.email,
                    feishu_id: c.map(|c| c.feishu_id.clone()).unwrap_or_default(),
                    phone: c.map(|c| c.phone.clone()).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Incidents past their response deadline with nobody responding (still
    /// `detecting`): their paging moves to the next step now, the timeline says so, and
    /// the incident commander is told — once per incident and detection.
    async fn queue_missed_deadlines(
        &self,
        pass: &mut Pass,
        missed: &[store::incidents::Incident],
    ) -> Result<usize> {
        if missed.is_empty() {
            return Ok(0);
        }
        let people = self.addressees().await?;
        for i in missed {
            let sev = i.fields.severity;
            let detected = i.log.detected_ms();
            let what = format!("deadline:{}:{detected}", i.code);
            let prefix = crate::incidents::paging::runs_prefix(&i.code);
            if let Some(n) = self.store.hurry_runs_once(&what, &prefix, self.now_ms()).await? {
                let body = format!(
                    "Response deadline ({}) passed with no response: {}",
                    domain::alerting::format_duration(response_ms(sev)),
                    if n > 0 {
                        "paging escalated to the next step"
                    } else {
                        "nobody is being paged"
                    }
                );
                let entry = store::incidents::NewEntry {
                    at_ms: self.now_ms(),
                    kind: EntryKind::Paging,
                    body,
                };
                let ctx = store::AuditCtx::system("scheduler", self.now_ms());
                self.store.add_timeline_entries(i, &[entry], &ctx).await?;
            }
            let commander = i.commander().and_then(|id| people.iter().find(|x| x.user_id == id));
            let ic = commander.map_or("no incident commander yet".to_owned(), |x| x.name.clone());
            let labels = reminder_labels("Response deadline missed", sev, &[("incident", &i.code)]);
            let subject = format!(
                "[{}] {} has had no response for {}",
                sev.as_str(),
                i.code,
                domain::alerting::format_duration(response_ms(sev))
            );
            let text = format!(
                "{subject}: {}\nIncident commander: {ic}\nPaging moves to its next step now.\n{}/incidents/{}",
                i.fields.title, self.public_url, i.code
            );
            let note =
                Note { what, tag: "reminder", severity: sev, subject, text, person: commander };
            pass.remind(&labels, &note);
        }
        Ok(missed.len())
    }

    /// Postmortems not published whose due time is within 24 h after the slot (due
    /// soon) or before it (overdue): one reminder a day each, naming the incident
    /// commander.
    async fn queue_postmortems(&self, pass: &mut Pass, slot: &Slot) -> Result<usize> {
        let people = self.addressees().await?;
        let date = &slot.date;
        let mut n = 0;
        for o in self.incidents().postmortems_outstanding().await? {
            let (i, due) = (&o.incident, o.due_ms);
            let sev = i.fields.severity;
            let at = slot.at;
            let when = if due <= at {
                format!("overdue by {} day(s)", (at - due) / DAY_MS + 1)
            } else if due - at <= DAY_MS {
                format!("due in {} h", (due - at + 3_599_999) / 3_600_000)
            } else {
                continue;
            };
            let commander = i.commander().and_then(|id| people.iter().find(|x| x.user_id == id));
            let owner = commander.map_or("no incident commander".to_owned(), |x| x.name.clone());
            let labels = reminder_labels("Postmortem due", sev, &[("incident", &i.code)]);
            let subject = format!("[{}] Postmortem of {} {when}", sev.as_str(), i.code);
            let text = format!(
                "{subject}: {}\nOwner: {owner}\n{}/incidents/{}/postmortem",
                i.fields.title, self.public_url, i.code
            );
            let note = Note {
                what: format!("postmortem:{}:{date}", i.code),
                tag: "reminder",
                severity: sev,
                subject,
                text,
                person: commander,
            };
            pass.remind(&labels, &note);
            n += 1;
        }
        Ok(n)
    }

    /// Action items not done and due before the slot's day: one reminder a day per owner.
    async fn queue_action_items(&self, pass: &mut Pass, slot: &Slot) -> Result<usize> {
        let date = &slot.date;
        let items = self
            .store
            .action_items(&ActionFilter {
                overdue_on: Some(date.clone()),
                open_only: true,
                ..ActionFilter::default()
            })
            .await?;
        let people = self.addressees().await?;
        let mut by_owner: BTreeMap<Option<i64>, Vec<String>> = BTreeMap::new();
        for a in items.iter().filter(|a| a.status != ActionStatus::Done) {
            by_owner.entry(a.owner_user_id).or_default().push(format!(
                "• {} ({}): {} — due {}",
                a.code, a.incident_code, a.description, a.due_date
            ));
        }
        for (owner, lines) in &by_owner {
            let person = owner.and_then(|id| people.iter().find(|x| x.user_id == id));
            let name = person.map_or("no owner".to_owned(), |x| x.name.clone());
            let labels = reminder_labels("Action items overdue", Severity::P2, &[("owner", &name)]);
            let subject = format!("{} overdue action item(s) for {name}", lines.len());
            let text = format!("{subject}\n{}\n{}/action-items", lines.join("\n"), self.public_url);
            let what = format!("actions:{}:{date}", owner.unwrap_or(0));
            let note =
                Note { what, tag: "reminder", severity: Severity::P2, subject, text, person };
            pass.remind(&labels, &note);
        }
        Ok(items.len())
    }

    /// The weekly review: the 7 days before the slot — incidents by level, MTTA and MTTR,
    /// open and overdue action items.
    async fn queue_weekly(&self, pass: &mut Pass, slot: &Slot, channel: &str) -> Result<usize> {
        let incidents = self
            .store
            .incidents(&IncidentFilter {
                from_ms: Some(slot.at - 7 * DAY_MS),
                limit: 5000,
                ..IncidentFilter::default()
            })
            .await?;
        let incidents: Vec<_> =
            incidents.into_iter().filter(|i| i.created_at_ms < slot.at).collect();
        let mut by_level = [0usize; 4];
        let (mut tta, mut ttr) = (Vec::new(), Vec::new());
        for i in &incidents {
            by_level[i.fields.severity as usize] += 1;
            let (a, r) = domain::incident::response_times(&i.log);
            tta.extend(a);
            ttr.extend(r);
        }
        let mean = |v: &[i64]| -> String {
            if v.is_empty() {
                "—".into()
            } else {
                crate::incidents::reports::minutes_label(
                    v.iter().sum::<i64>() as f64 / v.len() as f64 / 60_000.0,
                )
            }
        };
        let date = &slot.date;
        let open = self
            .store
            .action_items(&ActionFilter { open_only: true, ..ActionFilter::default() })
            .await?;
        let overdue = open.iter().filter(|a| a.due_date.as_str() < date.as_str()).count();
        let from = crate::timefmt::format_ms(slot.at - 7 * DAY_MS, pass.tz.name());
        let subject = format!("Vigil weekly incident review, week to {date}");
        let text = format!(
            "{subject}\nSince {from}: {} incidents (P0 {}, P1 {}, P2 {}, P3 {})\nMTTA {} · MTTR {}\nAction items open: {} ({} overdue)\n{}/incidents/reports",
            incidents.len(),
            by_level[0],
            by_level[1],
            by_level[2],
            by_level[3],
            mean(&tta),
            mean(&ttr),
            open.len(),
            overdue,
            self.public_url
        );
        let labels = reminder_labels("Weekly incident review", Severity::P2, &[]);
        let note = Note {
            what: format!("weekly:{date}"),
            tag: "weekly",
            severity: Severity::P2,
            subject,
            text,
            person: None,
        };
        if channel.is_empty() {
            pass.remind(&labels, &note);
        } else {
            // The chosen channel (if it was deleted or disabled since, nobody).
            let to: Vec<&ChannelRow> =
                pass.channels.iter().filter(|c| c.enabled && c.name == channel).collect();
            queue(&mut pass.out, &to, &note);
        }
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
            .timestamp_millis()
    }

    #[test]
    fn slots_are_local_times_caught_up_for_12_hours() {
        let ten = NaiveTime::from_hms_opt(10, 0, 0).expect("time");
        let sh: Tz = "Asia/Shanghai".parse().expect("tz");
        // 10:00 in Shanghai is 02:00Z.
        assert_eq!(
            due_slot(at("2026-12-07T01:59:59Z"), sh, ten, None),
            None,
            "yesterday's is 24 h old"
        );
        let (day, t) = due_slot(at("2026-12-07T02:00:00Z"), sh, ten, None).expect("due");
        assert_eq!(
            (domain::kpi::calendar::format_day(day), t),
            ("2026-12-07".to_owned(), at("2026-12-07T02:00:00Z"))
        );
        assert!(due_slot(at("2026-12-07T14:00:00Z"), sh, ten, None).is_some(), "12 h after");
        assert_eq!(due_slot(at("2026-12-07T14:00:01Z"), sh, ten, None), None);
        // Weekly on Monday: 2026-12-07 is a Monday; on Tuesday there is none.
        let mon = Some(Weekday::Mon);
        assert_eq!(
            due_slot(at("2026-12-07T03:00:00Z"), sh, ten, mon).map(|s| s.1),
            Some(at("2026-12-07T02:00:00Z"))
        );
        assert_eq!(due_slot(at("2026-12-08T03:00:00Z"), sh, ten, mon), None);
        // Across a DST change: 10:00 in New York is 15:00Z in winter, 14:00Z in summer.
        let ny: Tz = "America/New_York".parse().expect("tz");
        assert_eq!(
            due_slot(at("2026-11-02T15:30:00Z"), ny, ten, None).map(|s| s.1),
            Some(at("2026-11-02T15:00:00Z"))
        );
        assert_eq!(
            due_slot(at("2026-10-30T14:30:00Z"), ny, ten, None).map(|s| s.1),
            Some(at("2026-10-30T14:00:00Z"))
        );
    }
}
