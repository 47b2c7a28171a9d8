//! Alerting use cases: rules (editor writes, viewer reads, every write audited), the
//! evaluation cycle the engine loop runs, the alert history, the backtest behind the
//! editor's preview, and the default rules from the requirements.
//!
//! A rule's samples come from the same rollups the dashboards read ([`Services::series`]);
//! `domain::alerting` decides what they mean.

use crate::events::{day_start_ms, local_day, AiHour};
use crate::probes::probe_matching;
use crate::{Caller, ServiceError};
use domain::alerting::{
    AlertState, CompareOp, Condition, KpiMetric, Labels, RuleQuery, RuleSpec, RuleState,
    RuleTiming, Sample, Severity,
};
use domain::kpi::ratios::FeedbackCounts;
use domain::probe::ProbeMetric;
use domain::Permission;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
pub use store::alerting::{state_str, HistoryEntry, HistoryQuery};
use store::{AuditCtx, Evaluated, Rule};

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

/// The rules the requirements name: product KPIs (seeds §2.1–2.2) and the technical ones
/// (probes, the SLO burn-rate alerts, CPU through Prometheus).
pub fn default_rules() -> Vec<RuleSpec> {
    let mut out = product_default_rules();
    out.extend(technical_default_rules());
    out
}

/// API latency, error rate and availability on every probe, the SRE workbook's four
/// multiwindow burn-rate alerts for a 99.9 % / 30-day SLO (two page at P1, two open a P3
/// ticket), and CPU > 90 % for 10 minutes through PromQL.
pub fn technical_default_rules() -> Vec<RuleSpec> {
    use CompareOp::{Eq, Gt};
    let probe = |metric, window_minutes, short_window_minutes| RuleQuery::Probe {
        probe: String::new(),
        metric,
        window_minutes,
        short_window_minutes,
    };
    let rule = |name: &str, sev, query, op, threshold, for_min: i64, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, KpiMetric::Dau, op, threshold);
        s.query = query;
        s.for_ms = for_min * 60_000;
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "sre".into());
        s
    };
    let mut out = vec![
        rule(
            "API P95 above 5 s",
            Severity::P1,
            probe(ProbeMetric::LatencyP95Ms, 5, 0),
            Gt,
            5000.0,
            5,
            "{{ $labels.probe }} P95 latency is {{ $value }} ms",
        ),
        rule(
            "API error rate above 10%",
            Severity::P1,
            probe(ProbeMetric::ErrorRate, 5, 0),
            Gt,
            0.1,
            5,
            "{{ $labels.probe }} fails {{ $value }} of checks",
        ),
        rule(
            "Service down for 5 minutes",
            Severity::P0,
            probe(ProbeMetric::Up, 5, 0),
            Eq,
            0.0,
            5,
            "{{ $labels.probe }} has been down for 5 minutes",
        ),
    ];
    out[2].open_incident = true;
    for a in domain::probe::BURN_ALERTS {
        let (long, short) = (a.long_ms / 60_000, a.short_ms / 60_000);
        let words = |m: i64| domain::alerting::format_duration(m * 60_000);
        let mut r = rule(
            &format!(
                "SLO burn rate {}× over {} and {} ({})",
                a.factor,
                words(long),
                words(short),
                if a.page { "page" } else { "ticket" }
            ),
            if a.page { Severity::P1 } else { Severity::P3 },
            probe(ProbeMetric::BurnRate, long as u32, short as u32),
            Gt,
            a.factor,
            0,
            "{{ $labels.probe }} burns its 99.9% error budget {{ $value }} times too fast",
        );
        r.labels.insert("slo".into(), "availability-99.9".into());
        out.push(r);
    }
    let mut cpu = rule(
        "CPU above 90% for 10 minutes",
        Severity::P1,
        RuleQuery::Promql {
            expr: "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))"
                .into(),
        },
        Gt,
        90.0,
        10,
        "CPU of {{ $labels.instance }} is {{ $value }}%",
    );
    cpu.description = "Needs VIGIL_PROMETHEUS_URL and node_exporter; seeded disabled without a Prometheus data source.".into();
    out.push(cpu);
    out
}

