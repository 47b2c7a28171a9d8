//! HTTP probes: what a check is (URL, method, interval, timeout, expected status), what one
//! run found, and the statistics rules and the Technical dashboard read from a window of
//! runs: availability, error rate, latency percentiles, downtime, and the SLO error budget
//! with its burn rate (Google SRE workbook, "Alerting on SLOs").

use crate::alerting::rule::valid_label_name;
use crate::alerting::Labels;
use crate::FieldErrors;
use serde::{Deserialize, Serialize};

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 86_400_000;
/// How long results are kept.
pub const RETENTION_MS: i64 = 30 * DAY_MS;
/// The availability objective the dashboard's error budget and burn rates use.
pub const SLO_TARGET: f64 = 0.999;
/// The SLO's window.
pub const SLO_WINDOW_MS: i64 = 30 * DAY_MS;

/// HTTP methods a probe may use.
pub const METHODS: [&str; 5] = ["GET", "HEAD", "POST", "PUT", "OPTIONS"];

/// A probe as the editor sets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSpec {
    pub name: String,
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_interval")]
    pub interval_ms: i64,
    #[serde(default = "default_timeout")]
    pub timeout_ms: i64,
    /// Accepted status codes: `200`, `2xx`, `200,204,3xx`.
    #[serde(default = "default_expected")]
    pub expected_status: String,
    /// Added to the alert instances of probe rules (e.g. `service`).
    #[serde(default)]
    pub labels: Labels,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_method() -> String {
    "GET".into()
}
fn default_interval() -> i64 {
    60_000
}
fn default_timeout() -> i64 {
    10_000
}
fn default_expected() -> String {
    "2xx".into()
}
fn yes() -> bool {
    true
}

impl ProbeSpec {
    pub fn new(name: &str, url: &str) -> ProbeSpec {
        ProbeSpec {
            name: name.into(),
            url: url.into(),
            method: default_method(),
            interval_ms: default_interval(),
            timeout_ms: default_timeout(),
            expected_status: default_expected(),
            labels: Labels::new(),
            enabled: true,
        }
    }

    /// Field-level validation; field names match the form's inputs.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            e.required("name");
        } else if name.chars().count() > 80 {
            e.too_long("name", 80);
        }
        let url = self.url.trim();
        if url.is_empty() {
            e.required("url");
        } else if !(url.starts_with("http://") || url.starts_with("https://")) {
            e.add("url", "must start with http:// or https://");
        } else if url.len() > 2048 {
            e.too_long("url", 2048);
        } else if url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
            .is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace))
        {
            e.add("url", "has no host");
        }
        if !METHODS.contains(&self.method.as_str()) {
            e.add("method", format!("must be one of {}", METHODS.join(", ")));
        }
        if !(10_000..=3_600_000).contains(&self.interval_ms) {
            e.add("interval", "must be between 10s and 1h");
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            e.add("timeout", "must be between 100ms and 60s");
        } else if self.timeout_ms > self.interval_ms {
            e.add("timeout", "must not be longer than the interval");
        }
        if let Err(m) = StatusMatcher::parse(&self.expected_status) {
            e.add("expected_status", m);
        }
        for k in self.labels.keys() {
            if !valid_label_name(k) {
                e.add("labels", format!("label name {k:?} must match [a-zA-Z_][a-zA-Z0-9_]*"));
            } else if k == "probe" || k == "alertname" || k == "severity" {
                e.add("labels", format!("label {k:?} is set by Vigil"));
            }
        }
        if self.labels.len() > 20 {
            e.add("labels", "at most 20 labels");
        }
        e.into_result()
    }

    /// The labels a probe's alert instance carries: its own and `probe=<name>`.
    pub fn instance_labels(&self) -> Labels {
        let mut l = self.labels.clone();
        l.insert("probe".into(), self.name.clone());
        l
    }
}

/// Which status codes count as up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMatcher(Vec<(u16, u16)>);

