//! HTTP probes: CRUD (editor writes, viewer reads, audited), the checks the engine runs
//! (leader only), probe statistics as a rule source, and the Technical dashboard's data.

use crate::Result;
use crate::{Caller, ServiceError};
use domain::Permission;

use domain::alerting::{Condition, Labels, RuleQuery, Sample};
use domain::probe::{
    in_window, metric_at, BurnAlert, ErrorBudget, ProbeMetric, ProbeResult, ProbeSpec,
    StatusMatcher, WindowStats, BURN_ALERTS, DAY_MS, RETENTION_MS, SLO_WINDOW_MS,
};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};
pub use store::Probe;

const HOUR_MS: i64 = 3_600_000;

/// What one round of checks did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProbeRound {
    pub checked: usize,
    pub failed: usize,
    pub pruned: u64,
}

/// One burn-rate alert of the dashboard with the two rates it compares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnStatus {
    pub alert: BurnAlert,
    pub long_rate: Option<f64>,
    pub short_rate: Option<f64>,
    /// Both windows burn at least `factor` times the budget.
    pub firing: bool,
}

/// A probe as the Technical dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeStatus {
    pub id: i64,
    pub version: i64,
    pub spec: ProbeSpec,
    pub last: Option<ProbeResult>,
    pub availability_1h: Option<f64>,
    pub availability_24h: Option<f64>,
    pub availability_30d: Option<f64>,
    /// Latency percentiles over 24 h.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate_1h: Option<f64>,
    pub downtime_24h_ms: i64,
    pub budget: Option<ErrorBudget>,
    pub burns: Vec<BurnStatus>,
    /// Latency over 24 h with failed runs shaded (SVG), `None` without runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_svg: Option<String>,
}

/// A probe's check result as "Run now" reports it.
pub type CheckOutcome = ProbeResult;

fn normalized(mut spec: ProbeSpec) -> Result<ProbeSpec> {
    spec.name = spec.name.trim().to_owned();
    spec.url = spec.url.trim().to_owned();
    spec.method = spec.method.trim().to_ascii_uppercase();
    spec.expected_status = spec.expected_status.trim().to_owned();
    spec.validate()?;
    Ok(spec)
}

fn name_taken(e: store::StoreError) -> ServiceError {
    match e {
        store::StoreError::Conflict(m) if m.starts_with("a probe named") => {
            ServiceError::invalid("name", m)
        }
        e => e.into(),
    }
}

/// The instance values of a probe query at `now_ms`: one per probe it covers (labelled
/// `probe=<name>` plus the probe's labels), `None` when the probe has no runs in the window.
pub fn probe_values(
    query: &RuleQuery,
    probes: &[Probe],
    results: &HashMap<i64, Vec<ProbeResult>>,
    now_ms: i64,
) -> Vec<(Labels, Option<f64>)> {
    let RuleQuery::Probe { probe, metric, window_minutes, short_window_minutes } = query else {
        return Vec::new();
    };
    probes
        .iter()
        .filter(|p| p.spec.enabled && (probe.is_empty() || p.spec.name == *probe))
        .map(|p| {
            let rs = results.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            (
                p.spec.instance_labels(),
                metric_at(
                    *metric,
                    rs,
                    p.spec.interval_ms,
                    now_ms,
                    i64::from(*window_minutes) * 60_000,
                    i64::from(*short_window_minutes) * 60_000,
                ),
            )
        })
        .collect()
}

/// A probe rule's matching samples: every probe whose value passes the threshold; for
/// "no data", every probe without runs in the window (or one instance when the rule names
/// a probe that does not exist).
pub fn probe_matching(
    cond: &Condition,
    values: &[(Labels, Option<f64>)],
) -> (Vec<Sample>, Option<f64>) {
    let shown = values.iter().find_map(|v| v.1);
    let matching: Vec<Sample> = match cond {
        Condition::Threshold { op, threshold } => values
            .iter()
            .filter_map(|(l, v)| v.filter(|v| op.holds(*v, *threshold)).map(|v| (l, v)))
            .map(|(l, v)| Sample { labels: l.clone(), value: v })
            .collect(),
        Condition::NoData { .. } if values.is_empty() => {
            vec![Sample { labels: Labels::new(), value: 0.0 }]
        }
        Condition::NoData { .. } => values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(l, _)| Sample { labels: l.clone(), value: 0.0 })
            .collect(),
        _ => Vec::new(),
    };
    let shown = matching.first().map(|s| s.value).or(shown);
    (matching, shown)
}

/// How far back a probe query reads.
pub fn probe_lookback_ms(query: &RuleQuery, probes: &[Probe]) -> i64 {
    match query {
        RuleQuery::Probe { metric, window_minutes, short_window_minutes, .. } => {
            let max_interval = probes.iter().map(|p| p.spec.interval_ms).max().unwrap_or(60_000);
            let up = 2 * max_interval + 60_000;
            if *metric == ProbeMetric::Up {
                up
            } else {
                i64::from((*window_minutes).max(*short_window_minutes)) * 60_000
            }
        }
        _ => 0,
    }
}

