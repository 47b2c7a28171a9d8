//! The KPI engine of SPEC §1: pure functions over day-keyed user sets, counters, sketches
//! and subscription events. Hand-computed examples beside each definition.

pub mod activity;
pub mod calendar;
pub mod funnel;
pub mod ratios;
pub mod sketch;
pub mod subscriptions;
