//! Incidents (SPEC §3, seed 003): severities and their clocks, the status machine with its
//! timestamp ordering, response roles, the response-timeline checklist, and input rules.
//! Pure: every function that needs the time takes it.

pub mod postmortem;

pub use crate::alerting::Severity;
use crate::errors::FieldErrors;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Response deadline after detection (seed 003 §1.2): P0 30 min, P1 1 h, P2 4 h, P3 24 h.
pub fn response_ms(sev: Severity) -> i64 {
    match sev {
        Severity::P0 => 30 * MINUTE_MS,
        Severity::P1 => HOUR_MS,
        Severity::P2 => 4 * HOUR_MS,
        Severity::P3 => DAY_MS,
    }
}

/// Minimum monitoring after recovery before resolving (seed 003 §2.4.2, the lower bounds).
pub fn monitoring_ms(sev: Severity) -> i64 {
    match sev {
        Severity::P0 => 4 * HOUR_MS,
        Severity::P1 => 2 * HOUR_MS,
        Severity::P2 => HOUR_MS,
        Severity::P3 => 30 * MINUTE_MS,
    }
}

/// Postmortem due after resolution (seed 003 §2.5.1): P0 24 h, P1 48 h, P2 1 week, P3 2 weeks.
pub fn postmortem_due_ms(sev: Severity) -> i64 {
    match sev {
        Severity::P0 => DAY_MS,
        Severity::P1 => 2 * DAY_MS,
        Severity::P2 => 7 * DAY_MS,
        Severity::P3 => 14 * DAY_MS,
    }
}

/// Whether closing needs a published postmortem (P0–P2).
pub fn postmortem_required(sev: Severity) -> bool {
    sev != Severity::P3
}

/// The close rule: a P0–P2 incident is closed only once its postmortem is published. The
/// message names the rule.
pub fn check_close(sev: Severity, postmortem_published: bool) -> Result<(), String> {
    if postmortem_required(sev) && !postmortem_published {
        return Err(format!(
            "closing a {} incident requires a published postmortem (P0–P2 incidents are closed after their postmortem is published)",
            sev.as_str()
        ));
    }
    Ok(())
}

/// Incident status (seed 003 §2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 检测中: just found, being assessed.
    Detecting,
    /// 调查中: looking for the cause.
    Investigating,
    /// 修复中: cause found, fixing.
    Fixing,
    /// 监控中: fixed, watching.
    Monitoring,
    /// 已解决.
    Resolved,
    /// 已关闭: postmortem done, archived.
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Detecting,
        Status::Investigating,
        Status::Fixing,
        Status::Monitoring,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detecting => "detecting",
            Status::Investigating => "investigating",
            Status::Fixing => "fixing",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Still being worked on (not resolved or closed).
    pub fn is_open(self) -> bool {
        self < Status::Resolved
    }

    /// The statuses this one may move to, in the order a UI offers them.
    pub fn next(self) -> Vec<Status> {
        Status::ALL.into_iter().filter(|to| check_transition(self, *to).is_ok()).collect()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `from → to` is allowed, with the reason when not.
///
/// Open statuses move forward freely (a quick rollback may go from investigating straight
/// to monitoring) and may step back to investigating or fixing when a fix did not hold,
/// never back to detecting. `resolved` is reached from monitoring only (the recovery is
/// watched first), `closed` from resolved only, and a resolved incident reopens to
/// investigating. A closed incident is final.
pub fn check_transition(from: Status, to: Status) -> Result<(), String> {
    use Status::*;
    if from == to {
        return Err(format!("the incident is already {from}"));
    }
    let ok = match (from, to) {
        (Closed, _) => return Err("a closed incident cannot change status".into()),
        (_, Detecting) => false,
        (Resolved, Investigating) | (Resolved, Closed) => true,
        (Resolved, _) => false,
        (_, Closed) => return Err("close a resolved incident (resolve it first)".into()),
        (Monitoring, Resolved) => true,
        (_, Resolved) => {
            return Err("resolve from monitoring: watch the recovery before resolving".into())
        }
        // Open → open: forward, or back to investigating/fixing.
        (f, t) => t > f || matches!(t, Investigating | Fixing),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("cannot move from {from} to {to}"))
    }
}

