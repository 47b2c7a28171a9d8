//! The REST API: versioned under `/api/v1`, its own DTOs, one JSON error envelope.

pub mod error;
pub mod v1;
