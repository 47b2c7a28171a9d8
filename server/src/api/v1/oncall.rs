//! `GET /api/v1/oncall` (scope `read`): who is on call now and next, per schedule — for chat
//! bots, status pages and phone bridges.

use super::api_caller;
use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use domain::ApiScope;

/// `GET /api/v1/oncall`.
pub async fn now(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    api_caller(&state, &headers, ApiScope::Read).await?;
    let schedules = state.services.schedules_unchecked().await?;
    Ok(Json(serde_json::json!({ "schedules": schedules })))
}