/// The product KPI rules of seeds §2.1–2.2.
pub fn product_default_rules() -> Vec<RuleSpec> {
    use CompareOp::{Gt, Lt};
    use KpiMetric as M;
    let mut out = Vec::new();
    let mut push = |name: &str, sev, metric, cond: Condition, window_h: u32, summary: &str| {
        let mut s = RuleSpec::kpi_threshold(name, sev, metric, Gt, 0.0);
        s.condition = cond;
        s.query = RuleQuery::Kpi {
            metric,
            window_minutes: window_h * 60,
        };
        s.summary = summary.to_owned();
        s.labels.insert("team".into(), "product".into());
        if !metric.is_daily() {
            s.for_ms = 10 * 60_000;
        }
        out.push(s);
    };
    let th = |op, threshold| Condition::Threshold { op, threshold };
    push(
        "Registrations dropped more than 30%",
        Severity::P2,
        M::Registrations,
        Condition::DropPct { pct: 30.0 },
        24,
        "Registrations changed {{ $value }}% day over day",
    );
    push(
        "DAU dropped more than 20%",
        Severity::P2,
        M::Dau,
        Condition::DropPct { pct: 20.0 },
        24,
        "DAU changed {{ $value }}% day over day",
    );
    push(
        "AI success rate below 90%",
        Severity::P1,
        M::AiSuccessRate,
        th(Lt, 0.9),
        1,
        "AI dialog success rate is {{ $value }} (threshold {{ $threshold }})",
    );
    push(
        "AI success rate below 95%",
        Severity::P2,
        M::AiSuccessRate,
        th(Lt, 0.95),
        1,
        "AI dialog success rate is {{ $value }} (threshold {{ $threshold }})",
    );
    push(
        "AI response P95 above 3 s",
        Severity::P2,
        M::AiResponseP95Ms,
        th(Gt, 3000.0),
        1,
        "AI response P95 is {{ $value }} ms",
    );
    push(
        "AI response P99 above 5 s",
        Severity::P1,
        M::AiResponseP99Ms,
        th(Gt, 5000.0),
        1,
        "AI response P99 is {{ $value }} ms",
    );
    push(
        "Knowledge-base coverage below 70%",
        Severity::P2,
        M::KbCoverage,
        th(Lt, 0.7),
        24,
        "Knowledge-base coverage is {{ $value }}",
    );
    push(
        "Resolution rate below 80%",
        Severity::P3,
        M::ResolutionRate,
        th(Lt, 0.8),
        24,
        "Resolution rate is {{ $value }}",
    );
    push(
        "Satisfaction below 4.0",
        Severity::P3,
        M::Satisfaction,
        th(Lt, 4.0),
        24,
        "Mean rating is {{ $value }}",
    );
    push(
        "Bad-review rate above 15%",
        Severity::P3,
        M::BadReviewRate,
        th(Gt, 0.15),
        24,
        "Share of 1–2 star ratings is {{ $value }}",
    );
    out
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
    (need
        + if spec.query.step_ms() == DAY_MS {
            DAY_MS
        } else {
            0
        })
    .min(400 * DAY_MS)
}

