//! Product KPI dashboards: user behaviour, product & AI quality, business.

mod page;
pub mod server_fns;

pub use page::DashboardsPage;
