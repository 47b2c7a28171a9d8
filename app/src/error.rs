//! `AppError`: what a server function reports to the UI. Field errors are shown next to
//! their inputs; internal details stay in the server log.

use domain::FieldErrors;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("sign in required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many attempts; retry in {0} s")]
    RateLimited(u64),
    #[error("internal error")]
    Internal,
    #[error("request failed: {0}")]
    ServerFn(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Arguments that do not parse are the caller's fault (400), not ours (500).
        #[cfg(feature = "ssr")]
        if matches!(
            value,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_)
        ) {
            if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                opts.set_status(http::StatusCode::BAD_REQUEST);
            }
        }
        AppError::ServerFn(value)
    }
}

impl AppError {
    /// The message for one field, if this is a validation error naming it.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid(e) => e.get(name).map(str::to_owned),
            _ => None,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<services::ServiceError> for AppError {
    /// Converts at the server-function edge and sets the HTTP status of the response.
    fn from(e: services::ServiceError) -> Self {
        use http::StatusCode;
        use services::ServiceError as S;
        let (status, err) = match e {
            S::Unauthorized => (StatusCode::UNAUTHORIZED, AppError::Unauthorized),
            S::Forbidden(_) => (StatusCode::FORBIDDEN, AppError::Forbidden),
            S::NotFound => (StatusCode::NOT_FOUND, AppError::NotFound),
            S::Invalid(f) => (StatusCode::UNPROCESSABLE_ENTITY, AppError::Invalid(f)),
            S::Conflict(m) => (StatusCode::CONFLICT, AppError::Conflict(m)),
            S::Malformed(m) => (
                StatusCode::BAD_REQUEST,
                AppError::Invalid(domain::FieldErrors(vec![domain::FieldError {
                    field: "body".into(),
                    message: m,
                }])),
            ),
            S::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, AppError::Conflict(m)),
            S::Gone(m) => (StatusCode::GONE, AppError::Conflict(m)),
            S::RateLimited(s) => {
                if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                    if let Ok(v) = http::HeaderValue::from_str(&s.to_string()) {
                        opts.insert_header(http::header::RETRY_AFTER, v);
                    }
                }
                (StatusCode::TOO_MANY_REQUESTS, AppError::RateLimited(s))
            }
            S::Internal(detail) => {
                tracing::error!(%detail, "internal error in server function");
                (StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal)
            }
        };
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(status);
        }
        err
    }
}
