//! The `vigil` server: configuration, HTTP router, REST API and the CLI commands.

pub mod api;
pub mod cli;
pub mod config;
pub mod door;
pub mod edge;
pub mod engine;
pub mod links;
pub mod metrics;
pub mod router;
pub mod wiring;

pub use config::Config;
pub use router::{build_router, AppState};
