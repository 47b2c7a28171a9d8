//! Routes that work without a session because the URL carries the credential: the signed
//! acknowledgement link sent in pages (`/ack/{token}`: GET shows what it acknowledges, POST
//! acknowledges — chat apps prefetch links, so a GET never changes anything) and the
//! secret iCalendar feeds (`/ical/{token}.ics`).

use crate::router::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use services::ServiceError;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t} · Vigil</title><link rel="stylesheet" href="/pkg/vigil.css"></head><body><main class="login"><div class="login-card ack-card"><div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>Vigil</div><h1>{t}</h1>{body}<p class="muted"><a href="/oncall">Open the on-call console</a></p></div></main></body></html>"#,
        t = esc(title)
    );
    (status, Html(html)).into_response()
}

/// A link that worked once and no longer does: 410 with the reason.
fn gone(reason: &str) -> Response {
    page(StatusCode::GONE, "Link no longer valid", &format!("<p>{}.</p>", esc(reason)))
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "<p>This acknowledgement link is not valid. It may have been copied incompletely.</p>",
    )
}

/// `GET /ack/{token}`: what the link acknowledges, with the button.
pub async fn ack_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.services.oncall().ack_link_preview(&token).await {
        Ok(o) => match o.acked_by {
            Some(by) => page(
                StatusCode::OK,
                "Already handled",
                &format!(
                    "<p><strong>{}</strong></p><p>No more pages are sent: {}.</p>",
                    esc(&o.title),
                    esc(&by)
                ),
            ),
            None => page(
                StatusCode::OK,
                "Acknowledge this page?",
                &format!(
                    r#"<p><strong>{}</strong></p><p>Acknowledging stops the escalation: nobody else is paged for it.</p><form method="post"><button class="btn primary" type="submit" autofocus>Acknowledge</button></form>"#,
                    esc(&o.title)
                ),
            ),
        },
        Err(e) => link_failed(e),
    }
}

/// The page for a link that does not work: unknown, gone (expired or its person
/// disabled), or a failure inside.
fn link_failed(e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => not_found(),
        ServiceError::Gone(reason) => gone(&reason),
        e => {
            tracing::warn!(error = %e, "ack link");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                "<p>Try again in a moment.</p>",
            )
        }
    }
}

/// `POST /ack/{token}`: acknowledges.
pub async fn ack(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.services.oncall().ack_by_link(&token).await {
        Ok(o) if o.acknowledged_now => page(
            StatusCode::OK,
            "Acknowledged",
            &format!(
                "<p><strong>{}</strong></p><p>Escalation stopped. Thank you.</p>",
                esc(&o.title)
            ),
        ),
        Ok(o) => page(
            StatusCode::OK,
            "Already handled",
            &format!(
                "<p><strong>{}</strong></p><p>{}</p>",
                esc(&o.title),
                esc(o.acked_by.as_deref().unwrap_or(""))
            ),
        ),
        Err(e) => link_failed(e),
    }
}

/// `GET /ical/{token}.ics`: the calendar (404 for an unknown or rotated token).
pub async fn ical(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.services.oncall().calendar_feed(&token).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            text,
        )
            .into_response(),
        Err(ServiceError::NotFound) => (StatusCode::NOT_FOUND, "unknown calendar").into_response(),
        Err(ServiceError::Gone(reason)) => (StatusCode::GONE, reason).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "calendar feed");
            (StatusCode::INTERNAL_SERVER_ERROR, "calendar unavailable").into_response()
        }
    }
}
