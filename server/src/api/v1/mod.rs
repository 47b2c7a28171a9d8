//! `/api/v1`: the stable public contract for machines (ingestion, integrations, reads).

pub mod events;
pub mod incidents;
pub mod integrations;
pub mod oncall;

use crate::api::error::ApiError;
use crate::router::AppState;
use app::session::ssr::ClientIp;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ApiScope;
use serde::Serialize;
use services::{Caller, Principal, ServiceError};

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

/// The caller of an `/api/v1` request: the holder of its `Bearer` key (401 without a
/// valid one), calling from the client IP the edge determined. What the key may do is
/// checked by the service method it calls.
pub struct ApiKey(pub Caller);

impl axum::extract::FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|c| c.0.as_str())
            .unwrap_or_default();
        Ok(ApiKey(
            state.services.authenticate_api_key(secret, ip).await?,
        ))
    }
}

#[derive(Debug, Serialize)]
struct WhoAmI {
    key_id: i64,
    name: String,
    scope: ApiScope,
}

/// `GET /api/v1/whoami` (any valid key): which key is calling.
async fn whoami(ApiKey(caller): ApiKey) -> Result<Json<WhoAmI>, ApiError> {
    match caller.principal {
        Principal::ApiKey { key_id, scope } => Ok(Json(WhoAmI {
            key_id,
            name: caller.name,
            scope,
        })),
        _ => Err(ServiceError::Unauthorized.into()),
    }
}
