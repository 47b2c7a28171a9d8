//! The notification policy with Alertmanager's semantics, pure: label matchers, the
//! routing tree, silences and inhibition. (Here rather than in `domain` because matchers
//! use regular expressions, which must stay out of the WebAssembly bundle.)

use domain::alerting::{format_duration, parse_duration, Labels, Severity};
use domain::FieldErrors;
use serde::{Deserialize, Serialize};

/// `=`, `!=`, `=~`, `!~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "=~")]
    Re,
    #[serde(rename = "!~")]
    NotRe,
}

/// One label matcher. A missing label matches as the empty string (Alertmanager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

impl Matcher {
    /// Parses `name=value`, `name!=value`, `name=~regex`, `name!~regex` (value may be
    /// quoted).
    pub fn parse(s: &str) -> Result<Matcher, String> {
        let s = s.trim();
        let (name, op, rest) = if let Some(i) = s.find("=~") {
            (&s[..i], MatchOp::Re, &s[i + 2..])
        } else if let Some(i) = s.find("!~") {
            (&s[..i], MatchOp::NotRe, &s[i + 2..])
        } else if let Some(i) = s.find("!=") {
            (&s[..i], MatchOp::Ne, &s[i + 2..])
        } else if let Some(i) = s.find('=') {
            (&s[..i], MatchOp::Eq, &s[i + 1..])
        } else {
            return Err(format!("{s:?} is not a matcher (name=value, !=, =~ or !~)"));
        };
        let name = name.trim();
        if !domain::alerting::rule::valid_label_name(name) {
            return Err(format!("{name:?} is not a label name"));
        }
        let value = rest.trim().trim_matches('"').to_owned();
        let m = Matcher { name: name.to_owned(), op, value };
        m.regex()?;
        Ok(m)
    }

    fn regex(&self) -> Result<Option<regex::Regex>, String> {
        match self.op {
            // Anchored, as in Prometheus.
            MatchOp::Re | MatchOp::NotRe => regex::Regex::new(&format!("^(?:{})$", self.value))
                .map(Some)
                .map_err(|e| format!("bad regular expression {:?}: {e}", self.value)),
            _ => Ok(None),
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re | MatchOp::NotRe => {
                let hit = self.regex().ok().flatten().is_some_and(|r| r.is_match(v));
                (self.op == MatchOp::Re) == hit
            }
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        };
        write!(f, "{}{op}\"{}\"", self.name, self.value)
    }
}

pub fn all_match(ms: &[Matcher], labels: &Labels) -> bool {
    ms.iter().all(|m| m.matches(labels))
}

/// A node of the routing tree. Unset timings inherit from the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Route {
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Channel names; empty on the root means every enabled channel.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    #[serde(default)]
    pub group_wait_ms: Option<i64>,
    #[serde(default)]
    pub group_interval_ms: Option<i64>,
    /// `None`: the severity's default (P0 1 min, P1 5 min, P2 15 min, P3 1 h).
    #[serde(default)]
    pub repeat_interval_ms: Option<i64>,
    /// Keep matching siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// The escalation policy that pages people for alerts on this route (inherited by
    /// child routes; a rule's own policy goes first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_policy_id: Option<i64>,
    /// Collect what this route takes into the daily digest (10:00) instead of sending it
    /// as it happens (inherited; the default tree's P3 route). Escalation still applies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digest: bool,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// Inhibition: while an alert matching `source` fires, alerts matching `target` with the
/// same values of `equal` are muted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inhibit {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    #[serde(default)]
    pub equal: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub route: Route,
    #[serde(default)]
    pub inhibit: Vec<Inhibit>,
}

impl Default for Policy {
    /// The SPEC's default routing (from the seeds): P0 to the phone/SMS gateway and Feishu
    /// (red card), P1 and P2 to Feishu (orange, blue), P3 to email; grouped by rule (30 s
    /// wait, 5 min interval, repeat per severity); P3 goes out in the daily digest. Channels are named `phone`, `feishu` and
    /// `email`; a route whose channels do not exist falls back to every enabled channel, so
    /// a fresh install with one channel still hears everything. A first route for
    /// incidents (`source="incident"`, `continue`) is where their escalation policy is
    /// chosen. A firing P0 mutes P2/P3 alerts of the same service (SPEC §2).
    fn default() -> Self {
        let m =
            |name: &str, op, value: &str| Matcher { name: name.into(), op, value: value.into() };
        let level = |sev: &str, channels: &[&str]| Route {
            matchers: vec![m("severity", MatchOp::Eq, sev)],
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            ..Route::default()
        };
        Policy {
            route: Route {
                group_by: Some(vec!["alertname".into()]),
                group_wait_ms: Some(30_000),
                group_interval_ms: Some(5 * 60_000),
                routes: vec![
                    Route {
                        matchers: vec![m("source", MatchOp::Eq, "incident")],
                        continue_: true,
                        ..Route::default()
                    },
                    level("P0", &["phone", "feishu"]),
                    level("P1", &["feishu"]),
                    level("P2", &["feishu"]),
                    Route { digest: true, ..level("P3", &["email"]) },
                ],
                ..Route::default()
            },
            inhibit: vec![Inhibit {
                source_matchers: vec![m("severity", MatchOp::Eq, "P0")],
                target_matchers: vec![m("severity", MatchOp::Re, "P2|P3")],
                equal: vec!["service".into()],
            }],
        }
    }
}

