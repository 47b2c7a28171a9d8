//! Rule import and export in Prometheus' rule-file format (YAML), for PromQL rules:
//! `groups[].rules[]` with `alert`, `expr`, `for`, `keep_firing_for`, `labels`,
//! `annotations`. Imported rules keep Prometheus' meaning: every series the expression
//! returns is firing (condition "any result"); `labels.severity` maps to P0–P3.

use crate::Caller;
use crate::Result;
use domain::alerting::{
    format_duration, parse_duration, Condition, Labels, RuleQuery, RuleSpec, Severity,
};
use domain::FieldErrors;
use domain::Permission;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Group {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    rules: Vec<PromRule>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct PromRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    expr: String,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keep_firing_for: Option<String>,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    labels: Labels,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    annotations: Labels,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Rules of the file that already say exactly what the stored rule says (an exported
    /// file imported again): left as they are, with their structured condition.
    pub unchanged: usize,
    /// Recording rules are Prometheus' business; they are skipped.
    pub skipped_recording: usize,
}

fn severity_of(label: Option<&String>) -> Severity {
    match label.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("p0") | Some("page") => Severity::P0,
        Some("p1") | Some("critical") => Severity::P1,
        Some("p3") | Some("info") | Some("none") => Severity::P3,
        _ => Severity::P2,
    }
}