/// A response role (seed 003 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentRole {
    Commander,
    TechLead,
    CommsLead,
    Engineer,
    Ops,
    Dba,
}

impl IncidentRole {
    pub const ALL: [IncidentRole; 6] = [
        IncidentRole::Commander,
        IncidentRole::TechLead,
        IncidentRole::CommsLead,
        IncidentRole::Engineer,
        IncidentRole::Ops,
        IncidentRole::Dba,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentRole::Commander => "commander",
            IncidentRole::TechLead => "tech_lead",
            IncidentRole::CommsLead => "comms_lead",
            IncidentRole::Engineer => "engineer",
            IncidentRole::Ops => "ops",
            IncidentRole::Dba => "dba",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentRole> {
        IncidentRole::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// English label, as the report and the timeline write it.
    pub fn label(self) -> &'static str {
        match self {
            IncidentRole::Commander => "Incident commander",
            IncidentRole::TechLead => "Tech lead",
            IncidentRole::CommsLead => "Comms lead",
            IncidentRole::Engineer => "Engineers",
            IncidentRole::Ops => "Ops",
            IncidentRole::Dba => "DBA",
        }
    }

    /// Held by one person (the leads); the others take a list.
    pub fn single(self) -> bool {
        matches!(self, IncidentRole::Commander | IncidentRole::TechLead | IncidentRole::CommsLead)
    }
}

/// Who holds which role: user ids per role.
pub type Roles = BTreeMap<IncidentRole, Vec<i64>>;

/// Checks a role assignment: leads are one person each, no duplicates within a role.
pub fn validate_roles(roles: &Roles) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    for (role, users) in roles {
        if role.single() && users.len() > 1 {
            e.add(role.as_str(), format!("{} is one person", role.label()));
        }
        let mut seen = users.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != users.len() {
            e.add(role.as_str(), "a person is listed twice");
        }
    }
    e.into_result()
}

/// One step of the response timeline (seed 003 §2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checkpoint {
    /// 5 min: level confirmed, IC appointed.
    LevelAndCommander,
    /// 10 min: response team formed, channel set up.
    Team,
    /// 15 min: first impact assessment.
    Impact,
    /// 30 min: fix plan made, fixing started.
    FixPlan,
    /// 60 min: progress notice (P0/P1 only).
    ProgressNotice,
}

impl Checkpoint {
    pub const ALL: [Checkpoint; 5] = [
        Checkpoint::LevelAndCommander,
        Checkpoint::Team,
        Checkpoint::Impact,
        Checkpoint::FixPlan,
        Checkpoint::ProgressNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Checkpoint::LevelAndCommander => "level_and_commander",
            Checkpoint::Team => "team",
            Checkpoint::Impact => "impact",
            Checkpoint::FixPlan => "fix_plan",
            Checkpoint::ProgressNotice => "progress_notice",
        }
    }

    pub fn parse(s: &str) -> Option<Checkpoint> {
        Checkpoint::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Minutes after detection.
    pub fn offset_ms(self) -> i64 {
        MINUTE_MS
            * match self {
                Checkpoint::LevelAndCommander => 5,
                Checkpoint::Team => 10,
                Checkpoint::Impact => 15,
                Checkpoint::FixPlan => 30,
                Checkpoint::ProgressNotice => 60,
            }
    }

    /// Who does it (seed 003 §2.2.2).
    pub fn owner(self) -> IncidentRole {
        match self {
            Checkpoint::FixPlan => IncidentRole::TechLead,
            Checkpoint::ProgressNotice => IncidentRole::CommsLead,
            _ => IncidentRole::Commander,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Checkpoint::LevelAndCommander => "Confirm the level, appoint the IC",
            Checkpoint::Team => "Form the response team, open a channel",
            Checkpoint::Impact => "First impact assessment",
            Checkpoint::FixPlan => "Fix plan made, fixing started",
            Checkpoint::ProgressNotice => "Progress notice sent",
        }
    }

    pub fn applies(self, sev: Severity) -> bool {
        self != Checkpoint::ProgressNotice || matches!(sev, Severity::P0 | Severity::P1)
    }
}

