//! The evaluation cycle the engine runs, the samples behind it (daily and windowed
//! series, probes, PromQL), and the backtest behind the rule editor's preview.

use super::*;
use crate::Result;

impl crate::Alerting<'_> {
    // ----- evaluation -----

    /// Samples of `query` as of `from_ms..=to_ms`, oldest first. Daily metrics give one
    /// point per complete day (as of the day's end); windowed rates one point per hour,
    /// each over the window ending then (the last one as of `to_ms`, the current hour
    /// included). Buckets without data give no point.
    pub async fn series(&self, query: &RuleQuery, from_ms: i64, to_ms: i64) -> Result<Vec<Point>> {
        match query {
            RuleQuery::Kpi { metric, segment, .. } if metric.catalogue_key().is_some() => {
                self.catalogue_series(*metric, segment, from_ms, to_ms).await
            }
            RuleQuery::Kpi { metric, .. } if metric.is_daily() => {
                self.daily_series(*metric, from_ms, to_ms).await
            }
            RuleQuery::Kpi { metric, window_minutes, .. } => {
                let w = i64::from(*window_minutes / 60).max(1);
                self.windowed_series(*metric, w, from_ms, to_ms).await
            }
            RuleQuery::Probe { .. } => {
                let step = ((to_ms - from_ms) / 600).max(60_000) / 60_000 * 60_000;
                let timeline = self.probes().probe_timeline(query, from_ms, to_ms, step).await?;
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
                            .map(|(t, v)| Point { bucket: t / step, at_ms: t, value: v })
                            .collect()
                    })
                    .unwrap_or_default())
            }
        }
    }

    /// A daily metric of the KPI catalogue: for each complete day, its dashboard card over
    /// that day (retention: over the day of the cohort whose day n that is). Days whose
    /// card is undefined (no subscribers, no cohort…) give no point.
    async fn catalogue_series(
        &self,
        metric: KpiMetric,
        segment: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>> {
        let tz = self.events().reporting_tz();
        let first = local_day(from_ms, tz);
        let last = local_day(to_ms, tz) - 1;
        let Some(def) = metric.catalogue_key().and_then(crate::kpi::catalogue::find) else {
            return Ok(Vec::new());
        };
        let system = crate::Caller::system("rules");
        let segment = (!segment.is_empty()).then_some(segment);
        let back = metric.cohort_offset_days();
        let mut out = Vec::new();
        for d in first..=last {
            let day = crate::kpi::DayRange { from: d - back, to: d - back };
            let card = self.kpis().kpi_card(&system, def, day, segment).await?;
            if let Some(value) = card.value {
                out.push(Point { bucket: i64::from(d), at_ms: day_start_ms(d + 1, tz), value });
            }
        }
        Ok(out)
    }

    async fn daily_series(
        &self,
        metric: KpiMetric,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>> {
        let tz = self.events().reporting_tz();
        let first = local_day(from_ms, tz);
        let last = local_day(to_ms, tz) - 1; // the last complete day
        if first > last {
            return Ok(Vec::new());
        }
        let values: Vec<(i32, f64)> = match metric {
            KpiMetric::Dau | KpiMetric::Registrations => {
                let key = if metric == KpiMetric::Dau { "active" } else { "registered" };
                let sets = self.events().day_sets(key, first, last).await?;
                (first..=last).map(|d| (d, sets.get(&d).map_or(0, |s| s.len()) as f64)).collect()
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
            .map(|(d, value)| Point { bucket: i64::from(d), at_ms: day_start_ms(d + 1, tz), value })
            .collect())
    }

    async fn windowed_series(
        &self,
        metric: KpiMetric,
        window_h: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>> {
        let h0 = from_ms.div_euclid(HOUR_MS);
        let h1 = to_ms.div_euclid(HOUR_MS);
        if h0 > h1 {
            return Ok(Vec::new());
        }
        match metric {
            KpiMetric::ResolutionRate | KpiMetric::Satisfaction | KpiMetric::BadReviewRate => {
                self.windowed("feedback", window_h, h0, h1, to_ms, FeedbackCounts::merge, |acc| {
                    match metric {
                        KpiMetric::ResolutionRate => acc.resolution_rate(),
                        KpiMetric::Satisfaction => acc.satisfaction(),
                        _ => acc.bad_review_rate(),
                    }
                })
                .await
            }
            KpiMetric::Nps => {
                self.windowed("nps", window_h, h0, h1, to_ms, NpsCounts::merge, NpsCounts::nps)
                    .await
            }
            _ => {
                self.windowed("ai", window_h, h0, h1, to_ms, AiHour::merge, |acc| match metric {
                    KpiMetric::AiSuccessRate => acc.counts.success_rate(),
                    KpiMetric::AiResponseP50Ms => acc.response_ms.quantile(0.5),
                    KpiMetric::AiResponseP95Ms => acc.response_ms.quantile(0.95),
                    KpiMetric::AiResponseP99Ms => acc.response_ms.quantile(0.99),
                    KpiMetric::KbCoverage => acc.counts.kb_coverage(),
                    _ => acc.counts.transfer_to_human(),
                })
                .await
            }
        }
    }

    /// One point per hour `h0..=h1`: `value` of the hourly rollups `key` merged over the
    /// `window_h` hours ending then (hours without a value give no point).
    #[allow(clippy::too_many_arguments)]
    async fn windowed<T: serde::de::DeserializeOwned + Default>(
        &self,
        key: &str,
        window_h: i64,
        h0: i64,
        h1: i64,
        to_ms: i64,
        merge: fn(&mut T, &T),
        value: impl Fn(&T) -> Option<f64>,
    ) -> Result<Vec<Point>> {
        let rows = self.store.hourly(key, h0 - window_h + 1, h1).await?;
        let hours: HashMap<i64, T> =
            rows.iter().map(|(h, d)| Ok((*h, parse_hourly(d)?))).collect::<Result<_>>()?;
        let mut out = Vec::new();
        for h in h0..=h1 {
            let mut acc = T::default();
            for x in h - window_h + 1..=h {
                if let Some(v) = hours.get(&x) {
                    merge(&mut acc, v);
                }
            }
            if let Some(value) = value(&acc) {
                out.push(Point { bucket: h, at_ms: ((h + 1) * HOUR_MS).min(to_ms), value });
            }
        }
        Ok(out)
    }

    /// Evaluates every enabled rule that is due: computes its query (once per distinct
    /// query and look-back in the cycle), checks the condition, advances the instances with
    /// Prometheus' semantics and stores the new state and transitions together. A rule
    /// whose query fails keeps its state and records the error; the others go on.
    pub async fn evaluate_due_rules(&self) -> Result<CycleReport> {
        let now = self.now_ms();
        let due = self.store.due_rules(now).await?;
        let mut report = CycleReport { rules: due.len(), ..CycleReport::default() };
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
                        let res = self.promql_instant(expr, now).await.map_err(|e| e.to_string());
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
                    Out { state, value, error: None, transitions }
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
    ) -> Result<Backtest> {
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
                let evals =
                    at.iter().map(|(t, s)| (*t, promql_matching(&spec.condition, s).0)).collect();
                let points = series
                    .first()
                    .map(|(_, pts)| {
                        pts.iter()
                            .map(|(t, v)| Point { bucket: t / step, at_ms: *t, value: *v })
                            .collect()
                    })
                    .unwrap_or_default();
                (evals, points, step)
            }
            RuleQuery::Probe { .. } => {
                let step =
                    ((to_ms - from_ms) / 600).max(spec.interval_ms).max(60_000) / 60_000 * 60_000;
                let timeline =
                    self.probes().probe_timeline(&spec.query, from_ms, to_ms, step).await?;
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
                let points =
                    all.into_iter().filter(|p| p.at_ms > from_ms && p.at_ms <= to_ms).collect();
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
            let firing = state.instances.values().any(|i| i.state == AlertState::Firing);
            let pending =
                !firing && state.instances.values().any(|i| i.state == AlertState::Pending);
            let since = prev_eval.unwrap_or(now - step);
            match spans.last_mut() {
                Some(s) if s.to_ms == since && s.firing == firing && (firing || pending) => {
                    s.to_ms = now;
                }
                _ if firing || pending => spans.push(Span { from_ms: since, to_ms: now, firing }),
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
            &points.iter().map(|p| (p.at_ms, p.value)).collect::<Vec<_>>(),
            threshold,
            &spans.iter().map(|s| (s.from_ms, s.to_ms, s.firing)).collect::<Vec<_>>(),
            &[],
            y_format(&spec.query),
            (from_ms, to_ms),
            self.events().reporting_tz(),
        )?;
        Ok(Backtest { points, threshold, spans, evaluations, notifications, svg })
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
            vals.first().and_then(|v| v.1).map(|value| Point { bucket: t / step, at_ms: *t, value })
        })
        .collect()
}

/// A KPI rule's matching samples at `now` (one series, no labels) and the value to show.
fn kpi_matching(spec: &RuleSpec, now: i64, points: &[Point]) -> (Vec<Sample>, Option<f64>) {
    let c = check_at(spec, now, points);
    let matching = if c.holds {
        vec![Sample { labels: Labels::new(), value: c.value.unwrap_or(0.0) }]
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
            .map(|(l, v)| Sample { labels: l.clone(), value: *v })
            .collect(),
        Condition::Present => {
            series.iter().map(|(l, v)| Sample { labels: l.clone(), value: *v }).collect()
        }
        Condition::NoData { .. } if series.is_empty() => {
            vec![Sample { labels: Labels::new(), value: 0.0 }]
        }
        _ => Vec::new(),
    };
    let shown = matching.first().map(|s| s.value).or(value);
    (matching, shown)
}

fn parse_hourly<T: serde::de::DeserializeOwned>(data: &str) -> Result<T> {
    serde_json::from_str(data)
        .map_err(|e| ServiceError::Internal(format!("corrupt hourly rollup: {e}")))
}