/// A route's effective settings for one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Position in the tree (e.g. `0.2`), part of the group key.
    pub path: String,
    pub channels: Vec<String>,
    pub group_by: Vec<String>,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: Option<i64>,
    pub escalation_policy_id: Option<i64>,
    pub digest: bool,
}

impl Policy {
    /// The document as the policy editor shows it.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses the editor's text; the error names the line and column.
    pub fn from_json(text: &str) -> Result<Policy, String> {
        serde_json::from_str(text)
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))
    }

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        fn walk(r: &Route, path: &str, e: &mut FieldErrors) {
            for m in &r.matchers {
                if let Err(msg) = m.regex() {
                    e.add("route", format!("route {path}: {msg}"));
                }
            }
            for (name, v) in [
                ("group_wait", r.group_wait_ms),
                ("group_interval", r.group_interval_ms),
                ("repeat_interval", r.repeat_interval_ms),
            ] {
                if let Some(v) = v {
                    if !(0..=7 * 86_400_000).contains(&v) {
                        e.add("route", format!("route {path}: {name} must be between 0 and 7d"));
                    }
                }
            }
            for (i, c) in r.routes.iter().enumerate() {
                walk(c, &format!("{path}.{i}"), e);
            }
        }
        walk(&self.route, "0", &mut e);
        for (i, inh) in self.inhibit.iter().enumerate() {
            if inh.source_matchers.is_empty() || inh.target_matchers.is_empty() {
                e.add("inhibit", format!("rule {i}: source and target matchers are required"));
            }
        }
        e.into_result()
    }

    /// The routes that take an alert: depth first, a matching child instead of its parent,
    /// siblings after a match only with `continue` (Alertmanager's `Route.Match`).
    /// The escalation policy of the first route that takes an alert with these labels
    /// and names one.
    pub fn escalation_for(&self, labels: &Labels) -> Option<i64> {
        self.routes_for(labels).iter().find_map(|r| r.escalation_policy_id)
    }

    /// Escalation policies the tree names, for checking that they exist.
    pub fn escalation_policy_ids(&self) -> Vec<i64> {
        fn walk(r: &Route, out: &mut Vec<i64>) {
            out.extend(r.escalation_policy_id);
            r.routes.iter().for_each(|c| walk(c, out));
        }
        let mut out = Vec::new();
        walk(&self.route, &mut out);
        out
    }

    pub fn routes_for(&self, labels: &Labels) -> Vec<Resolved> {
        let root = Resolved {
            path: "0".into(),
            channels: self.route.channels.clone(),
            group_by: self.route.group_by.clone().unwrap_or_default(),
            group_wait_ms: self.route.group_wait_ms.unwrap_or(30_000),
            group_interval_ms: self.route.group_interval_ms.unwrap_or(5 * 60_000),
            repeat_interval_ms: self.route.repeat_interval_ms,
            escalation_policy_id: self.route.escalation_policy_id,
            digest: self.route.digest,
        };
        let mut out = Vec::new();
        walk(&self.route, &root, labels, &mut out);
        if out.is_empty() {
            out.push(root);
        }
        out
    }
}

fn walk(r: &Route, me: &Resolved, labels: &Labels, out: &mut Vec<Resolved>) {
    let mut matched_child = false;
    for (i, c) in r.routes.iter().enumerate() {
        if !all_match(&c.matchers, labels) {
            continue;
        }
        let child = Resolved {
            path: format!("{}.{i}", me.path),
            channels: if c.channels.is_empty() { me.channels.clone() } else { c.channels.clone() },
            group_by: c.group_by.clone().unwrap_or_else(|| me.group_by.clone()),
            group_wait_ms: c.group_wait_ms.unwrap_or(me.group_wait_ms),
            group_interval_ms: c.group_interval_ms.unwrap_or(me.group_interval_ms),
            repeat_interval_ms: c.repeat_interval_ms.or(me.repeat_interval_ms),
            escalation_policy_id: c.escalation_policy_id.or(me.escalation_policy_id),
            digest: c.digest || me.digest,
        };
        let before = out.len();
        walk(c, &child, labels, out);
        if out.len() == before {
            out.push(child);
        }
        matched_child = true;
        if !c.continue_ {
            break;
        }
    }
    let _ = matched_child;
}