impl StatusMatcher {
    /// `200`, `2xx`, `200,204,3xx`.
    pub fn parse(s: &str) -> Result<StatusMatcher, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let bad = || format!("{part:?} is not a status code or class (e.g. 200, 2xx)");
            if let Some(class) = part.strip_suffix("xx").or_else(|| part.strip_suffix("XX")) {
                let d: u16 = class.parse().map_err(|_| bad())?;
                if !(1..=5).contains(&d) {
                    return Err(bad());
                }
                out.push((d * 100, d * 100 + 99));
            } else {
                let c: u16 = part.parse().map_err(|_| bad())?;
                if !(100..=599).contains(&c) {
                    return Err(bad());
                }
                out.push((c, c));
            }
        }
        if out.is_empty() {
            return Err("is required (e.g. 200 or 2xx)".into());
        }
        Ok(StatusMatcher(out))
    }

    pub fn accepts(&self, status: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// One run of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub at_ms: i64,
    pub ok: bool,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
    /// Time to the response head (or to the failure).
    pub latency_ms: f64,
    /// Why it failed (timeout, connection refused, unexpected status 503 …).
    pub error: Option<String>,
}

/// What a probe rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMetric {
    /// 1 when the last run succeeded, 0 when it failed (Prometheus' `up`).
    Up,
    /// Successful runs / runs over the window.
    Availability,
    /// Failed runs / runs over the window.
    ErrorRate,
    LatencyP50Ms,
    LatencyP95Ms,
    LatencyP99Ms,
    /// Minutes the probe was down in the window (each failed run counts its interval).
    DowntimeMinutes,
    /// Error rate / error budget (1 − 99.9 %) over the window *and* over the short window;
    /// the smaller of the two, so `> 14.4` holds only when both burn that fast.
    BurnRate,
}

impl ProbeMetric {
    pub const ALL: [ProbeMetric; 8] = [
        ProbeMetric::Up,
        ProbeMetric::Availability,
        ProbeMetric::ErrorRate,
        ProbeMetric::LatencyP50Ms,
        ProbeMetric::LatencyP95Ms,
        ProbeMetric::LatencyP99Ms,
        ProbeMetric::DowntimeMinutes,
        ProbeMetric::BurnRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMetric::Up => "up",
            ProbeMetric::Availability => "availability",
            ProbeMetric::ErrorRate => "error_rate",
            ProbeMetric::LatencyP50Ms => "latency_p50_ms",
            ProbeMetric::LatencyP95Ms => "latency_p95_ms",
            ProbeMetric::LatencyP99Ms => "latency_p99_ms",
            ProbeMetric::DowntimeMinutes => "downtime_minutes",
            ProbeMetric::BurnRate => "burn_rate",
        }
    }

    pub fn parse(s: &str) -> Option<ProbeMetric> {
        ProbeMetric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the metric reads a window (all but `up`).
    pub fn windowed(self) -> bool {
        self != ProbeMetric::Up
    }
}

/// Statistics of the runs in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub runs: usize,
    pub failures: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub downtime_ms: i64,
}

impl WindowStats {
    /// Over `results` (any order) with the probe's `interval_ms` (a failed run counts as
    /// down for one interval).
    pub fn of(results: &[&ProbeResult], interval_ms: i64) -> WindowStats {
        let runs = results.len();
        let failures = results.iter().filter(|r| !r.ok).count();
        let mut lat: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
        lat.sort_by(f64::total_cmp);
        WindowStats {
            runs,
            failures,
            p50_ms: nearest_rank(&lat, 0.50),
            p95_ms: nearest_rank(&lat, 0.95),
            p99_ms: nearest_rank(&lat, 0.99),
            downtime_ms: failures as i64 * interval_ms,
        }
    }

    pub fn availability(&self) -> Option<f64> {
        (self.runs > 0).then(|| 1.0 - self.failures as f64 / self.runs as f64)
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.failures as f64 / self.runs as f64)
    }

    /// How many times faster than the SLO allows the budget burns (1 = exactly on budget).
    pub fn burn_rate(&self) -> Option<f64> {
        self.error_rate().map(|e| e / (1.0 - SLO_TARGET))
    }
}

/// The nearest-rank percentile of sorted values.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The runs of `results` (oldest first) in `(now - window, now]`.
pub fn in_window(results: &[ProbeResult], now_ms: i64, window_ms: i64) -> Vec<&ProbeResult> {
    let from = results.partition_point(|r| r.at_ms <= now_ms - window_ms);
    let to = results.partition_point(|r| r.at_ms <= now_ms);
    results[from..to].iter().collect()
}

