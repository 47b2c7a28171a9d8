//! The postmortem (事故复盘报告, seed 003 §2.5.3): every section of the template, its review
//! states, and action items (immediate `AI-NNN`, long-term `LI-NNN`) tracked to done.

use crate::errors::FieldErrors;
use serde::{Deserialize, Serialize};

/// Draft → in review → published (and back to draft for corrections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PmStatus {
    Draft,
    InReview,
    Published,
}

impl PmStatus {
    pub const ALL: [PmStatus; 3] = [PmStatus::Draft, PmStatus::InReview, PmStatus::Published];

    pub fn as_str(self) -> &'static str {
        match self {
            PmStatus::Draft => "draft",
            PmStatus::InReview => "in_review",
            PmStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<PmStatus> {
        PmStatus::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Allowed moves: draft → in review → published; in review or published → draft.
    pub fn check(self, to: PmStatus) -> Result<(), String> {
        use PmStatus::*;
        match (self, to) {
            (Draft, InReview) | (InReview, Published) | (InReview, Draft) | (Published, Draft) => {
                Ok(())
            }
            (Draft, Published) => Err("send the postmortem for review before publishing".into()),
            (a, b) if a == b => Err(format!("the postmortem is already {}", a.as_str())),
            (a, b) => {
                Err(format!("cannot move a postmortem from {} to {}", a.as_str(), b.as_str()))
            }
        }
    }
}

/// One row of the postmortem's timeline (filled from the incident, then edited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmTimelineRow {
    pub at_ms: i64,
    pub event: String,
    pub owner: String,
}

/// Contributing factors by fishbone category (人、机、料、法、环、测).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fishbone {
    pub people: String,
    pub machines: String,
    pub materials: String,
    pub methods: String,
    pub environment: String,
    pub measurement: String,
}

impl Fishbone {
    /// (field name, English label, Chinese label, text).
    pub fn categories(&self) -> [(&'static str, &'static str, &'static str, &str); 6] {
        [
            ("people", "People", "人", &self.people),
            ("machines", "Machines", "机", &self.machines),
            ("materials", "Materials", "料", &self.materials),
            ("methods", "Methods", "法", &self.methods),
            ("environment", "Environment", "环", &self.environment),
            ("measurement", "Measurement", "测", &self.measurement),
        ]
    }
}

/// Every section of the template. List sections are one item per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postmortem {
    pub timeline: Vec<PmTimelineRow>,
    pub direct_cause: String,
    /// The problem the 5 whys start from.
    pub problem: String,
    /// Up to five answers, "why 1" first.
    pub whys: Vec<String>,
    pub root_cause: String,
    pub factors: Fishbone,
    /// Business impact.
    pub users_affected: Option<u64>,
    pub revenue_lost: String,
    pub complaints: Option<u64>,
    pub business_other: String,
    /// Technical impact.
    pub services_affected: String,
    pub data_impact: String,
    /// Brand impact.
    pub negative_mentions: Option<u64>,
    pub churn_risk: String,
    /// Handling.
    pub measures: String,
    pub fix: String,
    pub verification: String,
    /// Lessons.
    pub went_well: String,
    pub went_badly: String,
    /// Plans.
    pub plan_technical: String,
    pub plan_process: String,
    pub plan_tooling: String,
    pub plan_training: String,
    /// Appendix links.
    pub links_logs: String,
    pub links_docs: String,
    pub links_alerts: String,
}

pub const MAX_WHYS: usize = 5;

/// The non-empty lines of a list section.
pub fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

impl Postmortem {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.whys.len() > MAX_WHYS {
            e.add("whys", format!("at most {MAX_WHYS} whys"));
        }
        for (i, row) in self.timeline.iter().enumerate() {
            if row.event.trim().is_empty() {
                e.required(&format!("timeline[{i}].event"));
            }
        }
        for w in self.timeline.windows(2) {
            if w[1].at_ms < w[0].at_ms {
                e.add("timeline", "rows must be in time order");
                break;
            }
        }
        let long = [
            ("direct_cause", &self.direct_cause),
            ("root_cause", &self.root_cause),
            ("measures", &self.measures),
            ("fix", &self.fix),
            ("verification", &self.verification),
            ("went_well", &self.went_well),
            ("went_badly", &self.went_badly),
        ];
        for (f, v) in long {
            if v.chars().count() > super::TEXT_MAX {
                e.too_long(f, super::TEXT_MAX);
            }
        }
        for (f, v) in [
            ("links_logs", &self.links_logs),
            ("links_docs", &self.links_docs),
            ("links_alerts", &self.links_alerts),
        ] {
            for l in lines(v) {
                let url = l.rsplit_once(' ').map_or(l, |(_, u)| u);
                if !(url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with('/'))
                {
                    e.add(
                        f,
                        format!(
                            "`{l}` is not a link: use http(s)://… (a title may come before it)"
                        ),
                    );
                    break;
                }
            }
        }
        e.into_result()
    }

    /// What publishing needs: the causes and at least one lesson, so a published
    /// postmortem is never an empty shell.
    pub fn check_publishable(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.direct_cause.trim().is_empty() {
            e.add("direct_cause", "is required to publish");
        }
        if self.root_cause.trim().is_empty() && self.whys.iter().all(|w| w.trim().is_empty()) {
            e.add("root_cause", "is required to publish (or answer the whys)");
        }
        e.into_result()
    }
}

