//! The rule editor's form as typed (strings), and its conversion to and from a
//! `RuleSpec`. Compiled on both sides: the server parses what the browser sent, and every
//! problem is reported against the input it came from.

use domain::alerting::{
    format_duration, parse_duration, CompareOp, Condition, KpiMetric, Labels, RuleQuery, RuleSpec,
    Severity,
};
use domain::probe::ProbeMetric;
use domain::FieldErrors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleForm {
    pub name: String,
    pub description: String,
    pub runbook_url: String,
    pub severity: String,
    /// `key=value` pairs separated by commas or new lines.
    pub labels: String,
    /// `kpi`, `probe` or `promql`.
    #[serde(default = "kpi")]
    pub source: String,
    #[serde(default)]
    pub expr: String,
    /// A probe's name; empty for every probe.
    #[serde(default)]
    pub probe: String,
    #[serde(default)]
    pub probe_metric: String,
    /// The burn rate's short window (`5m`).
    #[serde(default)]
    pub short_window: String,
    pub metric: String,
    /// The feature or funnel steps of a metric that needs one.
    #[serde(default)]
    pub segment: String,
    /// A duration (`1h`, `24h`); for windowed metrics.
    pub window: String,
    /// `threshold`, `drop_pct`, `rise_pct`, `no_data`, `z_score`.
    pub kind: String,
    /// `>`, `>=`, `<`, `<=`, `==`, `!=`.
    pub op: String,
    pub threshold: String,
    pub pct: String,
    pub no_data_for: String,
    pub k: String,
    pub z_window: String,
    pub interval: String,
    pub for_: String,
    pub keep_firing_for: String,
    pub summary: String,
    pub open_incident: bool,
    /// Escalation policy id, empty for none.
    #[serde(default)]
    pub escalation_policy: String,
    pub enabled: bool,
}

impl Default for RuleForm {
    fn default() -> Self {
        RuleForm {
            name: String::new(),
            description: String::new(),
            runbook_url: String::new(),
            severity: "P2".into(),
            labels: String::new(),
            source: kpi(),
            expr: String::new(),
            probe: String::new(),
            probe_metric: ProbeMetric::LatencyP95Ms.as_str().into(),
            short_window: "5m".into(),
            metric: KpiMetric::AiSuccessRate.as_str().into(),
            segment: String::new(),
            window: "1h".into(),
            kind: "threshold".into(),
            op: "<".into(),
            threshold: "0.9".into(),
            pct: "20".into(),
            no_data_for: "1h".into(),
            k: "3".into(),
            z_window: "24".into(),
            interval: "1m".into(),
            for_: "5m".into(),
            keep_firing_for: "0".into(),
            summary: "{{ $labels.alertname }} is {{ $value }}".into(),
            open_incident: false,
            escalation_policy: String::new(),
            enabled: true,
        }
    }
}

fn kpi() -> String {
    "kpi".into()
}

pub const KINDS: [&str; 6] = ["threshold", "drop_pct", "rise_pct", "no_data", "z_score", "present"];

fn number(e: &mut FieldErrors, field: &str, s: &str) -> f64 {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => {
            e.add(field, "must be a number");
            0.0
        }
    }
}

fn duration(e: &mut FieldErrors, field: &str, s: &str) -> i64 {
    parse_duration(s).unwrap_or_else(|m| {
        e.add(field, m);
        0
    })
}

/// Parses `key=value` pairs (commas or new lines between them).
pub fn parse_labels(s: &str) -> Result<Labels, String> {
    let mut out = Labels::new();
    for part in s.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("{part:?} is not key=value"))?;
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(out)
}