/// The channels a message goes to: the enabled ones its route names; every enabled channel
/// when the route names none (the root) or when none of the names exists (the default
/// tree's `phone`, `feishu` and `email` before anyone made them). A named channel that
/// exists but is disabled is a choice, not a fallback. The flag says the fallback was
/// taken.
pub fn pick_channels<'a, C>(
    all: &'a [C],
    names: &[String],
    name_enabled: impl Fn(&C) -> (&str, bool),
) -> (Vec<&'a C>, bool) {
    let exists = |c: &C| names.iter().any(|n| n == name_enabled(c).0);
    let fallback = !names.is_empty() && !all.iter().any(exists);
    let picked = all
        .iter()
        .filter(|c| name_enabled(c).1 && (names.is_empty() || fallback || exists(c)))
        .collect();
    (picked, fallback)
}

/// A silence as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl Silence {
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_at_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    pub fn mutes(&self, labels: &Labels, now_ms: i64) -> bool {
        self.state(now_ms) == SilenceState::Active && all_match(&self.matchers, labels)
    }
}

/// Whether `target` is inhibited by one of the `firing` alerts' labels.
pub fn inhibited(rules: &[Inhibit], target: &Labels, firing: &[&Labels]) -> bool {
    rules.iter().any(|r| {
        all_match(&r.target_matchers, target)
            && firing.iter().any(|src| {
                *src != target
                    && all_match(&r.source_matchers, src)
                    && r.equal.iter().all(|l| src.get(l) == target.get(l))
            })
    })
}

/// The repeat interval for a group whose highest severity is `sev`.
pub fn repeat_ms(route: &Resolved, sev: Severity) -> i64 {
    route.repeat_interval_ms.unwrap_or_else(|| sev.default_repeat_ms())
}

/// `5m` style, for messages and forms.
pub fn duration_text(ms: i64) -> String {
    format_duration(ms)
}

/// Parses matchers separated by commas (`service="chat", severity=~"P2|P3"`).
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(Matcher::parse(part)?);
    }
    Ok(out)
}

