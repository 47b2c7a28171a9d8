//! Alerting use cases: rules (editor writes, viewer reads, every write audited), the
//! evaluation cycle the engine loop runs, the alert history, the backtest behind the
//! editor's preview, and the default rules from the requirements.
//!
//! A rule's samples come from the same rollups the dashboards read ([`Services::series`]);
//! `domain::alerting` decides what they mean.

use crate::events::{day_start_ms, local_day, AiHour};
use crate::probes::probe_matching;
use crate::Result;
use crate::{Caller, ServiceError};
use domain::alerting::{
    AlertState, CompareOp, Condition, KpiMetric, Labels, RuleQuery, RuleSpec, RuleState,
    RuleTiming, Sample, Severity,
};
use domain::kpi::ratios::{FeedbackCounts, NpsCounts};
use domain::probe::ProbeMetric;
use domain::Permission;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
pub use store::alerting::{state_str, HistoryEntry, HistoryQuery};
use store::{AuditCtx, Evaluated, Rule};

mod defaults;
mod evaluation;
pub mod firing;

pub use defaults::{
    default_rules, product_default_rules, technical_default_rules, threshold_default_rules,
};
pub use evaluation::{active_alerts_of, promql_matching};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One sample of a rule's query: the bucket (day or hour number) it covers, the time it
/// is "as of", and its value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub bucket: i64,
    pub at_ms: i64,
    pub value: f64,
}

/// A rule as the rules page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleView {
    pub rule: Rule,
    pub firing: usize,
    pub pending: usize,
    pub last_eval_at_ms: Option<i64>,
    pub last_value: Option<f64>,
    pub last_error: Option<String>,
}

/// An alert instance that is pending or firing now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlert {
    pub rule_id: i64,
    pub rule_name: String,
    pub severity: Severity,
    pub labels: Labels,
    pub state: AlertState,
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub summary: String,
}

/// What one evaluation cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CycleReport {
    pub rules: usize,
    pub transitions: usize,
    pub errors: usize,
    /// Rules edited while being evaluated (their result was dropped).
    pub skipped: usize,
    /// Distinct queries computed (rules sharing a query share one computation).
    pub queries: usize,
}

/// A span of the backtest where the rule was pending or firing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
    pub firing: bool,
}

/// The editor's preview: what the rule would have done over a past range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub points: Vec<Point>,
    pub threshold: Option<f64>,
    pub spans: Vec<Span>,
    pub evaluations: usize,
    /// Firing messages (first and repeats at the severity's default repeat interval) plus
    /// resolved messages; grouping may merge some.
    pub notifications: usize,
    /// The chart (SVG), `None` without data.
    pub svg: Option<String>,
}

/// How far back a condition needs samples, for a query with `step` and `period`.
fn lookback_ms(spec: &RuleSpec) -> i64 {
    let step = spec.query.step_ms();
    let period = spec.query.period_ms();
    let need = match spec.condition {
        Condition::Threshold { .. } | Condition::Present => step,
        Condition::DropPct { .. } | Condition::RisePct { .. } => period + step,
        Condition::NoData { for_ms } => for_ms + 2 * step,
        Condition::ZScore { window, .. } => (window as i64 + 1) * step,
    };
    // Daily metrics look at the last *complete* day: one more day.
    (need + if spec.query.step_ms() == DAY_MS { DAY_MS } else { 0 }).min(400 * DAY_MS)
}

/// The condition's check at `now_ms` over `points` (oldest first, all as of ≤ now).
fn check_at(spec: &RuleSpec, now_ms: i64, points: &[Point]) -> domain::alerting::Check {
    let samples: Vec<(i64, f64)> = points.iter().map(|p| (p.at_ms, p.value)).collect();
    let previous = points.last().and_then(|last| {
        let back = spec.query.period_ms() / spec.query.step_ms();
        points.iter().rev().find(|p| p.bucket == last.bucket - back).map(|p| p.value)
    });
    spec.condition.check(now_ms, &samples, previous)
}

fn timing(spec: &RuleSpec) -> RuleTiming {
    RuleTiming {
        for_ms: spec.for_ms,
        keep_firing_for_ms: spec.keep_firing_for_ms,
        ..RuleTiming::default()
    }
}

/// A name clash is a problem with the name field.
fn name_taken(e: store::StoreError) -> ServiceError {
    match e {
        store::StoreError::Conflict(m) if m.starts_with("a rule named") => {
            ServiceError::invalid("name", m)
        }
        e => e.into(),
    }
}

