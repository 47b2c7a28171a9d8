//! `/api/v1`: the stable public contract for machines (ingestion, integrations, reads).

pub mod events;
pub mod incidents;
pub mod integrations;
pub mod oncall;

use crate::api::error::ApiError;
use crate::router::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ApiScope;
use serde::Serialize;
use services::ApiCaller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/whoami", get(whoami))
        .route(
            "/events",
            post(events::ingest).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/integrations/alertmanager",
            post(integrations::alertmanager),
        )
        .route("/alerts", get(integrations::alerts_now))
        .route("/probes", get(integrations::probes))
        .route("/incidents", get(incidents::list))
        .route("/incidents/{code}", get(incidents::one))
        .route(
            "/incidents/{code}/postmortem.md",
            get(incidents::postmortem_md),
        )
        .route("/oncall", get(oncall::now))
        .fallback(|| async { ApiError::not_found() })
}

/// The `Bearer` key of a request, authenticated for `scope`.
pub async fn api_caller(
    state: &AppState,
    headers: &HeaderMap,
    scope: ApiScope,
) -> Result<ApiCaller, ApiError> {
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    Ok(state.services.authenticate_api_key(secret, scope).await?)
}

#[derive(Debug, Serialize)]
struct WhoAmI {
    key_id: i64,
    name: String,
    scope: ApiScope,
}

/// `GET /api/v1/whoami` (scope `read`): which key is calling.
async fn whoami(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<WhoAmI>, ApiError> {
    let caller = api_caller(&state, &headers, ApiScope::Read).await?;
    Ok(Json(WhoAmI {
        key_id: caller.key_id,
        name: caller.name,
        scope: caller.scope,
    }))
}
