//! The routing editor's view of the tree, shared by the server and the browser (the
//! tree itself, with its regular expressions, lives in `services::notify`).

use serde::{Deserialize, Serialize};

/// One route as the editor's form shows and sends it: text fields, empty = inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteForm {
    /// `severity="P0", team=~"db|infra"`.
    pub matchers: String,
    /// Channel names; empty: the parent's (on the root: every enabled channel).
    pub channels: Vec<String>,
    pub escalation_policy_id: Option<i64>,
    /// Label names, comma separated.
    pub group_by: String,
    pub group_wait: String,
    pub group_interval: String,
    /// Empty: the parent's, or the severity's default (P0 1 min … P3 1 h).
    pub repeat_interval: String,
    #[serde(rename = "continue")]
    pub continue_: bool,
    /// Into the daily digest instead of at once.
    #[serde(default)]
    pub digest: bool,
}

/// A route of the tree, flattened for display (depth-first order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    pub path: String,
    pub depth: usize,
    pub first: bool,
    pub last: bool,
    pub form: RouteForm,
}

/// A structural change from the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteOp {
    /// Appends an empty child route (matches everything until given matchers).
    AddChild,
    Delete,
    Up,
    Down,
}

impl RouteOp {
    pub fn parse(s: &str) -> Option<RouteOp> {
        Some(match s {
            "add_child" => RouteOp::AddChild,
            "delete" => RouteOp::Delete,
            "up" => RouteOp::Up,
            "down" => RouteOp::Down,
            _ => return None,
        })
    }
}

/// The routing editor's page: the tree, what its forms can pick, and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingView {
    pub version: i64,
    /// Version 0: nothing saved yet, the SPEC's default tree is in force.
    pub rows: Vec<RouteRow>,
    /// Every channel: name, enabled.
    pub channels: Vec<(String, bool)>,
    /// Escalation policies: id, name.
    pub policies: Vec<(i64, String)>,
}

/// Where the tester's labels go: one route that takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHit {
    pub path: String,
    pub matchers: String,
    /// The channels that would receive it (after the fallback to every enabled channel).
    pub channels: Vec<String>,
    /// The route named channels of which none exists: every enabled channel receives it.
    pub fell_back: bool,
    pub escalation_policy: Option<String>,
    /// `alertname="X", service="chat"`: the labels its group is keyed by.
    pub group: String,
    pub group_wait: String,
    pub group_interval: String,
    /// The repeat interval, or the severity's default.
    pub repeat_interval: String,
}

/// What the tester found for a set of labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTest {
    pub hits: Vec<RouteHit>,
    /// Active silences whose matchers take these labels (id, comment).
    pub silenced_by: Vec<(i64, String)>,
}

/// One scheduled message: on or off, and its local time (`HH:MM`, reporting time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSlot {
    pub on: bool,
    pub at: String,
}

impl ScheduleSlot {
    fn ten() -> Self {
        ScheduleSlot { on: true, at: "10:00".into() }
    }

    /// Hours and minutes of `at`, when it is a time of day.
    pub fn hour_minute(&self) -> Option<(u32, u32)> {
        let (h, m) = self.at.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && self.at.trim().len() == 5).then_some((h, m))
    }
}

/// The scheduler's settings (SPEC: each reminder on/off with its time). The response
/// deadline has no time: it is checked continuously.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSettings {
    pub digest: ScheduleSlot,
    pub postmortems: ScheduleSlot,
    pub action_items: ScheduleSlot,
    /// On Mondays.
    pub weekly: ScheduleSlot,
    /// A channel name for the weekly review; empty: where the routing tree sends it.
    #[serde(default)]
    pub weekly_channel: String,
    pub deadlines: bool,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            digest: ScheduleSlot::ten(),
            postmortems: ScheduleSlot::ten(),
            action_items: ScheduleSlot::ten(),
            weekly: ScheduleSlot::ten(),
            weekly_channel: String::new(),
            deadlines: true,
        }
    }
}

impl ScheduleSettings {
    /// Errors name the field (`digest.at`, …).
    pub fn validate(&self) -> Result<(), crate::FieldErrors> {
        let mut e = crate::FieldErrors::new();
        for (name, s) in [
            ("digest", &self.digest),
            ("postmortems", &self.postmortems),
            ("action_items", &self.action_items),
            ("weekly", &self.weekly),
        ] {
            if s.hour_minute().is_none() {
                e.add(&format!("{name}.at"), "a time of day as HH:MM, e.g. 10:00");
            }
        }
        if self.weekly_channel.chars().count() > 80 {
            e.add("weekly_channel", "at most 80 characters");
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_times_are_hh_mm() {
        let mut s = ScheduleSettings::default();
        assert!(s.validate().is_ok());
        assert_eq!(s.digest.hour_minute(), Some((10, 0)));
        s.digest.at = "9:30".into();
        s.weekly.at = "24:00".into();
        s.postmortems.at = "08:60".into();
        let e = s.validate().expect_err("bad times");
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["digest.at", "postmortems.at", "weekly.at"]);
    }
}
