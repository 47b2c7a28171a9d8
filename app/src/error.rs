//! `AppError`: what a server function reports to the UI. Field errors are shown next to
//! their inputs; internal details stay in the server log.

use crate::i18n::Msg;
use domain::{FieldError, FieldErrors, Locale, Reason};
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
        if matches!(value, ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_)) {
            if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                opts.set_status(http::StatusCode::BAD_REQUEST);
            }
        }
        AppError::ServerFn(value)
    }
}

impl AppError {
    /// The message for one field in the current language, if this is a validation error
    /// naming it.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid(e) => e.error_of(name).map(|f| field_text(f, current_locale())),
            _ => None,
        }
    }

    /// What to tell the user, in `locale`: the kind of error in their language, then the
    /// server's detail where there is one (a conflict's reason, a field's own sentence).
    pub fn text(&self, locale: Locale) -> String {
        match self {
            AppError::Unauthorized => Msg::ErrSessionExpired.text(locale).to_owned(),
            AppError::Forbidden => Msg::ErrForbiddenAction.text(locale).to_owned(),
            AppError::NotFound => Msg::ErrNotFound.text(locale).to_owned(),
            AppError::Invalid(fields) => fields
                .0
                .iter()
                .map(|f| format!("{}: {}", f.field, field_text(f, locale)))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::Conflict(detail) => {
                format!("{} {detail}", Msg::ErrConflict.text(locale))
            }
            AppError::RateLimited(s) => {
                format!("{} {s} {}", Msg::ErrRateLimited.text(locale), Msg::Seconds.text(locale))
            }
            AppError::Internal => Msg::ErrGeneric.text(locale).to_owned(),
            AppError::ServerFn(e) => format!("{} ({e})", Msg::ErrRequestFailed.text(locale)),
        }
    }

    /// [`AppError::text`] in the current language.
    pub fn text_now(&self) -> String {
        self.text(current_locale())
    }
}

fn current_locale() -> Locale {
    use leptos::prelude::GetUntracked;
    crate::i18n::use_locale().try_get_untracked().unwrap_or_default()
}

/// One field's error in `locale`: worded from its stable reason; a reason without a
/// wording of its own (`Other`) keeps the server's English sentence.
pub fn field_text(f: &FieldError, locale: Locale) -> String {
    let msg = match f.reason {
        Reason::Required => Msg::FieldRequired,
        Reason::TooLong => {
            return Msg::FieldTooLong
                .text(locale)
                .replace("{n}", &f.limit.unwrap_or_default().to_string())
        }
        Reason::NotHttpUrl => Msg::FieldNotHttpUrl,
        Reason::InTheFuture => Msg::FieldInTheFuture,
        Reason::NotAfterStart => Msg::FieldNotAfterStart,
        // The server's sentence says by what; in English it is the better one.
        Reason::Taken if locale == Locale::En => return f.message.clone(),
        Reason::Taken => Msg::FieldTaken,
        Reason::Other => return f.message.clone(),
    };
    msg.text(locale).to_owned()
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
                AppError::Invalid({
                    let mut f = domain::FieldErrors::new();
                    f.add("body", m);
                    f
                }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_in_the_users_language() {
        let mut f = FieldErrors::new();
        f.required("name");
        f.too_long("title", 200);
        f.add("expr", "unexpected token at 3");
        let e = AppError::Invalid(f);
        assert_eq!(
            e.text(Locale::ZhCn),
            "name: 必填; title: 最多 200 个字符; expr: unexpected token at 3"
        );
        assert_eq!(
            e.text(Locale::En),
            "name: is required; title: must be at most 200 characters; expr: unexpected token at 3"
        );
        assert_eq!(AppError::Forbidden.text(Locale::ZhCn), "你没有权限执行此操作。");
        assert_eq!(
            AppError::RateLimited(7).text(Locale::ZhCn),
            "失败次数过多，请稍后重试，剩余秒数： 7 秒"
        );
    }
}
