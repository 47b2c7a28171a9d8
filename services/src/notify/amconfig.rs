//! The routing tree in Alertmanager's configuration format (`route`, `receivers`,
//! `inhibit_rules`), for teams who keep their configuration in git. Export writes a file
//! `amtool check-config` accepts; import reads the same, the older `match`/`match_re`
//! forms included.
//!
//! Mapping: a route's Vigil channels are one Alertmanager receiver, named after them
//! (`feishu`, or `phone+feishu` for several); the root's "every enabled channel" is the
//! receiver `vigil:all`. A child without a receiver inherits its parent's, in both tools.
//! Escalation policies have no place in Alertmanager's format: export lists them in a
//! comment, import keeps the current tree's policy on a route with the same path and the
//! same matchers. Anything else Alertmanager has and Vigil has not (time intervals,
//! receiver integrations, templates) is skipped and reported.

use super::policy::{Inhibit, Matcher, Policy, Route};
use domain::alerting::{format_duration, parse_duration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The receiver that stands for "every enabled channel".
pub const ALL_CHANNELS: &str = "vigil:all";

#[derive(Debug, Default, Serialize, Deserialize)]
struct AmConfig {
    route: AmRoute,
    #[serde(default)]
    receivers: Vec<AmReceiver>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    inhibit_rules: Vec<AmInhibit>,
    #[serde(flatten, skip_serializing)]
    other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AmRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    continue_: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    matchers: Vec<String>,
    #[serde(default, rename = "match", skip_serializing)]
    match_eq: BTreeMap<String, String>,
    #[serde(default, skip_serializing)]
    match_re: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_wait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repeat_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    routes: Vec<AmRoute>,
    #[serde(flatten, skip_serializing)]
    other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AmReceiver {
    name: String,
    #[serde(flatten, skip_serializing)]
    other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AmInhibit {
    #[serde(default)]
    source_matchers: Vec<String>,
    #[serde(default)]
    target_matchers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    equal: Vec<String>,
    #[serde(default, skip_serializing)]
    source_match: BTreeMap<String, String>,
    #[serde(default, skip_serializing)]
    source_match_re: BTreeMap<String, String>,
    #[serde(default, skip_serializing)]
    target_match: BTreeMap<String, String>,
    #[serde(default, skip_serializing)]
    target_match_re: BTreeMap<String, String>,
}

fn receiver_of(channels: &[String]) -> String {
    if channels.is_empty() {
        ALL_CHANNELS.to_owned()
    } else {
        channels.join("+")
    }
}

/// The tree as an Alertmanager configuration; `policy_names` names the escalation
/// policies for the comment.
pub fn export(p: &Policy, policy_names: &BTreeMap<i64, String>) -> String {
    fn route(r: &Route, root: bool, receivers: &mut Vec<String>) -> AmRoute {
        let receiver = (root || !r.channels.is_empty()).then(|| receiver_of(&r.channels));
        if let Some(name) = &receiver {
            if !receivers.contains(name) {
                receivers.push(name.clone());
            }
        }
        AmRoute {
            receiver,
            group_by: r.group_by.clone(),
            continue_: r.continue_,
            matchers: r.matchers.iter().map(ToString::to_string).collect(),
            group_wait: r.group_wait_ms.map(format_duration),
            group_interval: r.group_interval_ms.map(format_duration),
            repeat_interval: r.repeat_interval_ms.map(format_duration),
            routes: r.routes.iter().map(|c| route(c, false, receivers)).collect(),
            ..AmRoute::default()
        }
    }
    let mut receivers = Vec::new();
    let cfg = AmConfig {
        route: route(&p.route, true, &mut receivers),
        receivers: receivers
            .into_iter()
            .map(|name| AmReceiver { name, ..AmReceiver::default() })
            .collect(),
        inhibit_rules: p
            .inhibit
            .iter()
            .map(|i| AmInhibit {
                source_matchers: i.source_matchers.iter().map(ToString::to_string).collect(),
                target_matchers: i.target_matchers.iter().map(ToString::to_string).collect(),
                equal: i.equal.clone(),
                ..AmInhibit::default()
            })
            .collect(),
        other: BTreeMap::new(),
    };
    let mut out = String::from(
        "# Vigil's routing tree in Alertmanager's format. Receivers are Vigil channels\n\
         # (several joined with '+'; vigil:all = every enabled channel); their\n\
         # integrations are configured in Vigil, not here.\n",
    );
    let rows = p.rows();
    let mut notes = Vec::new();
    for row in &rows {
        if let Some(id) = row.form.escalation_policy_id {
            let name = policy_names.get(&id).map_or("(deleted)", String::as_str);
            notes.push(format!("#   route {}: {name} (id {id})\n", row.path));
        }
    }
    for row in rows.iter().filter(|r| r.form.digest) {
        notes.push(format!("#   route {}: daily digest instead of at once\n", row.path));
    }
    if !notes.is_empty() {
        out.push_str(
            "# Vigil-only route settings (kept on import for routes with the same matchers):\n",
        );
        out.extend(notes);
    }
    out.push_str(&serde_yaml::to_string(&cfg).unwrap_or_default());
    out
}

/// What an import made, and what it skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub policy: Policy,
    pub skipped: Vec<String>,
}

/// Reads an Alertmanager configuration. `known` are the channels Vigil has (a receiver
/// named like one is that channel; otherwise a name with `+` is split); `current` is the
/// tree in force, whose escalation policies are kept where a route is unchanged. Errors
/// name the place in the file (`route.routes[1].matchers[0]: …`); nothing is half read.
pub fn import(yaml: &str, known: &[String], current: &Policy) -> Result<Imported, String> {
    let cfg: AmConfig = serde_yaml::from_str(yaml).map_err(|e| match e.location() {
        Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
        None => e.to_string(),
    })?;
    let mut skipped: Vec<String> = Vec::new();
    for k in cfg.other.keys() {
        skipped.push(format!("{k}: not used by Vigil's routing"));
    }
    for r in &cfg.receivers {
        if !r.other.is_empty() {
            skipped.push(format!(
                "receivers[{}]: integrations are configured as Vigil channels",
                r.name
            ));
        }
    }
    let channels_of = |name: &str| -> Vec<String> {
        if name == ALL_CHANNELS {
            Vec::new()
        } else if known.iter().any(|k| k == name) || !name.contains('+') {
            vec![name.to_owned()]
        } else {
            name.split('+').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
    };
    fn matchers(
        at: &str,
        list: &[String],
        eq: &BTreeMap<String, String>,
        re: &BTreeMap<String, String>,
    ) -> Result<Vec<Matcher>, String> {
        let mut out = Vec::new();
        for (i, m) in list.iter().enumerate() {
            // Alertmanager allows `{a="1", b="2"}` in one entry.
            let inner = m.trim().trim_start_matches('{').trim_end_matches('}');
            let ms = super::policy::parse_matchers(inner).map_err(|e| format!("{at}[{i}]: {e}"))?;
            out.extend(ms);
        }
        for (k, v) in eq {
            out.push(
                Matcher::parse(&format!("{k}={v:?}")).map_err(|e| format!("{at} (match): {e}"))?,
            );
        }
        for (k, v) in re {
            out.push(
                Matcher::parse(&format!("{k}=~{v:?}"))
                    .map_err(|e| format!("{at} (match_re): {e}"))?,
            );
        }
        Ok(out)
    }
    fn timing(at: &str, v: &Option<String>) -> Result<Option<i64>, String> {
        v.as_deref().map(parse_duration).transpose().map_err(|e| format!("{at}: {e}"))
    }
    fn route(
        r: &AmRoute,
        at: &str,
        current: Option<&Route>,
        channels_of: &dyn Fn(&str) -> Vec<String>,
        skipped: &mut Vec<String>,
    ) -> Result<Route, String> {
        for k in r.other.keys() {
            skipped.push(format!("{at}.{k}: not supported by Vigil"));
        }
        let matchers = matchers(&format!("{at}.matchers"), &r.matchers, &r.match_eq, &r.match_re)?;
        let mut routes = Vec::new();
        for (i, c) in r.routes.iter().enumerate() {
            let cur = current.and_then(|x| x.routes.get(i));
            routes.push(route(c, &format!("{at}.routes[{i}]"), cur, channels_of, skipped)?);
        }
        Ok(Route {
            escalation_policy_id: current
                .filter(|x| x.matchers == matchers)
                .and_then(|x| x.escalation_policy_id),
            digest: current.filter(|x| x.matchers == matchers).is_some_and(|x| x.digest),
            matchers,
            channels: r.receiver.as_deref().map(channels_of).unwrap_or_default(),
            group_by: r.group_by.clone(),
            group_wait_ms: timing(&format!("{at}.group_wait"), &r.group_wait)?,
            group_interval_ms: timing(&format!("{at}.group_interval"), &r.group_interval)?,
            repeat_interval_ms: timing(&format!("{at}.repeat_interval"), &r.repeat_interval)?,
            continue_: r.continue_,
            routes,
        })
    }
    let root = route(&cfg.route, "route", Some(&current.route), &channels_of, &mut skipped)?;
    if !root.matchers.is_empty() {
        return Err("route.matchers: the root route takes every alert: it has no matchers".into());
    }
    let mut inhibit = Vec::new();
    for (i, r) in cfg.inhibit_rules.iter().enumerate() {
        let at = format!("inhibit_rules[{i}]");
        inhibit.push(Inhibit {
            source_matchers: matchers(
                &format!("{at}.source_matchers"),
                &r.source_matchers,
                &r.source_match,
                &r.source_match_re,
            )?,
            target_matchers: matchers(
                &format!("{at}.target_matchers"),
                &r.target_matchers,
                &r.target_match,
                &r.target_match_re,
            )?,
            equal: r.equal.clone(),
        });
    }
    let policy = Policy { route: root, inhibit };
    policy.validate().map_err(|e| {
        e.0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
    })?;
    Ok(Imported { policy, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_then_import_gives_the_same_tree() {
        let mut p = Policy::default();
        p.route.routes[1].escalation_policy_id = Some(7);
        p.route.routes[3].repeat_interval_ms = Some(2 * 3_600_000);
        let names = BTreeMap::from([(7, "P0/P1 paging".to_owned())]);
        let yaml = export(&p, &names);
        assert!(yaml.contains("receiver: vigil:all"), "{yaml}");
        assert!(yaml.contains("receiver: phone+feishu"), "{yaml}");
        assert!(yaml.contains("- severity=\"P0\""), "{yaml}");
        assert!(yaml.contains("#   route 0.1: P0/P1 paging (id 7)"), "{yaml}");
        assert!(yaml.contains("repeat_interval: 2h"), "{yaml}");
        // Every receiver a route names is declared once.
        for r in ["vigil:all", "phone+feishu", "feishu", "email"] {
            assert_eq!(yaml.matches(&format!("- name: {r}\n")).count(), 1, "{r}: {yaml}");
        }
        let back = import(&yaml, &[], &p).expect("import");
        assert_eq!(back.policy, p);
        assert!(back.skipped.is_empty(), "{:?}", back.skipped);
        // Against a tree whose P0 route differs, the policy is not carried over.
        let mut other = Policy::default();
        other.route.routes[1].matchers =
            super::super::policy::parse_matchers("severity=P1").expect("m");
        other.route.routes[1].escalation_policy_id = Some(7);
        assert_eq!(
            import(&yaml, &[], &other).expect("import").policy.route.routes[1].escalation_policy_id,
            None
        );
    }

    #[test]
    fn hostile_yaml_is_refused_quickly() {
        // "Billion laughs": nine levels of nine aliases would expand to 387 million
        // strings; the parser's alias budget refuses it.
        let mut y = String::from("a0: &a0 [\"lol\"]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            y.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        y.push_str("route:\n  group_by: *a9\n");
        let started = std::time::Instant::now();
        let e = import(&y, &[], &Policy::default()).expect_err("refused");
        assert!(e.contains("repetition limit") || e.contains("recursion limit"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        // Deep nesting: refused, not a stack overflow.
        let deep = format!("route: {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(import(&deep, &[], &Policy::default()).is_err());
    }

    #[test]
    fn reads_alertmanagers_own_files_and_names_errors() {
        let yaml = r#"
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: ['alertname', 'cluster']
  group_wait: 10s
  routes:
    - match:
        team: db
      match_re:
        severity: "P0|P1"
      receiver: team-db+pager
      continue: true
      mute_time_intervals: [offhours]
    - matchers: ['{service="chat", env!="dev"}']
receivers:
  - name: default
    webhook_configs:
      - url: http://example.com/hook
  - name: team-db+pager
inhibit_rules:
  - source_match: { severity: P0 }
    target_match_re: { severity: "P2|P3" }
    equal: [service]
"#;
        let got = import(yaml, &["default".into()], &Policy::default()).expect("import");
        let p = &got.policy;
        assert_eq!(p.route.channels, vec!["default"]);
        assert_eq!(p.route.group_wait_ms, Some(10_000));
        let db = &p.route.routes[0];
        assert_eq!(db.channels, vec!["team-db", "pager"]);
        assert!(db.continue_);
        assert_eq!(db.form().matchers, "team=\"db\", severity=~\"P0|P1\"");
        assert_eq!(p.route.routes[1].matchers.len(), 2);
        assert!(p.route.routes[1].channels.is_empty(), "inherits");
        assert_eq!(p.inhibit[0].target_matchers[0].to_string(), "severity=~\"P2|P3\"");
        assert_eq!(got.skipped.len(), 3, "{:?}", got.skipped);
        assert!(got.skipped.iter().any(|s| s.contains("route.routes[0].mute_time_intervals")));

        let bad = "route:\n  routes:\n    - matchers: ['team=~\"(\"']\n";
        let e = import(bad, &[], &Policy::default()).expect_err("bad regex");
        assert!(e.starts_with("route.routes[0].matchers[0]:"), "{e}");
        let e = import("route:\n  group_wait: soon\n", &[], &Policy::default()).expect_err("bad");
        assert!(e.starts_with("route.group_wait:"), "{e}");
        let e = import("route: [", &[], &Policy::default()).expect_err("not yaml");
        assert!(e.starts_with("line "), "{e}");
        let e = import("route:\n  matchers: [a=1]\n", &[], &Policy::default()).expect_err("root");
        assert!(e.contains("root"), "{e}");
    }
}
