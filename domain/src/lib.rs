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

/// A list as queries and forms give it: items separated by commas, trimmed, empty ones
/// dropped (services of a change filter, a funnel's steps).
pub fn comma_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}
