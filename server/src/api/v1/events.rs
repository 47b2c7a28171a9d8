//! `POST /api/v1/events`: product event ingestion (scope `ingest`).

use crate::api::error::ApiError;
use crate::api::v1::ApiKey;
use crate::router::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use services::events::IngestReport;

/// Takes a JSON array of events, or NDJSON with `Content-Type: application/x-ndjson`.
pub async fn ingest(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    req: Request<Body>,
) -> Result<Json<IngestReport>, ApiError> {
    let (parts, body) = req.into_parts();
    let ndjson =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.starts_with("application/x-ndjson") || ct.starts_with("application/ndjson")
        });
    let limit = state.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is over the {limit}-byte limit (VIGIL_MAX_BODY_BYTES)"),
        )
    })?;
    Ok(Json(state.services.events().ingest_events(&caller, &bytes, ndjson).await?))
}
