//! `POST /api/v1/changes` (scope `changes`): deploy scripts record what they changed;
//! `GET /api/v1/changes` (scope `read`): the change log with filters.

use super::ApiKey;
use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use domain::changes::{Change, ChangeKind};
use serde::Deserialize;
use services::changes::ChangeFilter;
use services::ServiceError;

/// `POST /api/v1/changes`: 201 with the change; 200 with the earlier one when a change
/// with the same `id` was recorded before.
pub async fn record(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Change>), ApiError> {
    let (change, new) = state.services.changes().record_change_json(&caller, &body).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(change)))
}

/// Query of `GET /api/v1/changes`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Epoch milliseconds, inclusive.
    pub from_ms: Option<i64>,
    /// Epoch milliseconds, exclusive.
    pub to_ms: Option<i64>,
    /// One service or several separated by commas.
    pub service: Option<String>,
    /// `deploy`, `config` or `flag`.
    pub kind: Option<String>,
    pub q: Option<String>,
    /// Newest first, default 200, at most 5000.
    pub limit: Option<i64>,
}

/// `GET /api/v1/changes`.
pub async fn list(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ServiceError::invalid("query", e.body_text()))?;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            ChangeKind::parse(k)
                .ok_or_else(|| ServiceError::invalid("kind", "must be deploy, config or flag"))?,
        ),
    };
    let filter = ChangeFilter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        services: ChangeFilter::services_from(q.service.as_deref().unwrap_or_default()),
        kind,
        q: q.q,
        limit: q.limit.unwrap_or(200),
    };
    if filter.limit < 1 {
        return Err(ServiceError::invalid("limit", "must be between 1 and 5000").into());
    }
    let changes = state.services.changes().list_changes(&caller, &filter).await?;
    Ok(Json(serde_json::json!({ "changes": changes })))
}
