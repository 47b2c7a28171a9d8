//! One folder per capability: server functions beside the pages that call them.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod changes;
pub mod dashboards;
pub mod incidents;
pub mod oncall;
pub mod placeholders;
pub mod technical;
