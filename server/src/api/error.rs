//! The one JSON error envelope of the REST API:
//! `{"error": {"code": "invalid", "message": "…", "fields": [{"field": "…", "message": "…"}]}}`.
//! 5xx details are logged, never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::FieldError;
use serde::Serialize;
use services::ServiceError;

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize)]
struct Envelope {
    error: ErrorBody,
}

/// An API error with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody { code, message: message.into(), fields: Vec::new() },
            retry_after_secs: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such API resource")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid API key (Authorization: Bearer vgl_…)",
            ),
            ServiceError::Forbidden(_) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key's scope does not allow this call",
            ),
            ServiceError::NotFound => Self::not_found(),
            ServiceError::Invalid(fields) => {
                let mut err = Self::new(StatusCode::BAD_REQUEST, "invalid", fields.to_string());
                err.body.fields = fields.0;
                err
            }
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Malformed(m) => Self::new(StatusCode::BAD_REQUEST, "malformed_json", m),
            ServiceError::TooLarge(m) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
            ServiceError::Gone(m) => Self::new(StatusCode::GONE, "gone", m),
            ServiceError::RateLimited(s) => {
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("retry in {s} s"),
                );
                err.retry_after_secs = Some(s);
                err
            }
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "internal error in API handler");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.retry_after_secs;
        let mut res = (self.status, Json(Envelope { error: self.body })).into_response();
        if let Some(s) = retry {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}
