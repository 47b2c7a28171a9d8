//! Vigil's pure business rules. No async, no I/O, no clock: every function that needs the
//! time takes `now` as an argument, so rules are table-tested without mocking.
//!
//! This crate is compiled into the WebAssembly bundle as well; keep it light (serde only).

pub mod access;
pub mod accounts;
pub mod alerting;
pub mod changes;
pub mod errors;
pub mod events;
pub mod incident;
pub mod kpi;
pub mod oncall;
pub mod probe;
pub mod ratelimit;
pub mod secrets;
pub mod time;

pub use access::Permission;
pub use accounts::{ApiScope, Locale, Role};
pub use errors::{FieldError, FieldErrors, Reason};
