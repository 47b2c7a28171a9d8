//! `build_router(state)`: every route and layer of the HTTP server, in one place, so tests
//! drive the whole stack with `oneshot`.

use crate::api;
use crate::metrics::{self, Metrics};
use app::session::cookies::CookiePolicy;
use app::session::ssr::ClientIp;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
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
        move || shell(options.clone())
    };

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::handler))
        .route(
            "/ack/{token}",
            get(crate::links::ack_page).post(crate::links::ack),
        )
        .route("/ical/{token}", get(crate::links::ical))
        .nest("/api/v1", api::v1::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), app_shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_session_for_pages,
        ))
        .layer(middleware::from_fn(check_rpc_origin))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn(client_ip))
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

/// Puts the peer address (or the first `X-Forwarded-For` hop) in request extensions.
async fn client_ip(mut req: Request, next: Next) -> Response {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_owned());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let ip = forwarded.or(peer).unwrap_or_default();
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// Paths that need no session.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path.starts_with("/ack/")
        || path.starts_with("/ical/")
        || path.starts_with("/pkg/")
        || path.starts_with("/rpc/")
        || path.starts_with("/api/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// Pages need a session: signed-out browsers are sent to `/login?next=…`.
/// (Server functions check the session and the role themselves.)
async fn require_session_for_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() != Method::GET || is_public(&path) {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| app::i18n::cookie_value(c, app::session::SESSION_COOKIE));
    let signed_in = match token {
        Some(t) => matches!(state.services.session_actor(&t, "").await, Ok(Some(_))),
        None => false,
    };
    if signed_in {
        return next.run(req).await;
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let next_param: String = target
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Redirect::to(&format!("/login?next={next_param}")).into_response()
}

/// Refuses cross-site server-function calls: a browser always sends `Origin` on a
/// cross-origin POST, and it must name this host. (The per-session CSRF token checked by
/// every write is the main defence; this is the second one.)
async fn check_rpc_origin(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/rpc/") {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = origin.split("://").nth(1).unwrap_or_default();
            if origin_host != host {
                return Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .body(Body::from("cross-origin request refused"))
                    .unwrap_or_default();
            }
        }
    }
    next.run(req).await
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    res
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn public_paths() {
        for p in [
            "/login",
            "/pkg/vigil.wasm",
            "/rpc/me",
            "/api/v1/events",
            "/healthz",
            "/favicon.svg",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/", "/admin", "/admin/audit", "/dashboards"] {
            assert!(!is_public(p), "{p}");
        }
    }
}
