//! `POST /api/v1/integrations/alertmanager`: Alertmanager's webhook (payload version 4),
//! authenticated with an `ingest` key as `Authorization: Bearer …` (Alertmanager's
//! `http_config.authorization.credentials`).

use crate::api::error::ApiError;
use crate::api::v1::ApiKey;
use crate::router::AppState;
use axum::extract::State;
use axum::Json;
use services::notify::external::ReceiveReport;

pub async fn alertmanager(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
    body: axum::body::Bytes,
) -> Result<Json<ReceiveReport>, ApiError> {
    Ok(Json(state.services.notify().receive_alertmanager(&caller, &body).await?))
}

/// What `GET /api/v1/alerts` answers.
#[derive(Debug, serde::Serialize)]
pub struct AlertsNow {
    /// Vigil's own alert instances, pending or firing.
    pub alerts: Vec<services::alerting::ActiveAlert>,
    /// Alerts received from Alertmanager that are firing.
    pub external: Vec<services::notify::external::ExternalAlertView>,
}

/// `GET /api/v1/alerts` (scope `read`): what is pending or firing now.
pub async fn alerts_now(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
) -> Result<Json<AlertsNow>, ApiError> {
    Ok(Json(AlertsNow {
        alerts: state.services.alerting().active_alerts(&caller).await?,
        external: state.services.notify().external_alerts(&caller).await?,
    }))
}

/// `GET /api/v1/probes` (scope `read`): every HTTP probe with its last check,
/// availability, latency percentiles, error budget and burn-rate alerts.
pub async fn probes(
    State(state): State<AppState>,
    ApiKey(caller): ApiKey,
) -> Result<Json<serde_json::Value>, ApiError> {
    let probes = state.services.probes().probe_statuses(&caller, false).await?;
    Ok(Json(serde_json::json!({ "probes": probes })))
}
