//! Alerting: what is firing, the rules and their editor with a backtest, the history.

pub mod form;
pub mod pages;
pub mod server_fns;

pub use pages::{
    AlertHistoryPage, AlertsPage, NotificationsPage, RuleEditorPage, RulesPage, SilencesPage,
};