pub fn format_labels(l: &Labels) -> String {
    l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

impl RuleForm {
    /// The spec, or every problem by field (parse errors here, rule errors from the domain).
    pub fn to_spec(&self) -> Result<RuleSpec, FieldErrors> {
        let mut e = FieldErrors::new();
        let severity = Severity::parse(&self.severity).unwrap_or_else(|| {
            e.add("severity", "choose P0, P1, P2 or P3");
            Severity::P2
        });
        let labels = parse_labels(&self.labels).unwrap_or_else(|m| {
            e.add("labels", m);
            Labels::new()
        });
        let metric = KpiMetric::parse(&self.metric).unwrap_or_else(|| {
            e.add("metric", "choose a metric");
            KpiMetric::Dau
        });
        let probe_metric = if self.source == "probe" {
            ProbeMetric::parse(&self.probe_metric).unwrap_or_else(|| {
                e.add("probe_metric", "choose a probe statistic");
                ProbeMetric::Up
            })
        } else {
            ProbeMetric::Up
        };
        let window_ms = match self.source.as_str() {
            "promql" => 86_400_000,
            "probe" if probe_metric == ProbeMetric::Up => 300_000,
            "probe" => duration(&mut e, "window", &self.window),
            _ if metric.is_daily() => 86_400_000,
            _ => duration(&mut e, "window", &self.window),
        };
        let short_ms = if self.source == "probe" && probe_metric == ProbeMetric::BurnRate {
            duration(&mut e, "short_window", &self.short_window)
        } else {
            0
        };
        let minutes = |ms: i64| u32::try_from(ms / 60_000).unwrap_or(u32::MAX);
        let condition = match self.kind.as_str() {
            "threshold" => Condition::Threshold {
                op: CompareOp::from_symbol(self.op.trim()).unwrap_or_else(|| {
                    e.add("op", "choose a comparison");
                    CompareOp::Gt
                }),
                threshold: number(&mut e, "threshold", &self.threshold),
            },
            "drop_pct" => Condition::DropPct { pct: number(&mut e, "pct", &self.pct) },
            "rise_pct" => Condition::RisePct { pct: number(&mut e, "pct", &self.pct) },
            "no_data" => Condition::NoData { for_ms: duration(&mut e, "for", &self.no_data_for) },
            "present" => Condition::Present,
            "z_score" => Condition::ZScore {
                k: number(&mut e, "k", &self.k),
                window: self.z_window.trim().parse().unwrap_or_else(|_| {
                    e.add("window", "must be a whole number of samples");
                    0
                }),
            },
            _ => {
                e.add("kind", "choose a condition");
                Condition::DropPct { pct: 0.0 }
            }
        };
        let spec = RuleSpec {
            name: self.name.trim().to_owned(),
            description: self.description.trim().to_owned(),
            runbook_url: self.runbook_url.trim().to_owned(),
            severity,
            labels,
            query: match self.source.as_str() {
                "promql" => RuleQuery::Promql { expr: self.expr.trim().to_owned() },
                "probe" => RuleQuery::Probe {
                    probe: self.probe.trim().to_owned(),
                    metric: probe_metric,
                    window_minutes: minutes(window_ms),
                    short_window_minutes: minutes(short_ms),
                },
                _ => RuleQuery::Kpi {
                    metric,
                    window_minutes: minutes(window_ms),
                    segment: if metric.segment().is_some() {
                        self.segment.trim().to_owned()
                    } else {
                        String::new()
                    },
                },
            },
            condition,
            interval_ms: duration(&mut e, "interval", &self.interval),
            for_ms: duration(&mut e, "for", &self.for_),
            keep_firing_for_ms: duration(&mut e, "keep_firing_for", &self.keep_firing_for),
            summary: self.summary.trim().to_owned(),
            open_incident: self.open_incident,
            escalation_policy_id: match self.escalation_policy.trim() {
                "" => None,
                p => match p.parse::<i64>() {
                    Ok(id) => Some(id),
                    Err(_) => {
                        e.add("escalation_policy", "pick a policy from the list");
                        None
                    }
                },
            },
            enabled: self.enabled,
        };
        // Domain rules, without repeating a field that already failed to parse.
        let checked = spec.validate();
        e.then_validate(spec, checked)
    }

    pub fn from_spec(s: &RuleSpec) -> RuleForm {
        let mut f = RuleForm {
            name: s.name.clone(),
            description: s.description.clone(),
            runbook_url: s.runbook_url.clone(),
            severity: s.severity.as_str().into(),
            labels: format_labels(&s.labels),
            interval: format_duration(s.interval_ms),
            for_: format_duration(s.for_ms),
            keep_firing_for: format_duration(s.keep_firing_for_ms),
            summary: s.summary.clone(),
            open_incident: s.open_incident,
            escalation_policy: s.escalation_policy_id.map(|id| id.to_string()).unwrap_or_default(),
            enabled: s.enabled,
            ..RuleForm::default()
        };
        match &s.query {
            RuleQuery::Kpi { metric, window_minutes, segment } => {
                f.metric = metric.as_str().into();
                f.segment = segment.clone();
                f.window = format_duration(i64::from(*window_minutes) * 60_000);
            }
            RuleQuery::Promql { expr } => {
                f.source = "promql".into();
                f.expr = expr.clone();
            }
            RuleQuery::Probe { probe, metric, window_minutes, short_window_minutes } => {
                f.source = "probe".into();
                f.probe = probe.clone();
                f.probe_metric = metric.as_str().into();
                f.window = format_duration(i64::from(*window_minutes) * 60_000);
                if *short_window_minutes > 0 {
                    f.short_window = format_duration(i64::from(*short_window_minutes) * 60_000);
                }
            }
        }
        match &s.condition {
            Condition::Threshold { op, threshold } => {
                f.kind = "threshold".into();
                f.op = op.symbol().into();
                f.threshold = threshold.to_string();
            }
            Condition::DropPct { pct } => {
                f.kind = "drop_pct".into();
                f.pct = pct.to_string();
            }
            Condition::RisePct { pct } => {
                f.kind = "rise_pct".into();
                f.pct = pct.to_string();
            }
            Condition::NoData { for_ms } => {
                f.kind = "no_data".into();
                f.no_data_for = format_duration(*for_ms);
            }
            Condition::Present => f.kind = "present".into(),
            Condition::ZScore { k, window } => {
                f.kind = "z_score".into();
                f.k = k.to_string();
                f.z_window = window.to_string();
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_form_is_a_valid_rule_once_named() {
        let mut f = RuleForm { name: "AI low".into(), ..RuleForm::default() };
        f.summary = "{{ $value }}".into();
        let spec = f.to_spec().expect("valid");
        assert_eq!(RuleForm::from_spec(&spec).to_spec(), Ok(spec));
    }

    #[test]
    fn probe_rules_round_trip() {
        let mut f = RuleForm {
            name: "burn".into(),
            source: "probe".into(),
            probe: "API".into(),
            probe_metric: "burn_rate".into(),
            window: "1h".into(),
            short_window: "5m".into(),
            op: ">".into(),
            threshold: "14.4".into(),
            ..RuleForm::default()
        };
        let spec = f.to_spec().expect("valid");
        assert_eq!(
            spec.query,
            RuleQuery::Probe {
                probe: "API".into(),
                metric: ProbeMetric::BurnRate,
                window_minutes: 60,
                short_window_minutes: 5
            }
        );
        assert_eq!(RuleForm::from_spec(&spec).to_spec(), Ok(spec));
        f.short_window = "2h".into();
        assert!(f.to_spec().expect_err("short").get("short_window").is_some());
    }

    #[test]
    fn errors_name_the_inputs() {
        let f = RuleForm {
            name: String::new(),
            threshold: "ninety".into(),
            interval: "5".into(),
            labels: "team".into(),
            window: "90m".into(),
            ..RuleForm::default()
        };
        let e = f.to_spec().expect_err("invalid");
        for field in ["name", "threshold", "interval", "labels", "window"] {
            assert!(e.get(field).is_some(), "{field}: {e}");
        }
        assert_eq!(parse_labels("service=chat,\nteam = ai").expect("labels").len(), 2);
    }
}
