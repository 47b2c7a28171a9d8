//! `GET /api/v1/incidents…` (scope `read`): incidents for status pages, chat bots and
//! reporting, and a postmortem as Markdown.

use super::ApiKey;
use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use domain::alerting::Severity;
use serde::Deserialize;
use services::ServiceError;

/// Query of `GET /api/v1/incidents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `open` (default), `all`, `done` (resolved or closed) or one status.
    pub status: Option<String>,
    pub severity: Option<String>,
    /// Detected at or after, epoch milliseconds.
    pub since_ms: Option<i64>,
    /// Matches the code or the title.
    pub q: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// `GET /api/v1/incidents`.
pub async fn list(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    let (open, status) = services::incidents::status_filter(q.status.as_deref().unwrap_or("open"))?;
    let severity = match q.severity.as_deref() {
        None => None,
        Some(s) => Some(
            Severity::parse(&s.to_ascii_uppercase())
                .ok_or_else(|| ServiceError::invalid("severity", "must be P0, P1, P2 or P3"))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ServiceError::invalid("limit", "must be between 1 and 1000").into());
    }
    let incidents = state
        .services
        .incidents()
        .list_incidents(
            &caller,
            &services::incidents::IncidentFilter {
                open,
                status,
                severity,
                from_ms: q.since_ms,
                q: q.q,
                limit,
                ..Default::default()
            },
        )
        .await?;
    let rows: Vec<serde_json::Value> = incidents
        .iter()
        .map(|i| {
            serde_json::json!({
                "code": i.code,
                "title": i.fields.title,
                "severity": i.fields.severity.as_str(),
                "status": i.status().as_str(),
                "detected_at_ms": i.log.detected_ms(),
                "responded_at_ms": i.log.responded_ms(),
                "resolved_at_ms": i.log.resolved_ms(),
                "closed_at_ms": i.log.closed_ms(),
                "commander_user_id": i.commander(),
                "impact_scope": i.fields.impact_scope,
                "user_impact": i.fields.user_impact,
                "link": format!("{}/incidents/{}", state.services.public_url(), i.code),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "incidents": rows })))
}

/// `GET /api/v1/incidents/{code}`: the incident with its timeline, linked alerts, SLA
/// clocks and checklist.
pub async fn one(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    Path(code): Path<String>,
) -> Result<Json<services::incidents::IncidentDetail>, ApiError> {
    Ok(Json(state.services.incidents().incident_detail(&caller, &code).await?))
}

/// `GET /api/v1/incidents/{code}/postmortem.md`: the postmortem in the template's layout.
pub async fn postmortem_md(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    Path(code): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let md: String = state.services.incidents().postmortem_markdown(&caller, &code).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}