/// Parses a rule file into specs, every problem named by its path in the file.
pub fn parse(yaml: &str) -> Result<(Vec<RuleSpec>, usize), FieldErrors> {
    let mut e = FieldErrors::new();
    let file: RuleFile = match serde_yaml::from_str(yaml) {
        Ok(f) => f,
        Err(err) => {
            e.add("file", format!("not a Prometheus rule file: {err}"));
            return Err(e);
        }
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    for (gi, g) in file.groups.iter().enumerate() {
        let interval_ms = match g.interval.as_deref().map(parse_duration) {
            None => 60_000,
            Some(Ok(ms)) => ms,
            Some(Err(m)) => {
                e.add(&format!("groups[{gi}].interval"), m);
                60_000
            }
        };
        for (ri, r) in g.rules.iter().enumerate() {
            let at = |f: &str| format!("groups[{gi}].rules[{ri}].{f}");
            let Some(name) = r.alert.clone() else {
                if r.record.is_some() {
                    skipped += 1;
                } else {
                    e.add(&at("alert"), "is required (or `record` for a recording rule)");
                }
                continue;
            };
            let dur = |v: &Option<String>, f: &str, e: &mut FieldErrors| match v
                .as_deref()
                .map(parse_duration)
            {
                None => 0,
                Some(Ok(ms)) => ms,
                Some(Err(m)) => {
                    e.add(&at(f), m);
                    0
                }
            };
            let for_ms = dur(&r.for_, "for", &mut e);
            let keep_ms = dur(&r.keep_firing_for, "keep_firing_for", &mut e);
            let mut labels = r.labels.clone();
            let severity = severity_of(labels.remove("severity").as_ref());
            let spec = RuleSpec {
                name: name.trim().to_owned(),
                description: r.annotations.get("description").cloned().unwrap_or_default(),
                runbook_url: r.annotations.get("runbook_url").cloned().unwrap_or_default(),
                severity,
                labels,
                query: RuleQuery::Promql { expr: r.expr.trim().to_owned() },
                condition: Condition::Present,
                interval_ms,
                for_ms,
                keep_firing_for_ms: keep_ms,
                summary: r.annotations.get("summary").cloned().unwrap_or_default(),
                open_incident: false,
                escalation_policy_id: None,
                enabled: true,
            };
            if let Err(errs) = spec.validate() {
                for f in errs.0 {
                    e.add(&at(&f.field), f.message);
                }
            }
            out.push(spec);
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for s in &out {
        if !names.insert(s.name.clone()) {
            e.add("file", format!("the alert name {:?} appears twice", s.name));
        }
    }
    e.into_result().map(|()| (out, skipped))
}

/// One rule as the rule file shows it; `None` for rules without PromQL (KPI rules).
fn prom_rule(s: &RuleSpec) -> Option<PromRule> {
    let RuleQuery::Promql { expr } = &s.query else {
        return None;
    };
    let expr = match &s.condition {
        Condition::Threshold { op, threshold } => {
            format!("({expr}) {} {threshold}", op.symbol())
        }
        Condition::NoData { .. } => format!("absent({expr})"),
        _ => expr.clone(),
    };
    let mut labels = s.labels.clone();
    labels.insert("severity".into(), s.severity.as_str().into());
    let mut annotations = Labels::new();
    for (k, v) in
        [("summary", &s.summary), ("description", &s.description), ("runbook_url", &s.runbook_url)]
    {
        if !v.is_empty() {
            annotations.insert(k.into(), v.clone());
        }
    }
    let d = |ms: i64| (ms > 0).then(|| format_duration(ms));
    Some(PromRule {
        alert: Some(s.name.clone()),
        record: None,
        expr,
        for_: d(match s.condition {
            Condition::NoData { for_ms } => for_ms.max(s.for_ms),
            _ => s.for_ms,
        }),
        keep_firing_for: d(s.keep_firing_for_ms),
        labels,
        annotations,
    })
}

/// True when `file_spec` (parsed from a rule file) says nothing that `stored` does not:
/// the same rule file text and evaluation interval.
fn same_in_file(stored: &RuleSpec, file_spec: &RuleSpec) -> bool {
    stored.interval_ms == file_spec.interval_ms
        && prom_rule(stored).is_some_and(|r| Some(r) == prom_rule(file_spec))
}

/// PromQL rules as a Prometheus rule file (KPI rules have no PromQL and are left out).
/// Rules evaluated every minute are in the group `vigil`; others in one group per
/// interval (`vigil-30s`, with `interval: 30s`), so that importing the file again keeps
/// each rule's interval.
pub fn render(specs: &[RuleSpec]) -> String {
    let mut groups: Vec<Group> = Vec::new();
    for s in specs {
        let Some(rule) = prom_rule(s) else { continue };
        let (name, interval) = if s.interval_ms == 60_000 {
            ("vigil".to_owned(), None)
        } else {
            let d = format_duration(s.interval_ms);
            (format!("vigil-{d}"), Some(d))
        };
        match groups.iter_mut().find(|g| g.name == name) {
            Some(g) => g.rules.push(rule),
            None => groups.push(Group { name, interval, rules: vec![rule] }),
        }
    }
    if groups.is_empty() {
        groups.push(Group { name: "vigil".into(), interval: None, rules: Vec::new() });
    }
    let file = RuleFile { groups };
    serde_yaml::to_string(&file).unwrap_or_default()
}

impl crate::Alerting<'_> {
    /// Imports a Prometheus rule file (editor): alerts are created, or updated when a rule
    /// of that name exists. Nothing is written unless the whole file is valid. A rule the
    /// file describes exactly as stored is left alone (so `export | import` changes
    /// nothing); an updated rule keeps what a rule file cannot say: whether it is enabled,
    /// opens an incident, and which escalation policy pages for it.
    pub async fn import_prometheus_rules(
        &self,
        actor: &Caller,
        yaml: &str,
    ) -> Result<ImportReport> {
        actor.require(Permission::EditRules)?;
        let (specs, skipped) = parse(yaml)?;
        let existing = self.store.rules_with_state().await?;
        let ctx = self.audit_ctx(actor);
        let mut report = ImportReport { skipped_recording: skipped, ..ImportReport::default() };
        for spec in specs {
            match existing.iter().find(|r| r.rule.spec.name == spec.name) {
                Some(r) if same_in_file(&r.rule.spec, &spec) => report.unchanged += 1,
                Some(r) => {
                    let stored = &r.rule.spec;
                    let spec = RuleSpec {
                        enabled: stored.enabled,
                        open_incident: stored.open_incident,
                        escalation_policy_id: stored.escalation_policy_id,
                        ..spec
                    };
                    self.store.update_rule(r.rule.id, r.rule.version, &spec, &ctx).await?;
                    report.updated += 1;
                }
                None => {
                    self.store.create_rule(&spec, &ctx).await?;
                    report.created += 1;
                }
            }
        }
        Ok(report)
    }

    /// PromQL rules as a Prometheus rule file (viewer).
    pub async fn export_prometheus_rules(&self, actor: &Caller) -> Result<String> {
        actor.require(Permission::ViewAlerts)?;
        let specs: Vec<RuleSpec> =
            self.store.rules_with_state().await?.into_iter().map(|r| r.rule.spec).collect();
        Ok(render(&specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
groups:
  - name: node
    interval: 30s
    rules:
      - record: instance:cpu:rate5m
        expr: rate(node_cpu_seconds_total[5m])
      - alert: HighCPU
        expr: avg by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) * 100 > 90
        for: 10m
        labels:
          severity: critical
          team: infra
        annotations:
          summary: "CPU on {{ $labels.instance }} is {{ $value }}%"
          runbook_url: https://wiki.example/cpu
      - alert: VigilDown
        expr: up{job="vigil"} == 0
        for: 5m
        labels:
          severity: P0
"#;

    #[test]
    fn imports_prometheus_rule_files() {
        let (specs, skipped) = parse(FILE).expect("valid");
        assert_eq!(skipped, 1);
        assert_eq!(specs.len(), 2);
        let cpu = &specs[0];
        assert_eq!(cpu.name, "HighCPU");
        assert_eq!(cpu.severity, Severity::P1, "critical → P1");
        assert_eq!(cpu.labels.get("team").map(String::as_str), Some("infra"));
        assert!(!cpu.labels.contains_key("severity"));
        assert_eq!((cpu.interval_ms, cpu.for_ms), (30_000, 600_000));
        assert_eq!(cpu.condition, Condition::Present);
        assert_eq!(cpu.runbook_url, "https://wiki.example/cpu");
        assert_eq!(specs[1].severity, Severity::P0);

        // Export and import again: the same rules.
        let yaml = render(&specs);
        let (again, _) = parse(&yaml).expect("round trip");
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].name, "HighCPU");
        assert_eq!(again[0].summary, cpu.summary);
        assert_eq!(again[0].for_ms, cpu.for_ms);
    }

    #[test]
    fn an_exported_file_describes_every_rule_exactly() {
        use domain::alerting::CompareOp;
        let (mut specs, _) = parse(FILE).expect("valid");
        // A structured threshold (as the rule editor makes it), evaluated every minute.
        specs[1].condition = Condition::Threshold { op: CompareOp::Gt, threshold: 0.5 };
        specs[1].interval_ms = 60_000;
        let yaml = render(&specs);
        let file: RuleFile = serde_yaml::from_str(&yaml).expect("yaml");
        let groups: Vec<(&str, Option<&str>)> =
            file.groups.iter().map(|g| (g.name.as_str(), g.interval.as_deref())).collect();
        assert_eq!(groups, [("vigil-30s", Some("30s")), ("vigil", None)]);
        let (again, _) = parse(&yaml).expect("round trip");
        assert_eq!(again.len(), 2);
        for (stored, read) in specs.iter().zip(&again) {
            assert_eq!(stored.name, read.name);
            assert!(same_in_file(stored, read), "{stored:?} vs {read:?}");
        }
        // …and a changed threshold is a change.
        let mut other = specs[1].clone();
        other.condition = Condition::Threshold { op: CompareOp::Gt, threshold: 0.75 };
        assert!(!same_in_file(&other, &again[1]));
        assert_eq!(render(&[]), "groups:\n- name: vigil\n  rules: []\n");
    }

    #[test]
    fn errors_name_the_place_in_the_file() {
        let bad = "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: up\n        for: soon\n      - expr: up\n";
        let e = parse(bad).expect_err("invalid");
        assert!(e.get("groups[0].rules[0].for").is_some(), "{e}");
        assert!(e.get("groups[0].rules[1].alert").is_some(), "{e}");
        assert!(parse("not: [a rule file").is_err());
        let dup = "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: up\n      - alert: X\n        expr: up\n";
        assert!(parse(dup).expect_err("dup").get("file").is_some());
    }
}

#[cfg(test)]
mod default_rules_round_trip {
    use super::*;

    #[test]
    fn every_default_promql_rule_exports_and_imports_unchanged() {
        let defaults: Vec<RuleSpec> = crate::alerting::default_rules()
            .into_iter()
            .filter(|r| matches!(r.query, RuleQuery::Promql { .. }))
            .collect();
        assert_eq!(defaults.len(), 7);
        let (back, skipped) = parse(&render(&defaults)).expect("parses");
        assert_eq!(skipped, 0);
        assert_eq!(back.len(), defaults.len());
        for (stored, file) in defaults.iter().zip(&back) {
            assert!(same_in_file(stored, file), "{} changed:\n{stored:?}\n{file:?}", stored.name);
        }
    }
}
