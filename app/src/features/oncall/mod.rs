//! On-call: schedules and their timeline, overrides, escalation policies and pages, "my
//! shifts", contact settings, calendar feeds.

pub mod contact;
pub mod editors;
pub mod pages;
pub mod server_fns;
