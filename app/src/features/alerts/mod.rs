//! Alerting: what is firing, the rules and their editor with a backtest, the history.

mod editor;
pub mod form;
mod history;
pub mod pages;
mod reminders;
mod routing;
pub mod server_fns;

pub use editor::RuleEditorPage;
pub use history::{AlertHistoryPage, NotificationsPage, SilencesPage};
pub use pages::{AlertsPage, RulesPage};
