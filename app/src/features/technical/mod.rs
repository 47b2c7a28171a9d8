//! The Technical dashboard: HTTP probes with availability, latency, error rate, the
//! 99.9 % / 30-day error budget and its burn-rate alerts; the probe editor.

pub mod form;
pub mod pages;
pub mod server_fns;

pub use pages::{ProbeEditorPage, TechnicalPage};