/// Where a deadline stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Not done, time left.
    Pending,
    /// Not done, past due.
    Overdue,
    /// Done by the deadline.
    Met,
    /// Done, after the deadline.
    Late,
}

impl ClockState {
    pub fn of(due_ms: i64, done_ms: Option<i64>, now_ms: i64) -> ClockState {
        match done_ms {
            Some(d) if d <= due_ms => ClockState::Met,
            Some(_) => ClockState::Late,
            None if now_ms > due_ms => ClockState::Overdue,
            None => ClockState::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Pending => "pending",
            ClockState::Overdue => "overdue",
            ClockState::Met => "met",
            ClockState::Late => "late",
        }
    }
}

/// One checklist line with its due time and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub checkpoint: Checkpoint,
    pub due_ms: i64,
    pub done_ms: Option<i64>,
    pub state: ClockState,
}

/// The response-timeline checklist of an incident detected at `detected_ms`.
pub fn checklist(
    sev: Severity,
    detected_ms: i64,
    done: &BTreeMap<Checkpoint, i64>,
    now_ms: i64,
) -> Vec<ChecklistItem> {
    Checkpoint::ALL
        .into_iter()
        .filter(|c| c.applies(sev))
        .map(|c| {
            let due_ms = detected_ms + c.offset_ms();
            let done_ms = done.get(&c).copied();
            ChecklistItem {
                checkpoint: c,
                due_ms,
                done_ms,
                state: ClockState::of(due_ms, done_ms, now_ms),
            }
        })
        .collect()
}

/// The status history of an incident: when it entered each status, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusLog(pub Vec<(Status, i64)>);

impl StatusLog {
    pub fn new(detected_ms: i64) -> StatusLog {
        StatusLog(vec![(Status::Detecting, detected_ms)])
    }

    pub fn current(&self) -> Status {
        self.0.last().map_or(Status::Detecting, |(s, _)| *s)
    }

    pub fn detected_ms(&self) -> i64 {
        self.0.first().map_or(0, |(_, t)| *t)
    }

    /// When the current status was entered.
    pub fn since_ms(&self) -> i64 {
        self.0.last().map_or(0, |(_, t)| *t)
    }

    /// The first time the incident left `detecting` (acknowledged: the response started).
    pub fn responded_ms(&self) -> Option<i64> {
        self.0.get(1).map(|(_, t)| *t)
    }

    /// The last time it entered `s` (after the last reopen).
    pub fn last_entered(&self, s: Status) -> Option<i64> {
        self.0.iter().rev().find(|(x, _)| *x == s).map(|(_, t)| *t)
    }

    /// When it was resolved, if resolved or closed now.
    pub fn resolved_ms(&self) -> Option<i64> {
        (!self.current().is_open()).then(|| self.last_entered(Status::Resolved)).flatten()
    }

    pub fn closed_ms(&self) -> Option<i64> {
        (self.current() == Status::Closed).then(|| self.last_entered(Status::Closed)).flatten()
    }

