//! `/api/v1`: the stable public contract for machines (ingestion, integrations, reads).

pub mod changes;
pub mod events;
pub mod incidents;
pub mod integrations;
pub mod kpis;
pub mod oncall;

use crate::api::error::ApiError;
use crate::router::AppState;
use app::session::ssr::ClientIp;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use domain::{ApiScope, Permission};
use serde::Serialize;
use services::{Caller, Principal, ServiceError};

/// One `/api/v1` route: its method and path, the permission its service method checks
/// against the key's scope (`None`: any valid key), and its handler. The router is built
/// from [`ROUTES`] alone, so a route cannot exist without its row; the route × key
/// matrix test (`server/tests/access_matrix.rs`) calls every row with every scope.
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub needs: Option<Permission>,
    handler: fn() -> MethodRouter<AppState>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    needs: Option<Permission>,
    handler: fn() -> MethodRouter<AppState>,
) -> ApiRoute {
    ApiRoute { method, path, needs, handler }
}

use Permission as P;

pub const ROUTES: &[ApiRoute] = &[
    route("GET", "/whoami", None, || get(whoami)),
    // Its own streaming limit (`VIGIL_MAX_INGEST_BYTES`), checked while reading.
    route("POST", "/events", Some(P::Ingest), || {
        post(events::ingest).layer(axum::extract::DefaultBodyLimit::disable())
    }),
    route("POST", "/integrations/alertmanager", Some(P::Ingest), || {
        post(integrations::alertmanager)
    }),
    route("GET", "/alerts", Some(P::ViewAlerts), || get(integrations::alerts_now)),
    route("GET", "/probes", Some(P::ViewDashboards), || get(integrations::probes)),
    route("GET", "/kpis", Some(P::ViewDashboards), || get(kpis::catalogue)),
    route("GET", "/kpis/{kpi}", Some(P::ViewDashboards), || get(kpis::one)),
    route("GET", "/incidents", Some(P::ViewIncidents), || get(incidents::list)),
    route("GET", "/incidents/{code}", Some(P::ViewIncidents), || get(incidents::one)),
    route("GET", "/incidents/{code}/postmortem.md", Some(P::ViewIncidents), || {
        get(incidents::postmortem_md)
    }),
    route("GET", "/oncall", Some(P::ViewOncall), || get(oncall::now)),
    route("POST", "/changes", Some(P::RecordChanges), || post(changes::record)),
    route("GET", "/changes", Some(P::ViewChanges), || get(changes::list)),
];

pub fn routes() -> Router<AppState> {
    ROUTES
        .iter()
        .fold(Router::new(), |r, route| r.route(route.path, (route.handler)()))
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
        let ip = parts.extensions.get::<ClientIp>().map(|c| c.0.as_str()).unwrap_or_default();
        Ok(ApiKey(state.services.accounts().authenticate_api_key(secret, ip).await?))
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
        Principal::ApiKey { key_id, scope } => {
            Ok(Json(WhoAmI { key_id, name: caller.name, scope }))
        }
        _ => Err(ServiceError::Unauthorized.into()),
    }
}
