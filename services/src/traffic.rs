//! Real API traffic from the configured Prometheus (issue #17): request rate, error rate
//! and latency P50/P95/P99 per service, from the usual instrumentation conventions — a
//! request counter (`http_requests_total`) with a status label and a latency histogram
//! (`http_request_duration_seconds`), both labelled by service. Metric and label names are
//! settings; the PromQL is shown with each figure so it can become an alert rule.

use crate::{Caller, Result, ServiceError};
use domain::Permission;
use serde::{Deserialize, Serialize};

/// Names of the metrics and labels the traffic queries use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficSettings {
    /// Counter of requests (`VIGIL_TRAFFIC_REQUESTS_METRIC`).
    pub requests_metric: String,
    /// Histogram of request durations in seconds, without `_bucket`
    /// (`VIGIL_TRAFFIC_DURATION_METRIC`).
    pub duration_metric: String,
    /// The label naming the service (`VIGIL_TRAFFIC_SERVICE_LABEL`).
    pub service_label: String,
    /// The label holding the HTTP status code (`VIGIL_TRAFFIC_STATUS_LABEL`).
    pub status_label: String,
}

impl Default for TrafficSettings {
    fn default() -> Self {
        Self {
            requests_metric: "http_requests_total".into(),
            duration_metric: "http_request_duration_seconds".into(),
            service_label: "service".into(),
            status_label: "status".into(),
        }
    }
}

/// A Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`)?
pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// A Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`)?
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

impl TrafficSettings {
    /// The PromQL of each figure, every service a series (5-minute rates).
    pub fn queries(&self) -> TrafficQueries {
        let (req, dur, svc, st) =
            (&self.requests_metric, &self.duration_metric, &self.service_label, &self.status_label);
        let q = |p: f64| {
            format!("1000 * histogram_quantile({p}, sum by ({svc}, le) (rate({dur}_bucket[5m])))")
        };
        TrafficQueries {
            rate: format!("sum by ({svc}) (rate({req}[5m]))"),
            // A service without a 5xx series has an error rate of 0, not none.
            error_rate: format!(
                "(sum by ({svc}) (rate({req}{{{st}=~\"5..\"}}[5m])) or sum by ({svc}) (rate({req}[5m])) * 0) / sum by ({svc}) (rate({req}[5m]))"
            ),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }
}

/// The PromQL behind each traffic figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficQueries {
    pub rate: String,
    pub error_rate: String,
    pub p50_ms: String,
    pub p95_ms: String,
    pub p99_ms: String,
}

/// One service's traffic now (5-minute rates); `None` where Prometheus has no value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceTraffic {
    pub service: String,
    pub rate_rps: Option<f64>,
    /// 0–1.
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The technical dashboard's traffic panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// A Prometheus is configured.
    pub configured: bool,
    /// Why there are no figures (Prometheus unreachable, an error it answered).
    pub error: Option<String>,
    pub services: Vec<ServiceTraffic>,
    pub queries: TrafficQueries,
    pub settings: TrafficSettings,
}

impl crate::Alerting<'_> {
    /// Request rate, error rate and latency percentiles per service, now (viewer).
    pub async fn api_traffic(&self, actor: &Caller) -> Result<Traffic> {
        actor.require(Permission::ViewDashboards)?;
        let settings = self.traffic.clone();
        let queries = settings.queries();
        let mut out = Traffic {
            configured: self.prometheus_url.is_some(),
            error: None,
            services: Vec::new(),
            queries: queries.clone(),
            settings: settings.clone(),
        };
        if !out.configured {
            return Ok(out);
        }
        let now = self.now_ms();
        let mut rows: std::collections::BTreeMap<String, ServiceTraffic> = Default::default();
        type Set = fn(&mut ServiceTraffic, f64);
        let figures: [(&str, Set); 5] = [
            (&queries.rate, |r, v| r.rate_rps = Some(v)),
            (&queries.error_rate, |r, v| r.error_rate = Some(v)),
            (&queries.p50_ms, |r, v| r.p50_ms = Some(v)),
            (&queries.p95_ms, |r, v| r.p95_ms = Some(v)),
            (&queries.p99_ms, |r, v| r.p99_ms = Some(v)),
        ];
        for (expr, set) in figures {
            match self.promql_instant(expr, now).await {
                Ok(series) => {
                    for (labels, v) in series {
                        let service =
                            labels.get(&settings.service_label).cloned().unwrap_or_default();
                        let row = rows
                            .entry(service.clone())
                            .or_insert_with(|| ServiceTraffic { service, ..Default::default() });
                        if v.is_finite() {
                            set(row, v);
                        }
                    }
                }
                Err(ServiceError::Invalid(e)) => {
                    out.error = e.get("expr").map(str::to_owned);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        out.services = rows.into_values().collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_follow_the_settings() {
        let q = TrafficSettings::default().queries();
        assert_eq!(q.rate, "sum by (service) (rate(http_requests_total[5m]))");
        assert_eq!(
            q.error_rate,
            "(sum by (service) (rate(http_requests_total{status=~\"5..\"}[5m])) or sum by (service) (rate(http_requests_total[5m])) * 0) / sum by (service) (rate(http_requests_total[5m]))"
        );
        assert_eq!(
            q.p95_ms,
            "1000 * histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))"
        );
        let own = TrafficSettings {
            requests_metric: "vigil_http_requests_total".into(),
            duration_metric: "vigil_http_request_duration_seconds".into(),
            service_label: "route".into(),
            status_label: "status".into(),
        };
        assert!(own
            .queries()
            .p50_ms
            .contains("sum by (route, le) (rate(vigil_http_request_duration_seconds_bucket[5m]))"));
    }

    #[test]
    fn names() {
        assert!(is_metric_name("http_requests_total") && is_metric_name("job:rate5m"));
        assert!(!is_metric_name("1abc") && !is_metric_name("a{b}") && !is_metric_name(""));
        assert!(is_label_name("service") && !is_label_name("svc:name") && !is_label_name("a b"));
    }
}