    /// Checks and appends a status change at `at_ms` (recorded at `now_ms`). The rules:
    /// the transition is allowed, the time is not before the previous change (so never
    /// before detection) nor in the future, and resolving waits out the severity's
    /// monitoring period unless `override_reason` says why not.
    pub fn change(
        &mut self,
        sev: Severity,
        to: Status,
        at_ms: i64,
        now_ms: i64,
        override_reason: Option<&str>,
    ) -> Result<(), FieldErrors> {
        let from = self.current();
        let mut e = FieldErrors::new();
        if let Err(m) = check_transition(from, to) {
            e.add("status", m);
            return Err(e);
        }
        let (prev_status, prev_at) = self.0.last().copied().unwrap_or((Status::Detecting, 0));
        if at_ms < self.detected_ms() {
            e.add("at", format!("{to} time must not be before the detection time"));
        } else if at_ms < prev_at {
            e.add("at", format!("{to} time must not be before the {prev_status} time"));
        }
        // A minute of slack for clocks that disagree a little.
        if at_ms > now_ms + MINUTE_MS {
            e.in_the_future("at");
        }
        if to == Status::Resolved && e.is_empty() {
            let watched = at_ms - prev_at;
            let needed = monitoring_ms(sev);
            let reason = override_reason.map(str::trim).unwrap_or("");
            if watched < needed && reason.is_empty() {
                e.add(
                    "override_reason",
                    format!(
                        "{} incidents are monitored for at least {} before resolving ({} so far); give a reason to resolve early",
                        sev.as_str(),
                        crate::alerting::format_duration(needed),
                        crate::alerting::format_duration(watched.max(0) / MINUTE_MS * MINUTE_MS),
                    ),
                );
            }
        }
        e.into_result()?;
        self.0.push((to, at_ms));
        Ok(())
    }

    /// Checks that a log read from elsewhere is consistent (allowed steps, times in order).
    pub fn validate(&self) -> Result<(), String> {
        let Some((first, _)) = self.0.first() else {
            return Err("empty status history".into());
        };
        if *first != Status::Detecting {
            return Err("the status history must start with detecting".into());
        }
        for w in self.0.windows(2) {
            check_transition(w[0].0, w[1].0)?;
            if w[1].1 < w[0].1 {
                return Err(format!("{} time is before the {} time", w[1].0, w[0].0));
            }
        }
        Ok(())
    }
}

/// The SLA clocks of an incident at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    pub response_due_ms: i64,
    pub responded_ms: Option<i64>,
    pub response: ClockState,
    /// While monitoring: when resolving is allowed without an override.
    pub monitoring_until_ms: Option<i64>,
    /// Once resolved: when the postmortem is due.
    pub postmortem_due_ms: Option<i64>,
}

pub fn sla(sev: Severity, log: &StatusLog, now_ms: i64) -> Sla {
    let detected = log.detected_ms();
    let response_due_ms = detected + response_ms(sev);
    let responded_ms = log.responded_ms();
    Sla {
        response_due_ms,
        responded_ms,
        response: ClockState::of(response_due_ms, responded_ms, now_ms),
        monitoring_until_ms: (log.current() == Status::Monitoring)
            .then(|| log.since_ms() + monitoring_ms(sev)),
        postmortem_due_ms: log.resolved_ms().map(|r| r + postmortem_due_ms(sev)),
    }
}

/// The text fields of an incident, as declared and edited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFields {
    pub title: String,
    pub severity: Severity,
    /// 影响范围: affected features/users.
    pub impact_scope: String,
    /// 影响评估 / 用户影响: what users experience.
    pub user_impact: String,
    /// 事故描述.
    pub description: String,
    /// 已采取的措施.
    pub measures_taken: String,
    /// 需要支持.
    pub support_needed: String,
    /// 联系方式 of the reporter (phone, Feishu).
    pub contact: String,
}

pub const TITLE_MAX: usize = 200;
pub const TEXT_MAX: usize = 20_000;

