//! Who may do what: every action is a [`Permission`]; which roles and API key scopes hold
//! it is decided here and nowhere else (`docs/security.md` prints this table).
//!
//! Services check a permission first thing, with the caller of the request; the UI uses
//! the same table only to hide what a role cannot do.

use crate::accounts::{ApiScope, Role};
use serde::{Deserialize, Serialize};

/// One action a caller can attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Product, user and business KPIs, technical health, probe results.
    ViewDashboards,
    /// Alert rules, firing alerts and their history, silences, channels (names), routing,
    /// the delivery log, rule export.
    ViewAlerts,
    /// Incidents, timelines, postmortems, action items, reports, the list of people.
    ViewIncidents,
    /// Schedules, who is on call, escalation policies and escalations, one's own shifts.
    ViewOncall,
    /// One's own preferences, password, contact methods and calendar feed.
    ManageOwnAccount,
    /// Acknowledge a page (escalation) for oneself or the team.
    Acknowledge,
    /// Create and expire silences.
    Silence,
    /// Declare incidents, change status, roles, notes, links to alerts, send reports.
    RespondToIncidents,
    /// Write postmortems and their action items.
    EditPostmortems,
    /// Create, edit, delete, import and backtest alert rules (backtests run PromQL).
    EditRules,
    /// Create, edit, delete and run synthetic probes.
    EditProbes,
    /// Edit the notification routing policy; send a test notification.
    EditRouting,
    /// Schedules, overrides, escalation policies, schedule feeds.
    EditOncall,
    /// Create and delete notification channels (they hold webhook secrets).
    ManageChannels,
    /// Create users, change roles, disable people, manage other people's feeds and contacts.
    ManageUsers,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Read the audit log.
    ViewAudit,
    /// Send product events and Alertmanager alerts (API keys with scope `ingest`).
    Ingest,
    /// The change log: deploys, configuration changes, feature flags.
    ViewChanges,
    /// Record a change (people from responder up; API keys with scope `changes`).
    RecordChanges,
}

impl Permission {
    pub const ALL: [Permission; 20] = [
        Permission::ViewDashboards,
        Permission::ViewAlerts,
        Permission::ViewIncidents,
        Permission::ViewOncall,
        Permission::ManageOwnAccount,
        Permission::Acknowledge,
        Permission::Silence,
        Permission::RespondToIncidents,
        Permission::EditPostmortems,
        Permission::EditRules,
        Permission::EditProbes,
        Permission::EditRouting,
        Permission::EditOncall,
        Permission::ManageChannels,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ViewAudit,
        Permission::Ingest,
        Permission::ViewChanges,
        Permission::RecordChanges,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewDashboards => "view_dashboards",
            Permission::ViewAlerts => "view_alerts",
            Permission::ViewIncidents => "view_incidents",
            Permission::ViewOncall => "view_oncall",
            Permission::ManageOwnAccount => "manage_own_account",
            Permission::Acknowledge => "acknowledge",
            Permission::Silence => "silence",
            Permission::RespondToIncidents => "respond_to_incidents",
            Permission::EditPostmortems => "edit_postmortems",
            Permission::EditRules => "edit_rules",
            Permission::EditProbes => "edit_probes",
            Permission::EditRouting => "edit_routing",
            Permission::EditOncall => "edit_oncall",
            Permission::ManageChannels => "manage_channels",
            Permission::ManageUsers => "manage_users",
            Permission::ManageApiKeys => "manage_api_keys",
            Permission::ViewAudit => "view_audit",
            Permission::Ingest => "ingest",
            Permission::ViewChanges => "view_changes",
            Permission::RecordChanges => "record_changes",
        }
    }

    /// The least role that holds this permission; `None`: no person holds it (it is for
    /// API keys only).
    ///
    /// This match is the role → permission table: roles are ordered, and each includes
    /// every permission of the roles before it.
    pub fn least_role(self) -> Option<Role> {
        use Permission as P;
        match self {
            P::ViewDashboards
            | P::ViewAlerts
            | P::ViewIncidents
            | P::ViewOncall
            | P::ViewChanges
            | P::ManageOwnAccount => Some(Role::Viewer),
            P::Acknowledge
            | P::Silence
            | P::RespondToIncidents
            | P::EditPostmortems
            | P::RecordChanges => Some(Role::Responder),
            P::EditRules | P::EditProbes | P::EditRouting | P::EditOncall => Some(Role::Editor),
            P::ManageChannels | P::ManageUsers | P::ManageApiKeys | P::ViewAudit => {
                Some(Role::Admin)
            }
            P::Ingest => None,
        }
    }

    /// The API key scope that holds this permission, if any. Keys never write anything
    /// but events, received alerts and changes, and never read accounts or the audit log.
    pub fn api_scope(self) -> Option<ApiScope> {
        use Permission as P;
        match self {
            P::ViewDashboards
            | P::ViewAlerts
            | P::ViewIncidents
            | P::ViewOncall
            | P::ViewChanges => Some(ApiScope::Read),
            P::Ingest => Some(ApiScope::Ingest),
            P::RecordChanges => Some(ApiScope::Changes),
            _ => None,
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// Whether a person with this role may do `p`.
    pub fn can(self, p: Permission) -> bool {
        p.least_role().is_some_and(|least| self.allows(least))
    }
}

impl ApiScope {
    /// Whether an API key of this scope may do `p`.
    pub fn can(self, p: Permission) -> bool {
        p.api_scope() == Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_is_unique_and_all_is_complete() {
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        // serde and as_str agree, so the docs table and the JSON agree.
        for p in Permission::ALL {
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
        }
    }

    #[test]
    fn roles_are_cumulative_and_admin_holds_every_person_permission() {
        for p in Permission::ALL {
            let holders: Vec<bool> = Role::ALL.iter().map(|r| r.can(p)).collect();
            // Once a role holds p, every later role holds it.
            assert!(holders.windows(2).all(|w| !w[0] || w[1]), "{p}: {holders:?}");
            assert_eq!(Role::Admin.can(p), p.least_role().is_some(), "{p}");
        }
    }

    #[test]
    fn the_table_by_hand() {
        // A few rows written out, as the threat model reads them.
        assert!(Role::Viewer.can(Permission::ViewDashboards));
        assert!(!Role::Viewer.can(Permission::Acknowledge));
        assert!(Role::Responder.can(Permission::Acknowledge));
        assert!(!Role::Responder.can(Permission::EditRules));
        assert!(Role::Editor.can(Permission::EditRules));
        assert!(!Role::Editor.can(Permission::ManageUsers));
        assert!(!Role::Admin.can(Permission::Ingest));
        assert!(ApiScope::Ingest.can(Permission::Ingest));
        assert!(!ApiScope::Ingest.can(Permission::ViewIncidents));
        assert!(ApiScope::Read.can(Permission::ViewIncidents));
        assert!(!ApiScope::Read.can(Permission::Acknowledge));
        assert!(!ApiScope::Read.can(Permission::ManageApiKeys));
        assert!(ApiScope::Changes.can(Permission::RecordChanges));
        assert!(!ApiScope::Changes.can(Permission::Ingest));
        assert!(!ApiScope::Ingest.can(Permission::RecordChanges));
        assert!(Role::Responder.can(Permission::RecordChanges));
        assert!(!Role::Viewer.can(Permission::RecordChanges));
    }
}
