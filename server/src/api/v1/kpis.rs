//! `GET /api/v1/kpis` (the catalogue) and `GET /api/v1/kpis/{kpi}` (a KPI over a range,
//! as its dashboard card shows it, with its series; JSON, or CSV with `format=csv` or
//! `Accept: text/csv`), for API keys with scope `read`.

use super::ApiKey;
use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use services::kpi::catalogue::KpiQuery;
use services::ServiceError;

/// `GET /api/v1/kpis`.
pub async fn catalogue(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
) -> Result<Json<serde_json::Value>, ApiError> {
    let kpis = state.services.kpis().kpi_catalogue(&caller)?;
    Ok(Json(serde_json::json!({ "kpis": kpis })))
}

/// `GET /api/v1/kpis/{kpi}?from=&to=&granularity=&segment=&format=`.
pub async fn one(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    Path(kpi): Path<String>,
    headers: HeaderMap,
    query: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    let report = state.services.kpis().kpi_report_for(&caller, &kpi, &q).await?;
    Ok(kpi_response(&report, &q, &headers))
}

/// JSON, or CSV when the query says `format=csv` or the client accepts only `text/csv`.
pub fn kpi_response(
    report: &services::kpi::catalogue::KpiReport,
    q: &KpiQuery,
    headers: &HeaderMap,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let csv = q.format.as_deref() == Some("csv")
        || (q.format.is_none() && accept.starts_with("text/csv"));
    if csv {
        csv_file(format!("vigil-{}-{}-{}.csv", report.kpi, report.from, report.to), report.to_csv())
    } else {
        Json(report).into_response()
    }
}

/// `GET /export/kpis/{kpi}?…` for a signed-in browser (the dashboards' "CSV" links): the
/// same report as CSV, with the session's caller (the door put it in the request).
pub async fn export_csv(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<services::Caller>,
    Path(kpi): Path<String>,
    query: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(mut q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    q.format = Some("csv".into());
    let report = state.services.kpis().kpi_report_for(&caller, &kpi, &q).await?;
    Ok(kpi_response(&report, &q, &HeaderMap::new()))
}

fn csv_file(name: String, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

/// `GET /export/cohorts?from=&to=`: the user tab's cohort table as CSV (session).
pub async fn export_cohorts(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<services::Caller>,
    query: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    let csv = state.services.kpis().cohorts_csv(&caller, &q).await?;
    Ok(csv_file("vigil-cohorts.csv".into(), csv))
}

/// `GET /export/funnel?from=&to=&segment=<steps>&window=<hours>`: a funnel as CSV.
pub async fn export_funnel(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<services::Caller>,
    query: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    let csv = state.services.kpis().funnel_csv(&caller, &q).await?;
    Ok(csv_file("vigil-funnel.csv".into(), csv))
}