impl IncidentFields {
    pub fn normalized(mut self) -> IncidentFields {
        for s in [
            &mut self.title,
            &mut self.impact_scope,
            &mut self.user_impact,
            &mut self.description,
            &mut self.measures_taken,
            &mut self.support_needed,
            &mut self.contact,
        ] {
            *s = s.trim().to_owned();
        }
        self
    }

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let title = self.title.trim();
        if title.is_empty() {
            e.add("title", "is required: say in a few words what is wrong");
        } else if title.chars().count() > TITLE_MAX {
            e.too_long("title", TITLE_MAX);
        }
        for (field, v) in [
            ("impact_scope", &self.impact_scope),
            ("user_impact", &self.user_impact),
            ("description", &self.description),
            ("measures_taken", &self.measures_taken),
            ("support_needed", &self.support_needed),
        ] {
            if v.chars().count() > TEXT_MAX {
                e.too_long(field, TEXT_MAX);
            }
        }
        if self.contact.chars().count() > 200 {
            e.too_long("contact", 200);
        }
        e.into_result()
    }
}

/// `INC-20260214-001`.
pub fn incident_key(date_yyyymmdd: &str, seq: u32) -> String {
    format!("INC-{date_yyyymmdd}-{seq:03}")
}

/// A timeline entry's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Declared,
    Status,
    Severity,
    Role,
    Alert,
    Checklist,
    Note,
    Report,
    Postmortem,
    Edit,
    /// People paged for the incident, or paging ended.
    Paging,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Declared => "declared",
            EntryKind::Status => "status",
            EntryKind::Severity => "severity",
            EntryKind::Role => "role",
            EntryKind::Alert => "alert",
            EntryKind::Checklist => "checklist",
            EntryKind::Note => "note",
            EntryKind::Report => "report",
            EntryKind::Postmortem => "postmortem",
            EntryKind::Edit => "edit",
            EntryKind::Paging => "paging",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        use EntryKind::*;
        [Declared, Status, Severity, Role, Alert, Checklist, Note, Report, Postmortem, Edit, Paging]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Checks a manual note: text required, the event time not before detection nor in the
/// future.
pub fn validate_note(
    text: &str,
    at_ms: i64,
    detected_ms: i64,
    now_ms: i64,
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if text.trim().is_empty() {
        e.required("text");
    } else if text.chars().count() > TEXT_MAX {
        e.too_long("text", TEXT_MAX);
    }
    if at_ms > now_ms + MINUTE_MS {
        e.in_the_future("at");
    }
    // Notes may describe what happened shortly before detection (the first symptoms),
    // but not days before.
    if at_ms < detected_ms - DAY_MS {
        e.add("at", "must be at most a day before the detection time");
    }
    e.into_result()
}