/// Immediate (`AI-NNN`) or long-term (`LI-NNN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Immediate,
    LongTerm,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Immediate => "immediate",
            ActionKind::LongTerm => "long_term",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        [ActionKind::Immediate, ActionKind::LongTerm].into_iter().find(|k| k.as_str() == s.trim())
    }

    pub fn prefix(self) -> &'static str {
        match self {
            ActionKind::Immediate => "AI",
            ActionKind::LongTerm => "LI",
        }
    }

    /// `AI-001`.
    pub fn code(self, seq: u32) -> String {
        format!("{}-{seq:03}", self.prefix())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Todo,
    InProgress,
    Done,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 3] =
        [ActionStatus::Todo, ActionStatus::InProgress, ActionStatus::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Todo => "todo",
            ActionStatus::InProgress => "in_progress",
            ActionStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<ActionStatus> {
        ActionStatus::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// As the seed's template writes it.
    pub fn zh(self) -> &'static str {
        match self {
            ActionStatus::Todo => "待开始",
            ActionStatus::InProgress => "进行中",
            ActionStatus::Done => "已完成",
        }
    }
}

/// An action item as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub kind: ActionKind,
    pub description: String,
    pub owner_user_id: Option<i64>,
    /// `YYYY-MM-DD` (the owner's deadline, a calendar day).
    pub due_date: String,
    pub status: ActionStatus,
}

/// Checks `YYYY-MM-DD` as a real calendar day.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) =
        (s[0..4].parse::<i32>(), s[5..7].parse::<u32>(), s[8..10].parse::<u32>())
    else {
        return false;
    };
    if !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

impl ActionSpec {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let d = self.description.trim();
        if d.is_empty() {
            e.required("description");
        } else if d.chars().count() > 1000 {
            e.too_long("description", 1000);
        }
        if self.owner_user_id.is_none() {
            e.add("owner", "is required: every action item has an owner");
        }
        if !valid_date(self.due_date.trim()) {
            e.add("due_date", "must be a date like 2026-12-01");
        }
        e.into_result()
    }
}

/// Overdue: not done and the due day is before `today` (both `YYYY-MM-DD`, which order
/// as text).
pub fn action_overdue(status: ActionStatus, due_date: &str, today: &str) -> bool {
    status != ActionStatus::Done && due_date < today
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_states() {
        use PmStatus::*;
        let table = [
            (Draft, InReview, true),
            (Draft, Published, false),
            (InReview, Published, true),
            (InReview, Draft, true),
            (Published, Draft, true),
            (Published, InReview, false),
            (Draft, Draft, false),
        ];
        for (a, b, ok) in table {
            assert_eq!(a.check(b).is_ok(), ok, "{a:?} → {b:?}");
        }
    }

    #[test]
    fn action_items() {
        assert_eq!(ActionKind::Immediate.code(1), "AI-001");
        assert_eq!(ActionKind::LongTerm.code(12), "LI-012");
        let mut a = ActionSpec {
            kind: ActionKind::Immediate,
            description: "Add a load test".into(),
            owner_user_id: Some(1),
            due_date: "2026-02-30".into(),
            status: ActionStatus::Todo,
        };
        assert_eq!(
            a.validate().unwrap_err().get("due_date"),
            Some("must be a date like 2026-12-01")
        );
        a.due_date = "2028-02-29".into();
        assert!(a.validate().is_ok());
        a.owner_user_id = None;
        assert!(a.validate().unwrap_err().get("owner").is_some());
        assert!(action_overdue(ActionStatus::Todo, "2026-11-25", "2026-11-26"));
        assert!(!action_overdue(ActionStatus::Todo, "2026-11-26", "2026-11-26"));
        assert!(!action_overdue(ActionStatus::Done, "2026-11-01", "2026-11-26"));
    }

    #[test]
    fn postmortem_checks() {
        let mut pm = Postmortem {
            whys: vec!["a".into(); 6],
            links_docs: "runbook https://wiki/x\nnot a link".into(),
            ..Postmortem::default()
        };
        let e = pm.validate().unwrap_err();
        assert!(e.get("whys").is_some());
        assert!(e.get("links_docs").is_some_and(|m| m.contains("not a link")));
        pm.whys.truncate(5);
        pm.links_docs = "runbook https://wiki/x".into();
        assert!(pm.validate().is_ok());
        let e = pm.check_publishable().unwrap_err();
        assert!(e.get("direct_cause").is_some());
        pm.direct_cause = "AI service overloaded".into();
        assert!(pm.check_publishable().is_ok(), "the whys count as a root cause");
    }
}