impl crate::Probes<'_> {
    /// Every probe, by name (viewer).
    pub async fn list_probes(&self, actor: &Caller) -> Result<Vec<Probe>> {
        actor.require(Permission::ViewDashboards)?;
        Ok(self.store.probes().await?)
    }

    pub async fn get_probe(&self, actor: &Caller, id: i64) -> Result<Probe> {
        actor.require(Permission::ViewDashboards)?;
        Ok(self.store.probe(id).await?)
    }

    /// Creates a probe (editor); it runs at the engine's next tick.
    pub async fn create_probe(&self, actor: &Caller, spec: ProbeSpec) -> Result<Probe> {
        actor.require(Permission::EditProbes)?;
        let spec = normalized(spec)?;
        self.store.create_probe(&spec, &self.audit_ctx(actor)).await.map_err(name_taken)
    }

    /// Saves an edit made on `version` (editor).
    pub async fn update_probe(
        &self,
        actor: &Caller,
        id: i64,
        version: i64,
        spec: ProbeSpec,
    ) -> Result<Probe> {
        actor.require(Permission::EditProbes)?;
        let spec = normalized(spec)?;
        self.store
            .update_probe(id, version, &spec, &self.audit_ctx(actor))
            .await
            .map_err(name_taken)
    }

    /// Deletes a probe and its results (editor).
    pub async fn delete_probe(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditProbes)?;
        self.store.delete_probe(id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    /// Runs a check of `spec` now without storing it: the form's "Test" button (editor,
    /// since it makes Vigil send a request).
    pub async fn test_probe(&self, actor: &Caller, spec: ProbeSpec) -> Result<CheckOutcome> {
        actor.require(Permission::EditProbes)?;
        let spec = normalized(spec)?;
        Ok(self.check(&spec).await)
    }

    /// One HTTP check. Latency is the time to the response head (or to the failure).
    pub async fn check(&self, spec: &ProbeSpec) -> ProbeResult {
        let at_ms = self.now_ms();
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap_or_default();
        let timeout = Duration::from_millis(spec.timeout_ms.max(1) as u64);
        let started = Instant::now();
        let sent = self.http.request(method, &spec.url).timeout(timeout).send().await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (ok, status, error) = match sent {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let accepted = StatusMatcher::parse(&spec.expected_status)
                    .map(|m| m.accepts(code))
                    .unwrap_or(false);
                let error = (!accepted).then(|| {
                    format!("unexpected status {code} (expected {})", spec.expected_status)
                });
                (accepted, Some(code), error)
            }
            Err(e) => (false, None, Some(describe_http_error(&e, timeout))),
        };
        ProbeResult { at_ms, ok, status, latency_ms, error }
    }

    /// Runs every due probe (concurrently, at most 16 at a time), stores the results and
    /// drops results older than 30 days. The engine calls this on the lease holder.
    pub async fn run_due_probes(&self) -> Result<ProbeRound> {
        let now = self.now_ms();
        let due = self.store.claim_due_probes(now).await?;
        let mut round = ProbeRound::default();
        let mut results = Vec::with_capacity(due.len());
        for chunk in due.chunks(16) {
            let mut set = tokio::task::JoinSet::new();
            for p in chunk {
                let svc = crate::Services::clone(self);
                let (id, spec) = (p.id, p.spec.clone());
                set.spawn(async move { (id, svc.probes().check(&spec).await) });
            }
            while let Some(done) = set.join_next().await {
                let (id, r) = done.map_err(|e| ServiceError::Internal(e.to_string()))?;
                round.checked += 1;
                round.failed += usize::from(!r.ok);
                results.push((id, r));
            }
        }
        if !results.is_empty() {
            self.store.record_probe_results(&results).await?;
        }
        round.pruned = self.store.prune_probe_results(now - RETENTION_MS).await?;
        Ok(round)
    }

    /// The instance values of a probe query at `now` (one database read).
    pub(crate) async fn probe_query_values(
        &self,
        query: &RuleQuery,
        probes: &[Probe],
        now: i64,
    ) -> Result<Vec<(Labels, Option<f64>)>> {
        let ids = covered_ids(query, probes);
        let lookback = probe_lookback_ms(query, probes);
        let results = self.store.probe_results(Some(&ids), now - lookback, now).await?;
        Ok(probe_values(query, probes, &results, now))
    }

    /// Samples of a probe query over `from..=to` every `step` ms, each as of its time, and
    /// per sample the values of every covered probe: `(time, values)`.
    pub(crate) async fn probe_timeline(
        &self,
        query: &RuleQuery,
        from_ms: i64,
        to_ms: i64,
        step: i64,
    ) -> Result<Vec<(i64, Vec<(Labels, Option<f64>)>)>> {
        let probes = self.store.probes().await?;
        let ids = covered_ids(query, &probes);
        let lookback = probe_lookback_ms(query, &probes);
        let results = self.store.probe_results(Some(&ids), from_ms - lookback, to_ms).await?;
        Ok((0..)
            .map(|k| from_ms + k * step)
            .take_while(|t| *t <= to_ms)
            .map(|t| (t, probe_values(query, &probes, &results, t)))
            .collect())
    }

    /// The Technical dashboard: every probe with its availability, latency, error rate,
    /// 30-day error budget and burn-rate alerts (viewer).
    pub async fn technical_overview(&self, actor: &Caller) -> Result<Vec<ProbeStatus>> {
        self.probe_statuses(actor, true).await
    }

    /// Every probe's figures (viewer, or a `read` key); `charts` adds the 24-hour latency
    /// SVG.
    pub async fn probe_statuses(&self, actor: &Caller, charts: bool) -> Result<Vec<ProbeStatus>> {
        actor.require(Permission::ViewDashboards)?;
        let now = self.now_ms();
        let probes = self.store.probes().await?;
        // Raw runs for the longest burn window (3 days); 30-day counts from the database.
        let longest = BURN_ALERTS.iter().map(|a| a.long_ms).max().unwrap_or(DAY_MS);
        let results = self.store.probe_results(None, now - longest, now).await?;
        let counts = self.store.probe_counts(now - SLO_WINDOW_MS, now).await?;
        let tz = self.events().reporting_tz();
        // Changes of the last day, marked on the charts: those of the probe's `service`
        // label, or all when it has none.
        let changes = if charts && actor.can(Permission::ViewChanges) {
            let q = store::changes::ChangeQuery {
                from_ms: Some(now - DAY_MS),
                limit: 500,
                ..Default::default()
            };
            self.store.changes(&q).await?
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(probes.len());
        for p in probes {
            let rs = results.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
            let iv = p.spec.interval_ms;
            let stats = |w| WindowStats::of(&in_window(rs, now, w), iv);
            let day = stats(DAY_MS);
            let hour = stats(HOUR_MS);
            let budget = counts
                .get(&p.id)
                .and_then(|(runs, failures)| ErrorBudget::of(*runs as usize, *failures as usize));
            let availability_30d = counts
                .get(&p.id)
                .filter(|(runs, _)| *runs > 0)
                .map(|(runs, failures)| 1.0 - *failures as f64 / *runs as f64);
            let burns = BURN_ALERTS
                .iter()
                .map(|a| {
                    let long_rate = stats(a.long_ms).burn_rate();
                    let short_rate = stats(a.short_ms).burn_rate();
                    BurnStatus {
                        alert: *a,
                        long_rate,
                        short_rate,
                        firing: matches!((long_rate, short_rate), (Some(l), Some(s)) if l >= a.factor && s >= a.factor),
                    }
                })
                .collect();
            let day_runs = in_window(rs, now, DAY_MS);
            let points: Vec<(i64, f64)> =
                day_runs.iter().map(|r| (r.at_ms, r.latency_ms)).collect();
            let spans: Vec<(i64, i64, bool)> =
                day_runs.iter().filter(|r| !r.ok).map(|r| (r.at_ms - iv, r.at_ms, true)).collect();
            let chart_svg = if charts {
                let service = p.spec.labels.get("service");
                let markers: Vec<i64> = changes
                    .iter()
                    .filter(|c| service.is_none_or(|s| *s == c.service))
                    .map(|c| c.at_ms)
                    .collect();
                crate::charts::timeline_chart(
                    &points,
                    None,
                    &spans,
                    &markers,
                    crate::charts::YFormat::Millis,
                    (now - DAY_MS, now),
                    tz,
                )?
            } else {
                None
            };
            out.push(ProbeStatus {
                id: p.id,
                version: p.version,
                last: rs.last().cloned(),
                availability_1h: hour.availability(),
                availability_24h: day.availability(),
                availability_30d,
                p50_ms: day.p50_ms,
                p95_ms: day.p95_ms,
                p99_ms: day.p99_ms,
                error_rate_1h: hour.error_rate(),
                downtime_24h_ms: day.downtime_ms,
                budget,
                burns,
                chart_svg,
                spec: p.spec,
            });
        }
        Ok(out)
    }
}

/// The ids of the probes a query covers.
fn covered_ids(query: &RuleQuery, probes: &[Probe]) -> Vec<i64> {
    match query {
        RuleQuery::Probe { probe, .. } => probes
            .iter()
            .filter(|p| probe.is_empty() || p.spec.name == *probe)
            .map(|p| p.id)
            .collect(),
        _ => Vec::new(),
    }
}

/// A failed request in words an operator acts on.
fn describe_http_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}", humantime(timeout));
    }
    // The innermost cause names the real problem (refused, DNS, TLS).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("could not connect: {cause}")
    } else {
        format!("request failed: {cause}")
    }
}

fn humantime(d: Duration) -> String {
    domain::alerting::format_duration(d.as_millis() as i64)
}