fn normalized(mut spec: RuleSpec) -> Result<RuleSpec> {
    spec.name = spec.name.trim().to_owned();
    spec.runbook_url = spec.runbook_url.trim().to_owned();
    spec.validate()?;
    Ok(spec)
}

impl crate::Alerting<'_> {
    // ----- rules -----

    /// Every rule with what the engine last saw (viewer).
    pub async fn list_rules(&self, actor: &Caller) -> Result<Vec<RuleView>> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self
            .store
            .rules_with_state()
            .await?
            .into_iter()
            .map(|r| RuleView {
                firing: r.state.firing().count(),
                pending: r
                    .state
                    .instances
                    .values()
                    .filter(|i| i.state == AlertState::Pending)
                    .count(),
                last_eval_at_ms: r.last_eval_at_ms,
                last_value: r.last_value,
                last_error: r.last_error,
                rule: r.rule,
            })
            .collect())
    }

    pub async fn get_rule(&self, actor: &Caller, id: i64) -> Result<Rule> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.rule(id).await?)
    }

    /// Creates a rule (editor); field errors name the editor's inputs.
    pub async fn create_rule(&self, actor: &Caller, spec: RuleSpec) -> Result<Rule> {
        actor.require(Permission::EditRules)?;
        let spec = normalized(spec)?;
        self.store.create_rule(&spec, &self.audit_ctx(actor)).await.map_err(name_taken)
    }

    /// Saves an edit made on `version` (editor). The engine evaluates the rule at its next
    /// cycle with the new settings.
    pub async fn update_rule(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: RuleSpec,
    ) -> Result<Rule> {
        actor.require(Permission::EditRules)?;
        let spec = normalized(spec)?;
        self.store.update_rule(id, version, &spec, &self.audit_ctx(actor)).await.map_err(name_taken)
    }

    pub async fn delete_rule(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditRules)?;
        self.store.delete_rule(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// Adds the default rules once, on a database that never had rules (start-up and demo),
    /// and the technical ones once on databases seeded before they existed (skipping names
    /// in use). The PromQL rule is enabled only with a Prometheus data source. Returns how
    /// many were added.
    pub async fn seed_default_rules(&self) -> Result<usize> {
        type RuleSet = fn() -> Vec<RuleSpec>;
        // A new database gets every default rule; one seeded by an older Vigil gets the
        // sets added since (by name, so a rule someone deleted or renamed stays as it is).
        const KEY: &str = "alerting.defaults_seeded";
        let later: [(&str, RuleSet); 2] = [
            ("alerting.technical_defaults_seeded", technical_default_rules),
            ("alerting.threshold_defaults_seeded", threshold_default_rules),
        ];
        let ctx = AuditCtx::system("system", self.now_ms());
        let prometheus = self.prometheus_url.is_some();
        let mut n = 0;
        let add = |specs: Vec<RuleSpec>, taken: &[String]| {
            specs
                .into_iter()
                .filter(|s| !taken.contains(&s.name))
                .map(|mut s| {
                    if matches!(s.query, RuleQuery::Promql { .. }) {
                        s.enabled = prometheus;
                    }
                    s
                })
                .collect::<Vec<_>>()
        };
        let mut todo = Vec::new();
        if self.store.setting(KEY).await?.is_none() {
            if self.store.count_rules().await? == 0 {
                todo = add(default_rules(), &[]);
            }
        } else {
            let taken: Vec<String> = self
                .store
                .rules_with_state()
                .await?
                .into_iter()
                .map(|r| r.rule.spec.name)
                .collect();
            for (key, set) in later {
                if self.store.setting(key).await?.is_none() {
                    todo.extend(add(set(), &taken));
                }
            }
        }
        for spec in todo {
            self.store.create_rule(&spec, &ctx).await?;
            n += 1;
        }
        self.store.set_setting(KEY, "1").await?;
        for (key, _) in later {
            self.store.set_setting(key, "1").await?;
        }
        Ok(n)
    }

    // ----- alerts and history -----

    /// Alert instances pending or firing now, firing first, then by severity.
    pub async fn active_alerts(&self, actor: &Caller) -> Result<Vec<ActiveAlert>> {
        actor.require(Permission::ViewAlerts)?;
        Ok(active_alerts_of(&self.store.rules_with_state().await?))
    }

    /// The alert history, newest first (viewer).
    pub async fn alert_history(
        &self,
        actor: &Caller,
        q: &HistoryQuery,
    ) -> Result<Vec<HistoryEntry>> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.alert_history(q).await?)
    }
}

