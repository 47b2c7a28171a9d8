//! The change log: deploys, configuration changes and feature flags, filtered by service,
//! kind, time and text; responders record one by hand (deploy scripts use the API).

pub mod page;
pub mod server_fns;

pub use page::ChangesPage;