/// MTTA and MTTR inputs of one incident: (acknowledged after, resolved after) in ms.
pub fn response_times(log: &StatusLog) -> (Option<i64>, Option<i64>) {
    let d = log.detected_ms();
    (log.responded_ms().map(|t| t - d), log.resolved_ms().map(|t| t - d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn transitions_table() {
        // (from, to, allowed)
        let table = [
            (Detecting, Investigating, true),
            (Detecting, Fixing, true),
            (Detecting, Monitoring, true),
            (Detecting, Resolved, false),
            (Detecting, Closed, false),
            (Investigating, Fixing, true),
            (Investigating, Detecting, false),
            (Fixing, Monitoring, true),
            (Fixing, Investigating, true),
            (Monitoring, Resolved, true),
            (Monitoring, Fixing, true),
            (Monitoring, Investigating, true),
            (Monitoring, Closed, false),
            (Resolved, Closed, true),
            (Resolved, Investigating, true),
            (Resolved, Fixing, false),
            (Resolved, Monitoring, false),
            (Closed, Investigating, false),
            (Closed, Resolved, false),
            (Fixing, Fixing, false),
        ];
        for (from, to, ok) in table {
            assert_eq!(
                check_transition(from, to).is_ok(),
                ok,
                "{from} → {to}: {:?}",
                check_transition(from, to)
            );
        }
        assert_eq!(
            check_transition(Fixing, Resolved).unwrap_err(),
            "resolve from monitoring: watch the recovery before resolving"
        );
        assert_eq!(
            check_transition(Closed, Investigating).unwrap_err(),
            "a closed incident cannot change status"
        );
        assert_eq!(Resolved.next(), vec![Investigating, Closed]);
        assert!(Closed.next().is_empty());
    }

    #[test]
    fn clocks_by_severity() {
        let table = [
            (Severity::P0, 30, 240, 24 * 60),
            (Severity::P1, 60, 120, 48 * 60),
            (Severity::P2, 240, 60, 7 * 24 * 60),
            (Severity::P3, 24 * 60, 30, 14 * 24 * 60),
        ];
        for (sev, resp, mon, pm) in table {
            assert_eq!(response_ms(sev), resp * MINUTE_MS, "{sev:?}");
            assert_eq!(monitoring_ms(sev), mon * MINUTE_MS, "{sev:?}");
            assert_eq!(postmortem_due_ms(sev), pm * MINUTE_MS, "{sev:?}");
        }
        assert!(postmortem_required(Severity::P2));
        assert!(!postmortem_required(Severity::P3));
        assert!(check_close(Severity::P1, false)
            .unwrap_err()
            .starts_with("closing a P1 incident requires a published postmortem"));
        assert!(check_close(Severity::P1, true).is_ok());
        assert!(check_close(Severity::P3, false).is_ok());
    }

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn status_changes_keep_time_order() {
        let mut log = StatusLog::new(T0);
        let now = T0 + 10 * HOUR_MS;
        log.change(Severity::P1, Investigating, T0 + 5 * MINUTE_MS, now, None).expect("ok");
        // Before the previous change.
        let e = log.change(Severity::P1, Fixing, T0 + 4 * MINUTE_MS, now, None).unwrap_err();
        assert_eq!(e.get("at"), Some("fixing time must not be before the investigating time"));
        // Before detection.
        let e = log.change(Severity::P1, Fixing, T0 - 1, now, None).unwrap_err();
        assert_eq!(e.get("at"), Some("fixing time must not be before the detection time"));
        // In the future.
        let e = log.change(Severity::P1, Fixing, now + 2 * MINUTE_MS, now, None).unwrap_err();
        assert_eq!(e.get("at"), Some("must not be in the future"));
        // Not allowed.
        let e = log.change(Severity::P1, Resolved, T0 + HOUR_MS, now, None).unwrap_err();
        assert!(e.get("status").is_some());
        assert_eq!(log.current(), Investigating, "nothing appended on errors");
        log.change(Severity::P1, Fixing, T0 + 20 * MINUTE_MS, now, None).expect("ok");
        log.change(Severity::P1, Monitoring, T0 + HOUR_MS, now, None).expect("ok");
        // P1 monitors 2 h: resolving after 1 h needs a reason.
        let e = log.change(Severity::P1, Resolved, T0 + 2 * HOUR_MS, now, None).unwrap_err();
        assert!(
            e.get("override_reason")
                .is_some_and(|m| m.contains("at least 2h") && m.contains("1h so far")),
            "{e}"
        );
        log.change(Severity::P1, Resolved, T0 + 2 * HOUR_MS, now, Some("verified by load test"))
            .expect("override");
        assert_eq!(log.resolved_ms(), Some(T0 + 2 * HOUR_MS));
        assert_eq!(log.responded_ms(), Some(T0 + 5 * MINUTE_MS));
        assert_eq!(response_times(&log), (Some(5 * MINUTE_MS), Some(2 * HOUR_MS)));
        // Reopen and resolve again after a full monitoring period.
        log.change(Severity::P1, Investigating, T0 + 3 * HOUR_MS, now, None).expect("reopen");
        assert_eq!(log.resolved_ms(), None);
        log.change(Severity::P1, Monitoring, T0 + 4 * HOUR_MS, now, None).expect("ok");
        log.change(Severity::P1, Resolved, T0 + 6 * HOUR_MS, now, None).expect("2 h watched");
        assert_eq!(log.resolved_ms(), Some(T0 + 6 * HOUR_MS));
        log.change(Severity::P1, Closed, T0 + 7 * HOUR_MS, now, None).expect("close");
        assert_eq!(log.closed_ms(), Some(T0 + 7 * HOUR_MS));
        assert!(log.validate().is_ok());
        let bad = StatusLog(vec![(Detecting, T0), (Resolved, T0 + 1)]);
        assert!(bad.validate().is_err());
        let backwards = StatusLog(vec![(Detecting, T0), (Investigating, T0 - 1)]);
        assert!(backwards.validate().is_err());
    }

    #[test]
    fn checklist_due_times_and_states() {
        let mut done = BTreeMap::new();
        done.insert(Checkpoint::LevelAndCommander, T0 + 3 * MINUTE_MS);
        done.insert(Checkpoint::Team, T0 + 12 * MINUTE_MS);
        let now = T0 + 20 * MINUTE_MS;
        let items = checklist(Severity::P1, T0, &done, now);
        let got: Vec<(Checkpoint, i64, ClockState)> =
            items.iter().map(|i| (i.checkpoint, (i.due_ms - T0) / MINUTE_MS, i.state)).collect();
        assert_eq!(
            got,
            vec![
                (Checkpoint::LevelAndCommander, 5, ClockState::Met),
                (Checkpoint::Team, 10, ClockState::Late),
                (Checkpoint::Impact, 15, ClockState::Overdue),
                (Checkpoint::FixPlan, 30, ClockState::Pending),
                (Checkpoint::ProgressNotice, 60, ClockState::Pending),
            ]
        );
        // P2/P3: no progress notice.
        assert_eq!(checklist(Severity::P2, T0, &done, now).len(), 4);
    }

    #[test]
    fn sla_clocks() {
        let mut log = StatusLog::new(T0);
        let s = sla(Severity::P0, &log, T0 + 31 * MINUTE_MS);
        assert_eq!(s.response_due_ms, T0 + 30 * MINUTE_MS);
        assert_eq!(s.response, ClockState::Overdue);
        log.change(Severity::P0, Monitoring, T0 + 20 * MINUTE_MS, T0 + HOUR_MS, None).expect("ok");
        let s = sla(Severity::P0, &log, T0 + HOUR_MS);
        assert_eq!(s.response, ClockState::Met);
        assert_eq!(s.monitoring_until_ms, Some(T0 + 20 * MINUTE_MS + 4 * HOUR_MS));
        assert_eq!(s.postmortem_due_ms, None);
        log.change(Severity::P0, Resolved, T0 + 5 * HOUR_MS, T0 + 5 * HOUR_MS, None)
            .expect("watched 4h40m");
        let s = sla(Severity::P0, &log, T0 + 5 * HOUR_MS);
        assert_eq!(s.postmortem_due_ms, Some(T0 + 29 * HOUR_MS));
        assert_eq!(s.monitoring_until_ms, None);
    }

    #[test]
    fn fields_and_roles_are_checked() {
        let f = IncidentFields {
            title: "  ".into(),
            description: "x".repeat(TEXT_MAX + 1),
            ..IncidentFields::default()
        };
        let e = f.validate().unwrap_err();
        assert!(e.get("title").is_some());
        assert!(e.get("description").is_some());
        let mut roles = Roles::new();
        roles.insert(IncidentRole::Commander, vec![1, 2]);
        roles.insert(IncidentRole::Engineer, vec![3, 3]);
        let e = validate_roles(&roles).unwrap_err();
        assert_eq!(e.get("commander"), Some("Incident commander is one person"));
        assert_eq!(e.get("engineer"), Some("a person is listed twice"));
        assert_eq!(incident_key("20260214", 1), "INC-20260214-001");
        assert!(validate_note("", T0, T0, T0).is_err());
        assert!(validate_note("restarted", T0 - HOUR_MS, T0, T0).is_ok());
        assert!(validate_note("x", T0 + HOUR_MS, T0, T0).is_err());
    }
}