/// A metric's value as people read it: ratios in %, milliseconds rounded, money with two
/// decimals (in the reporting currency).
pub fn format_metric(v: f64, metric: KpiMetric) -> String {
    use domain::alerting::MetricUnit;
    if !v.is_finite() {
        return "—".into();
    }
    match metric.unit() {
        MetricUnit::Millis => format!("{v:.0} ms"),
        MetricUnit::Count => format!("{v:.0}"),
        MetricUnit::Decimal => format!("{v:.2}"),
        MetricUnit::Money => format!("{v:.2}"),
        MetricUnit::Ratio => format!("{:.1}%", v * 100.0),
    }
}

/// The value a rule's condition reports, as shown: a change in %, a z-score, an age, or
/// the metric itself.
pub fn format_rule_value(spec: &RuleSpec, v: f64) -> String {
    match spec.condition {
        Condition::DropPct { .. } | Condition::RisePct { .. } => format!("{v:+.1}%"),
        Condition::ZScore { .. } => format!("z = {v:.2}"),
        Condition::NoData { .. } => domain::alerting::format_duration(v as i64),
        Condition::Threshold { .. } | Condition::Present => format_query_value(&spec.query, v),
    }
}

/// A value of the rule's query: per KPI, or as PromQL gives it.
pub fn format_query_value(q: &RuleQuery, v: f64) -> String {
    match q {
        RuleQuery::Kpi { metric, .. } => format_metric(v, *metric),
        RuleQuery::Promql { .. } => domain::alerting::template::format_value(v),
        RuleQuery::Probe { metric, .. } => format_probe_metric(v, *metric),
    }
}

/// A probe statistic as people read it.
pub fn format_probe_metric(v: f64, metric: ProbeMetric) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    match metric {
        ProbeMetric::Up => (if v >= 1.0 { "up" } else { "down" }).into(),
        ProbeMetric::Availability | ProbeMetric::ErrorRate => {
            let pct = v * 100.0;
            if pct > 99.0 && pct < 100.0 {
                format!("{pct:.3}%")
            } else {
                format!("{pct:.1}%")
            }
        }
        ProbeMetric::LatencyP50Ms | ProbeMetric::LatencyP95Ms | ProbeMetric::LatencyP99Ms => {
            format!("{v:.0} ms")
        }
        ProbeMetric::DowntimeMinutes => format!("{v:.0} min"),
        ProbeMetric::BurnRate => format!("{v:.1}×"),
    }
}

/// The threshold as shown beside the value.
pub fn format_rule_threshold(spec: &RuleSpec) -> Option<String> {
    Some(match spec.condition {
        Condition::Present => return None,
        Condition::Threshold { op, threshold } => {
            format!("{} {}", op.symbol(), format_query_value(&spec.query, threshold))
        }
        Condition::DropPct { pct } => format!("drop > {pct}%"),
        Condition::RisePct { pct } => format!("rise > {pct}%"),
        Condition::ZScore { k, .. } => format!("|z| > {k}"),
        Condition::NoData { for_ms } => {
            format!("no data for {}", domain::alerting::format_duration(for_ms))
        }
    })
}

/// How the backtest chart labels its y axis.
pub fn y_format(q: &RuleQuery) -> crate::charts::YFormat {
    use crate::charts::YFormat;
    match q {
        RuleQuery::Kpi { metric, .. } => match metric.unit() {
            domain::alerting::MetricUnit::Count => YFormat::Count,
            domain::alerting::MetricUnit::Millis => YFormat::Millis,
            domain::alerting::MetricUnit::Decimal => YFormat::Decimal,
            domain::alerting::MetricUnit::Money => YFormat::Money,
            domain::alerting::MetricUnit::Ratio => YFormat::Percent,
        },
        RuleQuery::Promql { .. } => YFormat::Decimal,
        RuleQuery::Probe { metric, .. } => match metric {
            ProbeMetric::Availability | ProbeMetric::ErrorRate => YFormat::Percent,
            ProbeMetric::LatencyP50Ms | ProbeMetric::LatencyP95Ms | ProbeMetric::LatencyP99Ms => {
                YFormat::Millis
            }
            _ => YFormat::Decimal,
        },
    }
}
