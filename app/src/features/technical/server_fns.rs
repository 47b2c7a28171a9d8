//! Technical dashboard server functions: one services call each (which checks the role);
//! figures formatted for display in the caller's time zone. Writes also check CSRF.

use super::form::ProbeForm;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// One burn-rate alert of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnRow {
    /// `14.4× over 1h and 5m`.
    pub label: String,
    pub page: bool,
    pub long: String,
    pub short: String,
    pub firing: bool,
}

/// A probe as its dashboard card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCard {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub method: String,
    pub interval: String,
    pub enabled: bool,
    /// `Some(true)` up, `Some(false)` down, `None` not checked yet.
    pub up: Option<bool>,
    pub last_at: Option<String>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub availability_24h: String,
    pub availability_30d: String,
    /// `74 / 135 / 141 ms` (P50 / P95 / P99 over 24 h).
    pub latency: String,
    pub error_rate_1h: String,
    pub downtime_24h: String,
    /// Share of the 30-day budget left (0–1, negative when overspent).
    pub budget_left: Option<f64>,
    pub budget_text: String,
    pub burns: Vec<BurnRow>,
    pub svg: Option<String>,
}

/// The editor's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeEdit {
    pub id: Option<i64>,
    pub version: i64,
    pub form: ProbeForm,
}

/// The API traffic panel, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficView {
    pub configured: bool,
    pub error: Option<String>,
    /// (service, rate, error rate, P50, P95, P99), formatted.
    pub rows: Vec<(String, String, String, String, String, String)>,
    /// (figure key, PromQL): the "Alert on this" links.
    pub queries: Vec<(String, String)>,
    /// The metric names read, for the empty state.
    pub metrics: String,
}

/// Request rate, error rate and latency per service from Prometheus (viewer).
#[server(prefix = "/rpc", endpoint = "technical/traffic")]
pub async fn api_traffic() -> Result<TrafficView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let t = svc.alerting().api_traffic(&actor).await?;
    let num = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "—".to_owned(), f);
    Ok(TrafficView {
        configured: t.configured,
        error: t.error,
        rows: t
            .services
            .iter()
            .map(|s| {
                (
                    if s.service.is_empty() { "—".into() } else { s.service.clone() },
                    num(s.rate_rps, &|v| format!("{v:.2}/s")),
                    num(s.error_rate, &|v| format!("{:.2}%", v * 100.0)),
                    num(s.p50_ms, &|v| format!("{v:.0} ms")),
                    num(s.p95_ms, &|v| format!("{v:.0} ms")),
                    num(s.p99_ms, &|v| format!("{v:.0} ms")),
                )
            })
            .collect(),
        queries: vec![
            ("rate".into(), t.queries.rate),
            ("error_rate".into(), t.queries.error_rate),
            ("p50".into(), t.queries.p50_ms),
            ("p95".into(), t.queries.p95_ms),
            ("p99".into(), t.queries.p99_ms),
        ],
        metrics: format!(
            "{} ({}, {}), {}_bucket",
            t.settings.requests_metric,
            t.settings.service_label,
            t.settings.status_label,
            t.settings.duration_metric
        ),
    })
}