/// Parses a duration for policy forms.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn escalation_policies_are_inherited_down_the_tree() {
        let m = |s: &str| parse_matchers(s).expect("matchers");
        let policy = Policy {
            route: Route {
                escalation_policy_id: Some(1),
                routes: vec![
                    Route {
                        matchers: m(r#"team="db""#),
                        escalation_policy_id: Some(2),
                        ..Route::default()
                    },
                    Route {
                        matchers: m(r#"team="web""#),
                        routes: vec![Route { matchers: m(r#"severity="P0""#), ..Route::default() }],
                        ..Route::default()
                    },
                ],
                ..Route::default()
            },
            inhibit: vec![],
        };
        assert_eq!(policy.escalation_for(&labels(&[("team", "db")])), Some(2));
        // The web P0 route names none: its parents' (the root's) applies.
        assert_eq!(policy.escalation_for(&labels(&[("team", "web"), ("severity", "P0")])), Some(1));
        assert_eq!(policy.escalation_for(&labels(&[("team", "other")])), Some(1));
        assert_eq!(policy.escalation_policy_ids(), vec![1, 2]);
        assert_eq!(Policy::default().escalation_for(&labels(&[("team", "db")])), None);
        // Not written out when unset: saved trees stay as they were.
        assert!(!Policy::default().to_json_pretty().contains("escalation_policy_id"));
    }

    #[test]
    fn matchers_follow_prometheus() {
        let l = labels(&[("service", "chat"), ("severity", "P2")]);
        for (m, want) in [
            ("service=chat", true),
            ("service!=chat", false),
            ("service=~\"ch.*\"", true),
            ("service=~\"ch\"", false), // anchored
            ("severity!~\"P0|P1\"", true),
            ("team=\"\"", true), // a missing label is empty
            ("team!=\"\"", false),
        ] {
            assert_eq!(Matcher::parse(m).expect(m).matches(&l), want, "{m}");
        }
        assert!(Matcher::parse("service=~\"(\"").is_err());
        assert!(Matcher::parse("9x=1").is_err());
        assert!(Matcher::parse("nothing").is_err());
        assert_eq!(parse_matchers("a=1, b!~\"x|y\"").expect("two").len(), 2);
    }

    fn route(ms: &[&str], channels: &[&str], cont: bool, routes: Vec<Route>) -> Route {
        Route {
            matchers: ms.iter().map(|m| Matcher::parse(m).expect("m")).collect(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            continue_: cont,
            routes,
            ..Route::default()
        }
    }

    #[test]
    fn routing_tree_depth_first_with_continue() {
        let p = Policy {
            route: Route {
                channels: vec!["default".into()],
                group_by: Some(vec!["alertname".into()]),
                routes: vec![
                    route(&["severity=P0"], &["phone"], true, vec![]),
                    route(
                        &["team=ai"],
                        &["feishu-ai"],
                        false,
                        vec![route(&["severity=~\"P0|P1\""], &["feishu-ai-urgent"], false, vec![])],
                    ),
                    route(&["team=~\".+\""], &["catch-team"], false, vec![]),
                ],
                ..Route::default()
            },
            inhibit: vec![],
        };
        let names = |l: &Labels| -> Vec<Vec<String>> {
            p.routes_for(l).into_iter().map(|r| r.channels).collect()
        };
        // P0 of team ai: phone (continue) then the ai subtree's urgent child.
        assert_eq!(
            names(&labels(&[("severity", "P0"), ("team", "ai")])),
            vec![vec!["phone".to_owned()], vec!["feishu-ai-urgent".to_owned()]]
        );
        // P2 of team ai: the ai route itself (no child matched); not the catch-all.
        assert_eq!(
            names(&labels(&[("severity", "P2"), ("team", "ai")])),
            vec![vec!["feishu-ai".to_owned()]]
        );
        assert_eq!(
            names(&labels(&[("severity", "P3"), ("team", "web")])),
            vec![vec!["catch-team".to_owned()]]
        );
        // Nothing matches: the root.
        let r = p.routes_for(&labels(&[("severity", "P3")]));
        assert_eq!((r[0].path.as_str(), r[0].channels.clone()), ("0", vec!["default".to_owned()]));
        assert_eq!(r[0].group_by, vec!["alertname".to_owned()]);
    }

    #[test]
    fn default_tree_routes_by_level_and_falls_back_to_every_channel() {
        let p = Policy::default();
        let chans = |sev: &str| -> Vec<String> {
            p.routes_for(&labels(&[("severity", sev)])).remove(0).channels
        };
        assert_eq!(chans("P0"), vec!["phone", "feishu"]);
        assert_eq!(chans("P1"), vec!["feishu"]);
        assert_eq!(chans("P2"), vec!["feishu"]);
        assert_eq!(chans("P3"), vec!["email"]);
        // An incident's labels reach its route first, then its level's.
        let inc = p.routes_for(&labels(&[("severity", "P1"), ("source", "incident")]));
        assert_eq!(inc.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), vec!["0.0", "0.2"]);

        let all = [("feishu", true), ("slack", true), ("email", false)];
        let pick = |want: &[&str]| {
            let want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            let (got, fell_back) = pick_channels(&all, &want, |c| (c.0, c.1));
            (got.iter().map(|c| c.0).collect::<Vec<_>>(), fell_back)
        };
        assert_eq!(pick(&["phone", "feishu"]), (vec!["feishu"], false));
        assert_eq!(pick(&[]), (vec!["feishu", "slack"], false), "the root: every enabled");
        assert_eq!(pick(&["phone"]), (vec!["feishu", "slack"], true), "none exists: fallback");
        assert_eq!(pick(&["email"]), (vec![], false), "exists but disabled: a choice");
    }

    #[test]
    fn silences_and_inhibition() {
        let s = Silence {
            id: 1,
            matchers: parse_matchers("service=chat").expect("m"),
            starts_at_ms: 100,
            ends_at_ms: 200,
            created_by: "ops".into(),
            comment: "deploy".into(),
        };
        let chat = labels(&[("service", "chat"), ("severity", "P2")]);
        assert_eq!(s.state(99), SilenceState::Pending);
        assert!(!s.mutes(&chat, 99));
        assert!(s.mutes(&chat, 100));
        assert!(!s.mutes(&labels(&[("service", "web")]), 150));
        assert_eq!(s.state(200), SilenceState::Expired);

        let p = Policy::default();
        let p0_chat = labels(&[("service", "chat"), ("severity", "P0")]);
        let p0_web = labels(&[("service", "web"), ("severity", "P0")]);
        assert!(inhibited(&p.inhibit, &chat, &[&p0_chat]));
        assert!(!inhibited(&p.inhibit, &chat, &[&p0_web]), "other service");
        assert!(!inhibited(&p.inhibit, &p0_chat, &[&p0_chat]), "not itself");
        let p1 = labels(&[("service", "chat"), ("severity", "P1")]);
        assert!(!inhibited(&p.inhibit, &p1, &[&p0_chat]), "P1 is not a target");
        assert!(p.validate().is_ok());
    }
}