/// A probe metric at `now_ms` from its results (oldest first). `None` without runs in the
/// window (no data).
pub fn metric_at(
    metric: ProbeMetric,
    results: &[ProbeResult],
    interval_ms: i64,
    now_ms: i64,
    window_ms: i64,
    short_window_ms: i64,
) -> Option<f64> {
    let stats = |w| WindowStats::of(&in_window(results, now_ms, w), interval_ms);
    match metric {
        ProbeMetric::Up => {
            // The last run, if it is recent (within two intervals and the timeout).
            let last = in_window(results, now_ms, 2 * interval_ms + MINUTE_MS);
            last.last().map(|r| if r.ok { 1.0 } else { 0.0 })
        }
        ProbeMetric::Availability => stats(window_ms).availability(),
        ProbeMetric::ErrorRate => stats(window_ms).error_rate(),
        ProbeMetric::LatencyP50Ms => stats(window_ms).p50_ms,
        ProbeMetric::LatencyP95Ms => stats(window_ms).p95_ms,
        ProbeMetric::LatencyP99Ms => stats(window_ms).p99_ms,
        ProbeMetric::DowntimeMinutes => {
            let s = stats(window_ms);
            (s.runs > 0).then(|| s.downtime_ms as f64 / MINUTE_MS as f64)
        }
        ProbeMetric::BurnRate => {
            let long = stats(window_ms).burn_rate()?;
            let short = stats(short_window_ms).burn_rate()?;
            Some(long.min(short))
        }
    }
}

/// One of the SRE workbook's multiwindow burn-rate alerts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BurnAlert {
    pub factor: f64,
    pub long_ms: i64,
    pub short_ms: i64,
    /// Page (true) or ticket.
    pub page: bool,
}

/// 14.4× over 1h/5m and 6× over 6h/30m page; 3× over 1d/2h and 1× over 3d/6h open a
/// ticket (2 %, 5 %, 10 % and 10 % of a 30-day budget spent).
pub const BURN_ALERTS: [BurnAlert; 4] = [
    BurnAlert { factor: 14.4, long_ms: 3_600_000, short_ms: 5 * MINUTE_MS, page: true },
    BurnAlert { factor: 6.0, long_ms: 6 * 3_600_000, short_ms: 30 * MINUTE_MS, page: true },
    BurnAlert { factor: 3.0, long_ms: DAY_MS, short_ms: 2 * 3_600_000, page: false },
    BurnAlert { factor: 1.0, long_ms: 3 * DAY_MS, short_ms: 6 * 3_600_000, page: false },
];

/// The error budget of the SLO window ending at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorBudget {
    pub target: f64,
    pub runs: usize,
    pub failures: usize,
    /// Failures the budget allows for the runs seen (runs × (1 − target)).
    pub allowed: f64,
    /// Share of the budget left (negative when overspent).
    pub remaining: f64,
}

impl ErrorBudget {
    /// The budget after `failures` of `runs` (`None` without runs).
    pub fn of(runs: usize, failures: usize) -> Option<ErrorBudget> {
        if runs == 0 {
            return None;
        }
        let allowed = runs as f64 * (1.0 - SLO_TARGET);
        Some(ErrorBudget {
            target: SLO_TARGET,
            runs,
            failures,
            allowed,
            remaining: 1.0 - failures as f64 / allowed,
        })
    }
}

