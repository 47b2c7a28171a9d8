//! `build_router(state)`: every route and layer of the HTTP server, in one place, so tests
//! drive the whole stack with `oneshot`.

use crate::api;
use crate::metrics::{self, Metrics};
use app::session::cookies::CookiePolicy;
use app::session::ssr::ClientIp;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use services::Services;
use std::net::SocketAddr;

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub leptos: LeptosOptions,
    pub metrics: Metrics,
    pub cookie_policy: CookiePolicy,
    pub max_body_bytes: usize,
    /// Trusted proxies, the metrics token, HSTS.
    pub edge: crate::edge::EdgePolicy,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

/// The page routes, generated once per process.
///
/// Generating renders the app with resource loading switched off through a process-wide
/// flag (leptos_server's `IS_SUPPRESSING_RESOURCE_LOAD`), so a generation running while
/// another router serves a page leaves that page's resources unloaded and its request
/// hanging. `vigil serve` builds one router before it listens, but the HTTP tests build one
/// per test in parallel and hung about once in 15 runs under load.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The complete application.
pub fn build_router(state: AppState) -> Router {
    let routes = page_routes();
    let context = {
        let services = state.services.clone();
        let policy = state.cookie_policy;
        move || {
            provide_context(services.clone());
            provide_context(policy);
        }
    };
    let app_shell = {
        let options = state.leptos.clone();
        move || csp_shell(options.clone())
    };

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_endpoint))
        .route("/ack/{token}", get(crate::links::ack_page).post(crate::links::ack))
        .route("/ical/{token}", get(crate::links::ical))
        .route("/export/kpis/{kpi}", get(api::v1::kpis::export_csv))
        .route("/export/cohorts", get(api::v1::kpis::export_cohorts))
        .route("/export/funnel", get(api::v1::kpis::export_funnel))
        .nest("/api/v1", api::v1::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), app_shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, csp_shell,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), crate::door::caller_door))
        .layer(middleware::from_fn(crate::door::cross_origin_guard))
        .layer(middleware::from_fn_with_state(state.edge.hsts, security_headers))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.max_body_bytes, limit_body))
        .layer(middleware::from_fn_with_state(std::sync::Arc::new(state.edge.clone()), client_ip))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /healthz`: the process is up.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.ready().await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({"status": "unavailable", "reason": "database unreachable"}),
                ),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: public unless `VIGIL_METRICS_TOKEN` is set, then it needs
/// `Authorization: Bearer <token>` (401 otherwise).
async fn metrics_endpoint(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    if let Some(token) = state.edge.metrics_token.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !services::accounts::constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need the bearer token (VIGIL_METRICS_TOKEN)",
            )
                .into_response();
        }
    }
    metrics::handler(State(state.metrics)).await.into_response()
}

/// Puts the client's address in request extensions: the TCP peer, or what a trusted
/// proxy says in `X-Forwarded-For` ([`crate::edge::EdgePolicy::client_ip`]).
async fn client_ip(
    State(edge): State<std::sync::Arc<crate::edge::EdgePolicy>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let hops: Vec<&str> =
        req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let ip = edge.client_ip(peer, &hops).map(|ip| ip.to_string()).unwrap_or_default();
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// One body limit for every route. Axum's `DefaultBodyLimit` only binds its own
/// extractors; server functions read the body themselves. So: a declared length over the
/// limit is refused before anything is read (413; the REST API's JSON envelope under
/// `/api/`), and every body is wrapped so that reading past the limit fails, whoever
/// reads it.
async fn limit_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let message = format!("the request body is over the {limit}-byte limit");
        return if req.uri().path().starts_with("/api/") {
            crate::api::error::ApiError::from(services::ServiceError::TooLarge(message))
                .into_response()
        } else {
            (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
        };
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, body)).await
}

/// The Content-Security-Policy of a rendered page: scripts only from this origin, plus
/// the inline hydration script that carries this response's nonce (leptos_axum makes one
/// per render), and WebAssembly compilation. Inline `style` attributes stay allowed (the
/// server-rendered charts and a few widgets use them; they cannot run code).
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Every other response (API, server functions, assets, signed-link pages): no script
/// at all.
const DEFAULT_CSP: &str =
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// The app shell, with the page's CSP header set from the render's nonce.
fn csp_shell(options: LeptosOptions) -> impl IntoView {
    if let (Some(nonce), Some(res)) =
        (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    {
        if let Ok(v) = HeaderValue::from_str(&page_csp(&nonce)) {
            res.insert_header(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    shell(options)
}

async fn security_headers(State(hsts): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_CSP));
    }
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    res
}
