//! Incidents: the list, declaring, the incident commander's page (status, SLA clocks,
//! checklist, roles, timeline, report), postmortems, action items and reports.

mod incident;
pub mod pages;
pub mod postmortem;
pub mod server_fns;

pub use incident::IncidentPage;
pub use pages::IncidentsPage;
pub use postmortem::{ActionItemsPage, IncidentReportsPage, PostmortemPage};
