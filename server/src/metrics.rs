//! Vigil's own `/metrics` in the Prometheus text format: requests by route and status, and a
//! latency histogram per route. Routes are the matched patterns (`/api/v1/events`), never
//! raw paths, and methods one of a fixed set, so label cardinality stays bounded whatever
//! clients send.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    engine: EngineStats,
}

#[derive(Debug, Default)]
struct EngineStats {
    cycles: u64,
    rules_evaluated: u64,
    transitions: u64,
    errors: u64,
    last_cycle_seconds: f64,
    sent: u64,
    retries: u64,
    failed: u64,
    probe_checks: u64,
    probe_failures: u64,
}

/// The registry. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.0.lock() else { return };
        *m.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// One alert evaluation cycle of this replica's engine.
    pub fn record_engine_cycle(
        &self,
        took: std::time::Duration,
        r: &services::alerting::CycleReport,
    ) {
        let Ok(mut m) = self.0.lock() else { return };
        let e = &mut m.engine;
        e.cycles += 1;
        e.rules_evaluated += r.rules as u64;
        e.transitions += r.transitions as u64;
        e.errors += r.errors as u64;
        e.last_cycle_seconds = took.as_secs_f64();
    }

    /// One delivery step of the notification outbox.
    pub fn record_deliveries(&self, r: &services::notify::DeliveryReport) {
        let Ok(mut m) = self.0.lock() else { return };
        m.engine.sent += r.sent as u64;
        m.engine.retries += r.retrying as u64;
        m.engine.failed += r.failed as u64;
    }

    /// One round of HTTP probe checks.
    pub fn record_probes(&self, r: &services::probes::ProbeRound) {
        let Ok(mut m) = self.0.lock() else { return };
        m.engine.probe_checks += r.checked as u64;
        m.engine.probe_failures += r.failed as u64;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(m) = self.0.lock() else { return out };
        out.push_str("# HELP vigil_build_info Vigil version.\n# TYPE vigil_build_info gauge\n");
        let _ = writeln!(out, "vigil_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        out.push_str(
            "# HELP vigil_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE vigil_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "vigil_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP vigil_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE vigil_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let route = escape(route);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "vigil_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let e = &m.engine;
        for (name, kind, help, v) in [
            (
                "vigil_engine_cycles_total",
                "counter",
                "Alert evaluation cycles run by this replica.",
                e.cycles as f64,
            ),
            (
                "vigil_engine_rules_evaluated_total",
                "counter",
                "Rule evaluations by this replica.",
                e.rules_evaluated as f64,
            ),
            (
                "vigil_engine_transitions_total",
                "counter",
                "Alert state transitions recorded by this replica.",
                e.transitions as f64,
            ),
            (
                "vigil_engine_rule_errors_total",
                "counter",
                "Rule evaluations whose query failed.",
                e.errors as f64,
            ),
            (
                "vigil_engine_last_cycle_seconds",
                "gauge",
                "Duration of the last evaluation cycle.",
                e.last_cycle_seconds,
            ),
            (
                "vigil_notifications_sent_total",
                "counter",
                "Notifications delivered by this replica.",
                e.sent as f64,
            ),
            (
                "vigil_notification_retries_total",
                "counter",
                "Notification attempts that failed and will be retried.",
                e.retries as f64,
            ),
            (
                "vigil_notifications_failed_total",
                "counter",
                "Notifications given up on (24 h of retries, or the channel was deleted).",
                e.failed as f64,
            ),
            (
                "vigil_probe_checks_total",
                "counter",
                "HTTP probe checks run by this replica.",
                e.probe_checks as f64,
            ),
            (
                "vigil_probe_failures_total",
                "counter",
                "HTTP probe checks that failed (status, timeout, connection).",
                e.probe_failures as f64,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Route label: the matched pattern; static assets and pages are grouped, and anything
/// no route matched (a mistyped `/rpc/…`, a scanner's path) is `unmatched`, so nobody
/// can add series by inventing paths.
fn route_label(req: &Request) -> String {
    if let Some(p) = req.extensions().get::<MatchedPath>() {
        return p.as_str().to_owned();
    }
    let path = req.uri().path();
    if path.starts_with("/pkg/") {
        "/pkg/*".into()
    } else if path.starts_with("/rpc/") || path.starts_with("/api/") {
        "unmatched".into()
    } else {
        "page".into()
    }
}

/// Method label: the methods Vigil serves; anything else (`PROPFIND`, `FOO`) is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware recording every request.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = route_label(&req);
    let res = next.run(req).await;
    metrics.observe(method, &route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`.
pub async fn handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, 0.002);
        m.observe("GET", "/healthz", 200, 0.3);
        m.observe("POST", "/rpc/login", 429, 0.02);
        let text = m.render();
        assert!(text.contains(
            "vigil_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "vigil_http_requests_total{method=\"POST\",route=\"/rpc/login\",status=\"429\"} 1"
        ));
        assert!(text.contains(
            "vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.5\"} 2"
        ));
        assert!(text.contains("vigil_http_request_duration_seconds_count{route=\"/healthz\"} 2"));
    }
}
