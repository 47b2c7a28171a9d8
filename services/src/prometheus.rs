//! The Prometheus data source: instant and range queries over its HTTP API
//! (`/api/v1/query`, `/api/v1/query_range`). Every failure becomes a field error on `expr`
//! that says what went wrong (not configured, unreachable, or Prometheus' own message).

use crate::Result;
use crate::ServiceError;
use domain::alerting::Labels;
use serde::Deserialize;

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: Labels,
    values: Vec<(f64, String)>,
}

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::invalid("expr", msg)
}

fn number(s: &str) -> Option<f64> {
    match s {
        "NaN" => None,
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// A series' labels as alert labels: without `__name__` (Prometheus drops it too).
fn clean(mut l: Labels) -> Labels {
    l.remove("__name__");
    l
}

impl crate::Alerting<'_> {
    fn prometheus_url(&self) -> Result<&str> {
        self.prometheus_url
            .as_deref()
            .ok_or_else(|| bad("no Prometheus is configured (set VIGIL_PROMETHEUS_URL)"))
    }

    async fn prometheus_get(&self, path: &str, params: &[(&str, String)]) -> Result<Data> {
        let base = self.prometheus_url()?;
        let url = format!("{}{path}", base.trim_end_matches('/'));
        // The URL may carry credentials: errors name it without them.
        let shown = domain::secrets::redact_url(base);
        let res = self.http.get(&url).query(params).send().await.map_err(|e| {
            bad(format!("Prometheus at {shown} did not answer: {}", e.without_url()))
        })?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let answer: Answer = serde_json::from_str(&text).map_err(|_| {
            bad(format!(
                "Prometheus at {shown} answered HTTP {} with something that is not its API: {}",
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            ))
        })?;
        if answer.status != "success" {
            return Err(bad(format!("Prometheus: {}: {}", answer.error_type, answer.error)));
        }
        answer.data.ok_or_else(|| bad("Prometheus answered without data"))
    }

    /// The value of `expr` at `at_ms`: one (labels, value) per series (a scalar is one
    /// series without labels).
    pub async fn promql_instant(&self, expr: &str, at_ms: i64) -> Result<Vec<(Labels, f64)>> {
        let d = self
            .prometheus_get(
                "/api/v1/query",
                &[("query", expr.to_owned()), ("time", format!("{:.3}", at_ms as f64 / 1000.0))],
            )
            .await?;
        match d.result_type.as_str() {
            "vector" => {
                let items: Vec<VectorItem> = serde_json::from_value(d.result)
                    .map_err(|e| bad(format!("unexpected vector from Prometheus: {e}")))?;
                Ok(items
                    .into_iter()
                    .filter_map(|i| number(&i.value.1).map(|v| (clean(i.metric), v)))
                    .collect())
            }
            "scalar" => {
                let (_, v): (f64, String) = serde_json::from_value(d.result)
                    .map_err(|e| bad(format!("unexpected scalar from Prometheus: {e}")))?;
                Ok(number(&v).map(|v| vec![(Labels::new(), v)]).unwrap_or_default())
            }
            other => Err(bad(format!(
                "the expression gives a {other}; alert rules need an instant vector or a scalar"
            ))),
        }
    }

    /// `expr` from `start_ms` to `end_ms` every `step_ms`: per series, (ms, value) points.
    pub async fn promql_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<(Labels, Vec<(i64, f64)>)>> {
        let d = self
            .prometheus_get(
                "/api/v1/query_range",
                &[
                    ("query", expr.to_owned()),
                    ("start", format!("{:.3}", start_ms as f64 / 1000.0)),
                    ("end", format!("{:.3}", end_ms as f64 / 1000.0)),
                    ("step", format!("{}s", (step_ms / 1000).max(1))),
                ],
            )
            .await?;
        if d.result_type != "matrix" {
            return Err(bad(format!("unexpected {} from a range query", d.result_type)));
        }
        let items: Vec<MatrixItem> = serde_json::from_value(d.result)
            .map_err(|e| bad(format!("unexpected matrix from Prometheus: {e}")))?;
        Ok(items
            .into_iter()
            .map(|i| {
                let pts = i
                    .values
                    .iter()
                    .filter_map(|(t, v)| number(v).map(|v| ((t * 1000.0).round() as i64, v)))
                    .collect();
                (clean(i.metric), pts)
            })
            .collect())
    }
}
