//! The service error: what went wrong in terms a caller can act on. Converted to HTTP
//! responses at the REST edge and to `AppError` at the server-function edge.

use domain::FieldErrors;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No valid session or key.
    #[error("sign in required")]
    Unauthorized,
    /// Signed in, but the role (or the key's scope) does not hold this permission.
    #[error("forbidden: requires the {0} permission")]
    Forbidden(domain::Permission),
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts, retry in {0} s")]
    RateLimited(u64),
    /// The request body is not valid JSON; the message gives the position.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// The request is over a size or count limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// A credential that was valid and is no longer (an expired link, a link or feed of
    /// a disabled person): HTTP 410, with the reason.
    #[error("gone: {0}")]
    Gone(String),
    /// Something failed inside; details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, message);
        ServiceError::Invalid(e)
    }

    /// One field that is empty or missing.
    pub fn required(field: &str) -> Self {
        let mut e = FieldErrors::new();
        e.required(field);
        ServiceError::Invalid(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(e: FieldErrors) -> Self {
        ServiceError::Invalid(e)
    }
}

/// What a service method returns: `Result<T>` is `Result<T, ServiceError>`.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