#[server(prefix = "/rpc", endpoint = "technical/overview")]
pub async fn technical_overview() -> Result<Vec<ProbeCard>, AppError> {
    use domain::alerting::format_duration;
    use domain::probe::ProbeMetric as M;
    use services::alerting::format_probe_metric as fmt;
    let (svc, actor) = crate::session::ssr::door().await?;
    let rows = svc.probes().technical_overview(&actor).await?;
    let opt = |v: Option<f64>, m: M| v.map_or_else(|| "—".to_owned(), |v| fmt(v, m));
    Ok(rows
        .into_iter()
        .map(|p| ProbeCard {
            id: p.id,
            name: p.spec.name.clone(),
            url: p.spec.url.clone(),
            method: p.spec.method.clone(),
            interval: format_duration(p.spec.interval_ms),
            enabled: p.spec.enabled,
            up: p.last.as_ref().map(|r| r.ok),
            last_at: p
                .last
                .as_ref()
                .map(|r| services::timefmt::format_ms(r.at_ms, &actor.time_zone)),
            last_status: p.last.as_ref().map(|r| {
                let code = r.status.map_or_else(|| "—".to_owned(), |s| s.to_string());
                format!("{code} · {:.0} ms", r.latency_ms)
            }),
            last_error: p.last.as_ref().and_then(|r| r.error.clone()),
            availability_24h: opt(p.availability_24h, M::Availability),
            availability_30d: opt(p.availability_30d, M::Availability),
            latency: match (p.p50_ms, p.p95_ms, p.p99_ms) {
                (Some(a), Some(b), Some(c)) => format!("{a:.0} / {b:.0} / {c:.0} ms"),
                _ => "—".into(),
            },
            error_rate_1h: opt(p.error_rate_1h, M::ErrorRate),
            downtime_24h: format_duration(p.downtime_24h_ms / 1000 * 1000),
            budget_left: p.budget.map(|b| b.remaining),
            budget_text: p.budget.map_or_else(String::new, |b| {
                format!(
                    "{} of {} checks failed; the budget allows {:.1}",
                    b.failures, b.runs, b.allowed
                )
            }),
            burns: p
                .burns
                .iter()
                .map(|b| BurnRow {
                    label: format!(
                        "{}× · {} / {}",
                        b.alert.factor,
                        format_duration(b.alert.long_ms),
                        format_duration(b.alert.short_ms)
                    ),
                    page: b.alert.page,
                    long: opt(b.long_rate, M::BurnRate),
                    short: opt(b.short_rate, M::BurnRate),
                    firing: b.firing,
                })
                .collect(),
            svg: p.chart_svg,
        })
        .collect())
}

/// Probe names for the rule editor's probe picker.
#[server(prefix = "/rpc", endpoint = "technical/probe_names")]
pub async fn probe_names() -> Result<Vec<String>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.probes().list_probes(&actor).await?.into_iter().map(|p| p.spec.name).collect())
}

/// The editor's data; `None` for a new probe.
#[server(prefix = "/rpc", endpoint = "technical/get_probe")]
pub async fn get_probe(id: Option<i64>) -> Result<ProbeEdit, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(match id {
        None => ProbeEdit { id: None, version: 0, form: ProbeForm::default() },
        Some(id) => {
            let p = svc.probes().get_probe(&actor, id).await?;
            ProbeEdit { id: Some(p.id), version: p.version, form: ProbeForm::from_spec(&p.spec) }
        }
    })
}

#[server(prefix = "/rpc", endpoint = "technical/save_probe", input = Json)]
pub async fn save_probe(id: Option<i64>, version: i64, form: ProbeForm) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let spec = form.to_spec().map_err(services::ServiceError::Invalid)?;
    Ok(match id {
        None => svc.probes().create_probe(&actor, spec).await?.id,
        Some(id) => svc.probes().update_probe(&actor, id, version, spec).await?.id,
    })
}

#[server(prefix = "/rpc", endpoint = "technical/delete_probe")]
pub async fn delete_probe(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.probes().delete_probe(&actor, id).await?;
    Ok(())
}

/// Runs the form's check once, now, without storing it: "200 in 35 ms" or why it failed.
#[server(prefix = "/rpc", endpoint = "technical/test_probe", input = Json)]
pub async fn test_probe(form: ProbeForm) -> Result<(bool, String), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let spec = form.to_spec().map_err(services::ServiceError::Invalid)?;
    let r = svc.probes().test_probe(&actor, spec).await?;
    let text = match (&r.error, r.status) {
        (None, Some(s)) => format!("{s} in {:.0} ms", r.latency_ms),
        (Some(e), _) => format!("{e} ({:.0} ms)", r.latency_ms),
        (None, None) => format!("{:.0} ms", r.latency_ms),
    };
    Ok((r.ok, text))
}