/// The condition's check at `now_ms` over `points` (oldest first, all as of ≤ now).
fn check_at(spec: &RuleSpec, now_ms: i64, points: &[Point]) -> domain::alerting::Check {
    let samples: Vec<(i64, f64)> = points.iter().map(|p| (p.at_ms, p.value)).collect();
    let previous = points.last().and_then(|last| {
        let back = spec.query.period_ms() / spec.query.step_ms();
        points
            .iter()
            .rev()
            .find(|p| p.bucket == last.bucket - back)
            .map(|p| p.value)
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

fn normalized(mut spec: RuleSpec) -> Result<RuleSpec, ServiceError> {
    spec.name = spec.name.trim().to_owned();
    spec.runbook_url = spec.runbook_url.trim().to_owned();
    spec.validate()?;
    Ok(spec)
}

impl crate::Alerting<'_> {
    // ----- rules -----

    /// Every rule with what the engine last saw (viewer).
    pub async fn list_rules(&self, actor: &Caller) -> Result<Vec<RuleView>, ServiceError> {
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

    pub async fn get_rule(&self, actor: &Caller, id: i64) -> Result<Rule, ServiceError> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.rule(id).await?)
    }

    /// Creates a rule (editor); field errors name the editor's inputs.
    pub async fn create_rule(&self, actor: &Caller, spec: RuleSpec) -> Result<Rule, ServiceError> {
        actor.require(Permission::EditRules)?;
        let spec = normalized(spec)?;
        self.store
            .create_rule(&spec, &actor.audit(self.now_ms()))
            .await
            .map_err(name_taken)
    }

    /// Saves an edit made on `version` (editor). The engine evaluates the rule at its next
    /// cycle with the new settings.
    pub async fn update_rule(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: RuleSpec,
    ) -> Result<Rule, ServiceError> {
        actor.require(Permission::EditRules)?;
        let spec = normalized(spec)?;
        self.store
            .update_rule(id, version, &spec, &actor.audit(self.now_ms()))
            .await
            .map_err(name_taken)
    }

    pub async fn delete_rule(&self, actor: &Caller, id: i64) -> Result<(), ServiceError> {
        actor.require(Permission::EditRules)?;
        self.store
            .delete_rule(id, &actor.audit(self.now_ms()))
            .await?;
        Ok(())
    }

    /// Adds the default rules once, on a database that never had rules (start-up and demo),
    /// and the technical ones once on databases seeded before they existed (skipping names
    /// in use). The PromQL rule is enabled only with a Prometheus data source. Returns how
    /// many were added.
    pub async fn seed_default_rules(&self) -> Result<usize, ServiceError> {
        const KEY: &str = "alerting.defaults_seeded";
        const TECH_KEY: &str = "alerting.technical_defaults_seeded";
        let ctx = AuditCtx::system("system", self.now_ms());
        let prometheus = self.prometheus_url.is_some();
        let mut n = 0;
        let add = |specs: Vec<RuleSpec>, taken: Vec<String>| {
            specs
                .into_iter()
                .filter(move |s| !taken.contains(&s.name))
                .map(move |mut s| {
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
                todo = add(default_rules(), Vec::new());
            }
        } else if self.store.setting(TECH_KEY).await?.is_none() {
            let taken = self
                .store
                .rules_with_state()
                .await?
                .into_iter()
                .map(|r| r.rule.spec.name)
                .collect();
            todo = add(technical_default_rules(), taken);
        }
        for spec in todo {
            self.store.create_rule(&spec, &ctx).await?;
            n += 1;
        }
        self.store.set_setting(KEY, "1").await?;
        self.store.set_setting(TECH_KEY, "1").await?;
        Ok(n)
    }

    // ----- alerts and history -----

    /// Alert instances pending or firing now, firing first, then by severity.
    pub async fn active_alerts(&self, actor: &Caller) -> Result<Vec<ActiveAlert>, ServiceError> {
        actor.require(Permission::ViewAlerts)?;
        Ok(active_alerts_of(&self.store.rules_with_state().await?))
    }

    /// The alert history, newest first (viewer).
    pub async fn alert_history(
        &self,
        actor: &Caller,
        q: &HistoryQuery,
    ) -> Result<Vec<HistoryEntry>, ServiceError> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.alert_history(q).await?)
    }

    // ----- evaluation -----

    /// Samples of `query` as of `from_ms..=to_ms`, oldest first. Daily metrics give one
    /// point per complete day (as of the day's end); windowed rates one point per hour,
    /// each over the window ending then (the last one as of `to_ms`, the current hour
    /// included). Buckets without data give no point.
    pub async fn series(
        &self,
        query: &RuleQuery,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>, ServiceError> {
        match query {
            RuleQuery::Kpi { metric, .. } if metric.is_daily() => {
                self.daily_series(*metric, from_ms, to_ms).await
            }
            RuleQuery::Kpi {
                metric,
                window_minutes,
            } => {
                let w = i64::from(*window_minutes / 60).max(1);
                self.windowed_series(*metric, w, from_ms, to_ms).await
            }
            RuleQuery::Probe { .. } => {
                let step = ((to_ms - from_ms) / 600).max(60_000) / 60_000 * 60_000;
                let timeline = self
                    .probes()
                    .probe_timeline(query, from_ms, to_ms, step)
                    .await?;
                Ok(first_probe_points(&timeline, step))
            }
            RuleQuery::Promql { expr } => {
                // The first series, for callers that want one line (charts).
                let step = ((to_ms - from_ms) / 600).max(60_000) / 60_000 * 60_000;
                let series = self.promql_range(expr, from_ms, to_ms, step).await?;
                Ok(series
                    .into_iter()
                    .next()
                    .map(|(_, pts)| {
                        pts.into_iter()
                            .map(|(t, v)| Point {
                                bucket: t / step,
                                at_ms: t,
                                value: v,
                            })
                            .collect()
                    })
                    .unwrap_or_default())
            }
        }
    }

    async fn daily_series(
        &self,
        metric: KpiMetric,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>, ServiceError> {
        let tz = self.events().reporting_tz();
        let first = local_day(from_ms, tz);
        let last = local_day(to_ms, tz) - 1; // the last complete day
        if first > last {
            return Ok(Vec::new());
        }
        let values: Vec<(i32, f64)> = match metric {
            KpiMetric::Dau | KpiMetric::Registrations => {
                let key = if metric == KpiMetric::Dau {
                    "active"
                } else {
                    "registered"
                };
                let sets = self.events().day_sets(key, first, last).await?;
                (first..=last)
                    .map(|d| (d, sets.get(&d).map_or(0, |s| s.len()) as f64))
                    .collect()
            }
            _ => {
                let from_h = day_start_ms(first, tz).div_euclid(HOUR_MS);
                let to_h = (day_start_ms(last + 1, tz) - 1).div_euclid(HOUR_MS);
                let mut by_day: std::collections::BTreeMap<i32, u64> =
                    (first..=last).map(|d| (d, 0)).collect();
                for (hour, data) in self.store.hourly("ai", from_h, to_h).await? {
                    let v: AiHour = parse_hourly(&data)?;
                    if let Some(n) = by_day.get_mut(&local_day(hour * HOUR_MS, tz)) {
                        *n += v.counts.ended;
                    }
                }
                by_day.into_iter().map(|(d, n)| (d, n as f64)).collect()
            }
        };
        Ok(values
            .into_iter()
            .map(|(d, value)| Point {
                bucket: i64::from(d),
                at_ms: day_start_ms(d + 1, tz),
                value,
            })
            .collect())
    }

    async fn windowed_series(
        &self,
        metric: KpiMetric,
        window_h: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>, ServiceError> {
        let h0 = from_ms.div_euclid(HOUR_MS);
        let h1 = to_ms.div_euclid(HOUR_MS);
        if h0 > h1 {
            return Ok(Vec::new());
        }
        let feedback = matches!(
            metric,
            KpiMetric::ResolutionRate | KpiMetric::Satisfaction | KpiMetric::BadReviewRate
        );
        let key = if feedback { "feedback" } else { "ai" };
        let rows = self.store.hourly(key, h0 - window_h + 1, h1).await?;
        let mut out = Vec::new();
        if feedback {
            let hours: HashMap<i64, FeedbackCounts> = rows
                .iter()
                .map(|(h, d)| Ok((*h, parse_hourly(d)?)))
                .collect::<Result<_, ServiceError>>()?;
            for h in h0..=h1 {
                let mut acc = FeedbackCounts::default();
                for x in h - window_h + 1..=h {
                    if let Some(v) = hours.get(&x) {
                        acc.merge(v);
                    }
                }
                let value = match metric {
                    KpiMetric::ResolutionRate => acc.resolution_rate(),
                    KpiMetric::Satisfaction => acc.satisfaction(),
                    _ => acc.bad_review_rate(),
                };
                if let Some(value) = value {
                    out.push(Point {
                        bucket: h,
                        at_ms: ((h + 1) * HOUR_MS).min(to_ms),
                        value,
                    });
                }
            }
        } else {
            let hours: HashMap<i64, AiHour> = rows
                .iter()
                .map(|(h, d)| Ok((*h, parse_hourly(d)?)))
                .collect::<Result<_, ServiceError>>()?;
            for h in h0..=h1 {
                let mut acc = AiHour::default();
                for x in h - window_h + 1..=h {
                    if let Some(v) = hours.get(&x) {
                        acc.merge(v);
                    }
                }
                let value = match metric {
                    KpiMetric::AiSuccessRate => acc.counts.success_rate(),
                    KpiMetric::AiResponseP95Ms => acc.response_ms.quantile(0.95),
                    KpiMetric::AiResponseP99Ms => acc.response_ms.quantile(0.99),
                    KpiMetric::KbCoverage => acc.counts.kb_coverage(),
                    _ => acc.counts.transfer_to_human(),
                };
                if let Some(value) = value {
                    out.push(Point {
                        bucket: h,
                        at_ms: ((h + 1) * HOUR_MS).min(to_ms),
                        value,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Evaluates every enabled rule that is due: computes its query (once per distinct
    /// query and look-back in the cycle), checks the condition, advances the instances with
    /// Prometheus' semantics and stores the new state and transitions together. A rule
    /// whose query fails keeps its state and records the error; the others go on.
    pub async fn evaluate_due_rules(&self) -> Result<CycleReport, ServiceError> {
        let now = self.now_ms();
        let due = self.store.due_rules(now).await?;
        let mut report = CycleReport {
            rules: due.len(),
            ..CycleReport::default()
        };
        let mut cache: HashMap<(RuleQuery, i64), QueryResult> = HashMap::new();
        // Evaluate everything first, then store the cycle in chunks (one commit each).
        struct Out {
            state: RuleState,
            value: Option<f64>,
            error: Option<String>,
            transitions: Vec<domain::alerting::Transition>,
        }
        let mut outs = Vec::with_capacity(due.len());
        let mut prom_cache: HashMap<String, Result<Vec<(Labels, f64)>, String>> = HashMap::new();
        let mut probe_cache: HashMap<RuleQuery, Result<ProbeValues, String>> = HashMap::new();
        let mut probes: Option<Vec<store::Probe>> = None;
        for r in &due {
            let spec = &r.rule.spec;
            let result: Result<(Vec<Sample>, Option<f64>), String> = match &spec.query {
                RuleQuery::Probe { .. } => {
                    if !probe_cache.contains_key(&spec.query) {
                        if probes.is_none() {
                            probes = Some(self.store.probes().await?);
                        }
                        let res = self
                            .probes()
                            .probe_query_values(&spec.query, probes.as_deref().unwrap_or(&[]), now)
                            .await
                            .map_err(|e| e.to_string());
                        probe_cache.insert(spec.query.clone(), res);
                        report.queries += 1;
                    }
                    probe_cache[&spec.query]
                        .as_ref()
                        .map(|values| probe_matching(&spec.condition, values))
                        .map_err(Clone::clone)
                }
                RuleQuery::Promql { expr } => {
                    if !prom_cache.contains_key(expr) {
                        let res = self
                            .promql_instant(expr, now)
                            .await
                            .map_err(|e| e.to_string());
                        prom_cache.insert(expr.clone(), res);
                        report.queries += 1;
                    }
                    prom_cache[expr]
                        .as_ref()
                        .map(|series| promql_matching(&spec.condition, series))
                        .map_err(Clone::clone)
                }
                RuleQuery::Kpi { .. } => {
                    let lookback = lookback_ms(spec);
                    let key = (spec.query.clone(), lookback);
                    if !cache.contains_key(&key) {
                        let res = self
                            .series(&spec.query, now - lookback, now)
                            .await
                            .map(std::sync::Arc::new)
                            .map_err(|e| e.to_string());
                        cache.insert(key.clone(), res);
                        report.queries += 1;
                    }
                    cache[&key]
                        .as_ref()
                        .map(|points| kpi_matching(spec, now, points))
                        .map_err(Clone::clone)
                }
            };
            outs.push(match result {
                Ok((matching, value)) => {
                    let mut state = r.state.clone();
                    let transitions = state.evaluate(timing(spec), now, &matching);
                    Out {
                        state,
                        value,
                        error: None,
                        transitions,
                    }
                }
                Err(e) => {
                    report.errors += 1;
                    Out {
                        state: r.state.clone(),
                        value: r.last_value,
                        error: Some(e),
                        transitions: Vec::new(),
                    }
                }
            });
        }
        for (rules, outs) in due.chunks(1000).zip(outs.chunks(1000)) {
            let batch: Vec<Evaluated<'_>> = rules
                .iter()
                .zip(outs)
                .map(|(r, o)| Evaluated {
                    rule_id: r.rule.id,
                    version: r.rule.version,
                    rule_name: &r.rule.spec.name,
                    severity: r.rule.spec.severity,
                    state: &o.state,
                    at_ms: now,
                    next_eval_at_ms: now + r.rule.spec.interval_ms,
                    last_value: o.value,
                    last_error: o.error.as_deref(),
                    transitions: &o.transitions,
                })
                .collect();
            let stored = self.store.record_evaluations(&batch).await?;
            for (ok, e) in stored.iter().zip(&batch) {
                if *ok {
                    report.transitions += e.transitions.len();
                } else {
                    report.skipped += 1;
                }
            }
        }
        Ok(report)
    }

    /// What `spec` would have done over `from_ms..to_ms`: evaluated at the end of every
    /// step (hour or day) of its query, with its `for` and `keep_firing_for`.
    pub async fn backtest(
        &self,
        actor: &Caller,
        spec: RuleSpec,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Backtest, ServiceError> {
        // A PromQL backtest runs the caller's query against the configured Prometheus:
        // that is an editor's power, not a viewer's. KPI and probe backtests only read
        // what a viewer sees anyway.
        actor.require(if matches!(spec.query, RuleQuery::Promql { .. }) {
            Permission::EditRules
        } else {
            Permission::ViewAlerts
        })?;
        let spec = normalized(spec)?;
        if to_ms <= from_ms {
            return Err(ServiceError::invalid("range", "must end after it starts"));
        }
        if to_ms - from_ms > 90 * DAY_MS {
            return Err(ServiceError::invalid("range", "covers at most 90 days"));
        }
        // The evaluations to simulate: (time, matching samples), and the points to draw.
        let (evals, points, step): (Vec<Evaluation>, Vec<Point>, i64) = match &spec.query {
            RuleQuery::Promql { expr } => {
                let step =
                    ((to_ms - from_ms) / 600).max(spec.interval_ms).max(60_000) / 60_000 * 60_000;
                let series = self.promql_range(expr, from_ms, to_ms, step).await?;
                let mut at: std::collections::BTreeMap<i64, Vec<(Labels, f64)>> = (0..)
                    .map(|k| from_ms + k * step)
                    .take_while(|t| *t <= to_ms)
                    .map(|t| (t, Vec::new()))
                    .collect();
                for (labels, pts) in &series {
                    for (t, v) in pts {
                        at.entry(*t).or_default().push((labels.clone(), *v));
                    }
                }
                let evals = at
                    .iter()
                    .map(|(t, s)| (*t, promql_matching(&spec.condition, s).0))
                    .collect();
                let points = series
                    .first()
                    .map(|(_, pts)| {
                        pts.iter()
                            .map(|(t, v)| Point {
                                bucket: t / step,
                                at_ms: *t,
                                value: *v,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (evals, points, step)
            }
            RuleQuery::Probe { .. } => {
                let step =
                    ((to_ms - from_ms) / 600).max(spec.interval_ms).max(60_000) / 60_000 * 60_000;
                let timeline = self
                    .probes()
                    .probe_timeline(&spec.query, from_ms, to_ms, step)
                    .await?;
                let points = first_probe_points(&timeline, step);
                let evals = timeline
                    .iter()
                    .map(|(t, vals)| (*t, probe_matching(&spec.condition, vals).0))
                    .collect();
                (evals, points, step)
            }
            RuleQuery::Kpi { .. } => {
                let lookback = lookback_ms(&spec);
                let all = self.series(&spec.query, from_ms - lookback, to_ms).await?;
                let step = spec.query.step_ms();
                let mut evals = Vec::new();
                let mut now = ((from_ms.div_euclid(step) + 1) * step).min(to_ms);
                loop {
                    let visible: Vec<Point> = all
                        .iter()
                        .filter(|p| p.at_ms <= now && p.at_ms > now - lookback)
                        .copied()
                        .collect();
                    evals.push((now, kpi_matching(&spec, now, &visible).0));
                    if now >= to_ms {
                        break;
                    }
                    now = (now + step).min(to_ms);
                }
                let points = all
                    .into_iter()
                    .filter(|p| p.at_ms > from_ms && p.at_ms <= to_ms)
                    .collect();
                (evals, points, step)
            }
        };
        let t = timing(&spec);
        let mut state = RuleState::default();
        let mut spans: Vec<Span> = Vec::new();
        let mut evaluations = 0;
        let mut notifications = 0;
        let repeat = spec.severity.default_repeat_ms();
        let mut firing_since: Option<i64> = None;
        let mut prev_eval: Option<i64> = None;
        for (now, matching) in evals {
            state.evaluate(t, now, &matching);
            evaluations += 1;
            let firing = state
                .instances
                .values()
                .any(|i| i.state == AlertState::Firing);
            let pending = !firing
                && state
                    .instances
                    .values()
                    .any(|i| i.state == AlertState::Pending);
            let since = prev_eval.unwrap_or(now - step);
            match spans.last_mut() {
                Some(s) if s.to_ms == since && s.firing == firing && (firing || pending) => {
                    s.to_ms = now;
                }
                _ if firing || pending => spans.push(Span {
                    from_ms: since,
                    to_ms: now,
                    firing,
                }),
                _ => {}
            }
            match (firing, firing_since) {
                (true, None) => {
                    firing_since = Some(now);
                    notifications += 1;
                }
                (true, Some(start)) => {
                    // Repeats due by now (one per repeat interval since firing started).
                    let due = (now - start) / repeat;
                    let prev_due = (since - start).max(0) / repeat;
                    notifications += usize::try_from(due - prev_due).unwrap_or(0);
                }
                (false, Some(_)) => {
                    firing_since = None;
                    notifications += 1; // resolved
                }
                (false, None) => {}
            }
            prev_eval = Some(now);
        }
        let threshold = match spec.condition {
            Condition::Threshold { threshold, .. } => Some(threshold),
            _ => None,
        };
        let svg = crate::charts::timeline_chart(
            &points
                .iter()
                .map(|p| (p.at_ms, p.value))
                .collect::<Vec<_>>(),
            threshold,
            &spans
                .iter()
                .map(|s| (s.from_ms, s.to_ms, s.firing))
                .collect::<Vec<_>>(),
            y_format(&spec.query),
            (from_ms, to_ms),
            self.events().reporting_tz(),
        )?;
        Ok(Backtest {
            points,
            threshold,
            spans,
            evaluations,
            notifications,
            svg,
        })
    }
}

/// One simulated evaluation of a backtest: its time and the samples that matched.
type Evaluation = (i64, Vec<Sample>);

/// A query's points computed once per cycle, or its error.
type QueryResult = Result<std::sync::Arc<Vec<Point>>, String>;

/// Per probe: its instance labels and value (`None`: no runs in the window).
type ProbeValues = Vec<(Labels, Option<f64>)>;

/// The first covered probe's values along a probe timeline, as chart points (one line for
/// the chart; every probe is still its own alert instance).
fn first_probe_points(timeline: &[(i64, ProbeValues)], step: i64) -> Vec<Point> {
    timeline
        .iter()
        .filter_map(|(t, vals)| {
            vals.first().and_then(|v| v.1).map(|value| Point {
                bucket: t / step,
                at_ms: *t,
                value,
            })
        })
        .collect()
}

/// A KPI rule's matching samples at `now` (one series, no labels) and the value to show.
fn kpi_matching(spec: &RuleSpec, now: i64, points: &[Point]) -> (Vec<Sample>, Option<f64>) {
    let c = check_at(spec, now, points);
    let matching = if c.holds {
        vec![Sample {
            labels: Labels::new(),
            value: c.value.unwrap_or(0.0),
        }]
    } else {
        Vec::new()
    };
    (matching, c.value)
}

/// Alert instances pending or firing in `rules`, firing first, then by severity.
pub fn active_alerts_of(rules: &[store::RuleWithState]) -> Vec<ActiveAlert> {
    let mut out = Vec::new();
    for r in rules {
        let spec = &r.rule.spec;
        for (labels, i) in &r.state.instances {
            if i.state == AlertState::Inactive {
                continue;
            }
            let all = spec.alert_labels(labels);
            out.push(ActiveAlert {
                rule_id: r.rule.id,
                rule_name: spec.name.clone(),
                severity: spec.severity,
                summary: domain::alerting::template::expand(
                    &spec.summary,
                    Some(i.value),
                    spec.threshold(),
                    &all,
                ),
                labels: all,
                state: i.state,
                value: i.value,
                active_at_ms: i.active_at_ms,
                fired_at_ms: i.fired_at_ms,
            });
        }
    }
    out.sort_by_key(|a| (a.state != AlertState::Firing, a.severity, -a.active_at_ms));
    out
}

/// A PromQL rule's matching samples: every series whose value passes the threshold (its
/// labels identify the instance); for "no data", one instance when the result is empty.
pub fn promql_matching(cond: &Condition, series: &[(Labels, f64)]) -> (Vec<Sample>, Option<f64>) {
    let value = series.first().map(|s| s.1);
    let matching = match cond {
        Condition::Threshold { op, threshold } => series
            .iter()
            .filter(|(_, v)| op.holds(*v, *threshold))
            .map(|(l, v)| Sample {
                labels: l.clone(),
                value: *v,
            })
            .collect(),
        Condition::Present => series
            .iter()
            .map(|(l, v)| Sample {
                labels: l.clone(),
                value: *v,
            })
            .collect(),
        Condition::NoData { .. } if series.is_empty() => vec![Sample {
            labels: Labels::new(),
            value: 0.0,
        }],
        _ => Vec::new(),
    };
    let shown = matching.first().map(|s| s.value).or(value);
    (matching, shown)
}

fn parse_hourly<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, ServiceError> {
    serde_json::from_str(data)
        .map_err(|e| ServiceError::Internal(format!("corrupt hourly rollup: {e}")))
}

/// A metric's value as people read it: ratios in %, milliseconds rounded.
pub fn format_metric(v: f64, metric: KpiMetric) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    match metric {
        KpiMetric::AiResponseP95Ms | KpiMetric::AiResponseP99Ms => format!("{v:.0} ms"),
        KpiMetric::Dau | KpiMetric::Registrations | KpiMetric::AiDialogs => format!("{v:.0}"),
        KpiMetric::Satisfaction => format!("{v:.2}"),
        _ => format!("{:.1}%", v * 100.0),
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
            format!(
                "{} {}",
                op.symbol(),
                format_query_value(&spec.query, threshold)
            )
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
        RuleQuery::Kpi { metric, .. } => match metric {
            KpiMetric::Dau | KpiMetric::Registrations | KpiMetric::AiDialogs => YFormat::Count,
            KpiMetric::AiResponseP95Ms | KpiMetric::AiResponseP99Ms => YFormat::Millis,
            KpiMetric::Satisfaction => YFormat::Decimal,
            _ => YFormat::Percent,
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
