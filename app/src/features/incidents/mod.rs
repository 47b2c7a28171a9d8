//! Incidents: the list, declaring, the incident commander's page (status, SLA clocks,
//! checklist, roles, timeline, report), postmortems, action items and reports.

pub mod pages;
pub mod postmortem;
pub mod server_fns;

pub use pages::{IncidentPage, IncidentsPage};
pub use postmortem::{ActionItemsPage, IncidentReportsPage, PostmortemPage};
