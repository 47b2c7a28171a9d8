//! `GET /api/v1/oncall` (scope `read`): who is on call now and next, per schedule — for chat
//! bots, status pages and phone bridges.

use super::ApiKey;
use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::State;
use axum::Json;

/// `GET /api/v1/oncall`.
pub async fn now(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
) -> Result<Json<serde_json::Value>, ApiError> {
    let schedules = state.services.oncall().schedules(&caller).await?;
    Ok(Json(serde_json::json!({ "schedules": schedules })))
}
