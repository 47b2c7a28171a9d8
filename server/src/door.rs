//! The one door every browser request passes: the cross-origin guard (CSRF) and the caller
//! layer. The caller layer builds the request's [`Caller`] once (session cookie → person,
//! or nobody), hands it to the server functions and pages through the request's
//! extensions, refuses a server function whose permission the caller lacks (the table is
//! `app::access::RPC`) and sends signed-out browsers from pages to the sign-in page.
//! `/api/v1` builds its caller from the API key instead (`api::v1::ApiKey`).

use crate::router::AppState;
use app::access::{rpc_access, Access};
use app::error::AppError;
use app::session::ssr;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use services::Caller;

/// Paths that are no browser page and need no caller: assets, probes, the REST API (its
/// own caller), signed links (the token is the credential).
fn outside_the_door(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || path.starts_with("/ack/")
        || path.starts_with("/ical/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

/// Whether a state-changing request comes from another site. Browsers say where a
/// request comes from: `Sec-Fetch-Site` (all current browsers) or else `Origin`, which
/// must name this host. A request with neither is not from a browser page (curl, a
/// script), so no victim's cookie rides on it by accident.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (get(header::ORIGIN.as_str()), get(header::HOST.as_str())) {
        (Some(origin), Some(host)) => origin.split("://").nth(1) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// CSRF protection for every state-changing request outside `/api/` (server functions,
/// forms, the sign-in form, acknowledgement links' POST): a cross-site one is refused
/// with 403 before anything runs. `SameSite=Lax` on the session cookie is the second line.
pub async fn cross_origin_guard(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !req.uri().path().starts_with("/api/") && is_cross_site(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin request refused: write from a page of this site",
        )
            .into_response();
    }
    next.run(req).await
}

/// The caller layer (see the module documentation).
pub async fn caller_door(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if outside_the_door(&path) {
        return next.run(req).await;
    }
    let ip = ssr::client_ip(req.extensions());
    let caller = match ssr::session_token(req.headers()) {
        Some(t) => match state.services.accounts().session_actor(&t, &ip).await {
            Ok(Some(c)) => c,
            Ok(None) => Caller::anonymous(&ip),
            Err(e) => {
                tracing::warn!(error = %e, "session lookup failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable")
                    .into_response();
            }
        },
        None => Caller::anonymous(&ip),
    };

    if let Some(endpoint) = path.strip_prefix("/rpc/") {
        let refusal = match rpc_access(endpoint) {
            Some(Access::Public) => None,
            Some(Access::Needs(p)) => caller.require(p).err().map(AppError::from),
            None => {
                tracing::error!(%endpoint, "server function without a row in app::access::RPC");
                Some(AppError::Forbidden)
            }
        };
        if let Some(e) = refusal {
            return rpc_refusal(e);
        }
    } else if req.method() == Method::GET && path != "/login" && caller.user_id().is_none() {
        return to_login(&req);
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// A refused server function call, in the error encoding server functions use (JSON of
/// `AppError`), so the UI shows it as it shows the service's own refusals.
fn rpc_refusal(err: AppError) -> Response {
    let status = match err {
        AppError::Unauthorized => StatusCode::UNAUTHORIZED,
        _ => StatusCode::FORBIDDEN,
    };
    let body = serde_json::to_string(&err).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// `303 /login?next=<this page>` (the path percent-encoded; `local_redirect` checks it
/// again after sign-in).
fn to_login(req: &Request) -> Response {
    let target =
        req.uri().path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_else(|| "/".into());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cross_site_by_fetch_metadata_then_origin() {
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        // Fetch metadata wins over a matching Origin.
        assert!(is_cross_site(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://vigil.test"),
            ("host", "vigil.test"),
        ])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://vigil.test"),
            ("host", "vigil.test")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "vigil.test")
        ])));
        assert!(is_cross_site(&headers(&[("origin", "null"), ("host", "vigil.test")])));
        // Not a browser page: nothing to forge.
        assert!(!is_cross_site(&headers(&[("host", "vigil.test")])));
    }

    #[test]
    fn outside_the_door_are_assets_probes_api_and_signed_links() {
        for p in [
            "/pkg/vigil.wasm",
            "/api/v1/events",
            "/ack/abc",
            "/ical/abc.ics",
            "/healthz",
            "/metrics",
            "/favicon.svg",
        ] {
            assert!(outside_the_door(p), "{p}");
        }
        for p in ["/", "/login", "/rpc/me", "/admin", "/admin/audit", "/dashboards"] {
            assert!(!outside_the_door(p), "{p}");
        }
    }
}