/// The error budget of the SLO window ending at `now_ms`.
pub fn error_budget(results: &[ProbeResult], now_ms: i64) -> Option<ErrorBudget> {
    let w = in_window(results, now_ms, SLO_WINDOW_MS);
    ErrorBudget::of(w.len(), w.iter().filter(|r| !r.ok).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(at_ms: i64, ok: bool, latency_ms: f64) -> ProbeResult {
        ProbeResult {
            at_ms,
            ok,
            status: Some(if ok { 200 } else { 503 }),
            latency_ms,
            error: (!ok).then(|| "unexpected status 503".into()),
        }
    }

    #[test]
    fn validation_names_each_field() {
        assert_eq!(ProbeSpec::new("API", "https://api.example.com/health").validate(), Ok(()));
        type Case = (&'static str, fn(&mut ProbeSpec));
        let cases: [Case; 9] = [
            ("name", |p| p.name = " ".into()),
            ("url", |p| p.url = "ftp://x".into()),
            ("url", |p| p.url = "http:///path".into()),
            ("method", |p| p.method = "BREW".into()),
            ("interval", |p| p.interval_ms = 1_000),
            ("timeout", |p| p.timeout_ms = 0),
            ("timeout", |p| {
                p.interval_ms = 10_000;
                p.timeout_ms = 20_000
            }),
            ("expected_status", |p| p.expected_status = "6xx".into()),
            ("labels", |p| {
                p.labels.insert("probe".into(), "x".into());
            }),
        ];
        for (field, edit) in cases {
            let mut p = ProbeSpec::new("API", "https://api.example.com/health");
            edit(&mut p);
            let e = p.validate().expect_err(field);
            assert!(e.get(field).is_some(), "{field}: {e}");
        }
    }

    #[test]
    fn status_matchers() {
        let m = StatusMatcher::parse("200, 204,3xx").expect("parse");
        assert!(m.accepts(200) && m.accepts(204) && m.accepts(301) && m.accepts(399));
        assert!(!m.accepts(201) && !m.accepts(404) && !m.accepts(500));
        assert!(StatusMatcher::parse("").is_err());
        assert!(StatusMatcher::parse("99").is_err());
        assert!(StatusMatcher::parse("2x").is_err());
        assert!(StatusMatcher::parse("2xx").expect("2xx").accepts(299));
    }

    #[test]
    fn window_statistics() {
        // 100 runs one a minute; 10 failures; latencies 1..=100 ms.
        let results: Vec<ProbeResult> =
            (1..=100).map(|i| run(i * MINUTE_MS, i % 10 != 0, i as f64)).collect();
        let now = 100 * MINUTE_MS;
        let all = |m| metric_at(m, &results, MINUTE_MS, now, 100 * MINUTE_MS, 5 * MINUTE_MS);
        assert_eq!(all(ProbeMetric::Availability), Some(0.9));
        assert_eq!(all(ProbeMetric::ErrorRate), Some(0.1));
        assert_eq!(all(ProbeMetric::LatencyP50Ms), Some(50.0));
        assert_eq!(all(ProbeMetric::LatencyP95Ms), Some(95.0));
        assert_eq!(all(ProbeMetric::LatencyP99Ms), Some(99.0));
        assert_eq!(all(ProbeMetric::DowntimeMinutes), Some(10.0));
        // The last run (minute 100) failed.
        assert_eq!(all(ProbeMetric::Up), Some(0.0));
        // Burn: long window 10 % / 0.1 % = 100; short (minutes 96..=100) 1 of 5 = 200.
        let burn = all(ProbeMetric::BurnRate).expect("burn");
        assert!((burn - 100.0).abs() < 1e-6, "{burn}");
        // Windows are (now − w, now]: the last 10 minutes hold minutes 91..=100.
        let w = in_window(&results, now, 10 * MINUTE_MS);
        assert_eq!((w.len(), w[0].at_ms), (10, 91 * MINUTE_MS));
        // No runs → no data, and a stale last run is not "up".
        assert_eq!(metric_at(ProbeMetric::Availability, &[], MINUTE_MS, now, MINUTE_MS, 0), None);
        assert_eq!(metric_at(ProbeMetric::Up, &results, MINUTE_MS, now + DAY_MS, 0, 0), None);
    }

    #[test]
    fn burn_rate_needs_both_windows() {
        // A 5-minute outage 40 minutes ago: the long window burns, the short one has recovered.
        let results: Vec<ProbeResult> =
            (0..=120).map(|i| run(i * MINUTE_MS, !(80..85).contains(&i), 10.0)).collect();
        let now = 120 * MINUTE_MS;
        let long = metric_at(ProbeMetric::ErrorRate, &results, MINUTE_MS, now, 3_600_000, 0)
            .expect("rate");
        assert!(long / (1.0 - SLO_TARGET) > 14.4);
        let a = BURN_ALERTS[0];
        let burn =
            metric_at(ProbeMetric::BurnRate, &results, MINUTE_MS, now, a.long_ms, a.short_ms)
                .expect("burn");
        assert_eq!(burn, 0.0, "the short window resets the page");
    }

    #[test]
    fn error_budget_of_thirty_days() {
        // 10 000 runs, 5 failures: budget allows 10, half is left.
        let results: Vec<ProbeResult> =
            (0..10_000).map(|i| run(i * 60_000, i % 2000 != 1, 5.0)).collect();
        let b = error_budget(&results, 10_000 * 60_000).expect("budget");
        assert_eq!((b.runs, b.failures), (10_000, 5));
        assert!((b.remaining - 0.5).abs() < 1e-9, "{}", b.remaining);
    }
}
