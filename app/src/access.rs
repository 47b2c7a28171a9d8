//! The door of `/rpc`: which [`Permission`] each server function needs, checked by the
//! server's caller layer before the function's arguments are read (a new server function
//! without a row here is refused, and fails `server/tests/access_matrix.rs`).
//!
//! The service method the function calls checks the permission again with the same
//! caller: this table is the early, uniform refusal (401/403 before any body is parsed),
//! the service check is the one every other edge (REST, CLI, engine) shares.

use domain::Permission;

/// Who may call a server function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in, the current user, the language cookie).
    Public,
    /// A caller whose role holds this permission.
    Needs(Permission),
}

use Access::{Needs, Public};
use Permission as P;

/// Endpoint (the path after `/rpc/`) → access. Sorted by feature, as the server
/// functions are.
pub const RPC: &[(&str, Access)] = &[
    // account and session
    ("me", Public),
    ("login", Public),
    ("set_language", Public),
    ("logout", Needs(P::ManageOwnAccount)),
    ("save_preferences", Needs(P::ManageOwnAccount)),
    ("change_password", Needs(P::ManageOwnAccount)),
    ("time_zones", Needs(P::ManageOwnAccount)),
    // admin
    ("admin/list_users", Needs(P::ManageUsers)),
    ("admin/create_user", Needs(P::ManageUsers)),
    ("admin/set_user_role", Needs(P::ManageUsers)),
    ("admin/set_user_disabled", Needs(P::ManageUsers)),
    ("admin/list_api_keys", Needs(P::ManageApiKeys)),
    ("admin/create_api_key", Needs(P::ManageApiKeys)),
    ("admin/revoke_api_key", Needs(P::ManageApiKeys)),
    ("admin/audit_log", Needs(P::ViewAudit)),
    // alerts
    ("alerts/list_rules", Needs(P::ViewAlerts)),
    ("alerts/firing", Needs(P::ViewAlerts)),
    ("alerts/ack", Needs(P::Acknowledge)),
    ("alerts/unack", Needs(P::Acknowledge)),
    ("alerts/firing_badge", Needs(P::ViewAlerts)),
    ("alerts/history", Needs(P::ViewAlerts)),
    ("alerts/get_rule", Needs(P::ViewAlerts)),
    ("alerts/save_rule", Needs(P::EditRules)),
    ("alerts/delete_rule", Needs(P::EditRules)),
    // KPI and probe backtests read what a viewer sees; a PromQL one needs edit_rules
    // (checked by the service, which knows the query).
    ("alerts/backtest", Needs(P::ViewAlerts)),
    ("alerts/channels", Needs(P::ViewAlerts)),
    ("alerts/create_channel", Needs(P::ManageChannels)),
    ("alerts/delete_channel", Needs(P::ManageChannels)),
    ("alerts/test_channel", Needs(P::EditRouting)),
    ("alerts/silences", Needs(P::ViewAlerts)),
    ("alerts/create_silence", Needs(P::Silence)),
    ("alerts/expire_silence", Needs(P::Silence)),
    ("alerts/deliveries", Needs(P::ViewAlerts)),
    ("alerts/policy", Needs(P::ViewAlerts)),
    ("alerts/save_policy", Needs(P::EditRouting)),
    ("alerts/routing", Needs(P::ViewAlerts)),
    ("alerts/save_route", Needs(P::EditRouting)),
    ("alerts/change_route", Needs(P::EditRouting)),
    ("alerts/route_test", Needs(P::ViewAlerts)),
    ("alerts/export_routing", Needs(P::ViewAlerts)),
    ("alerts/import_routing", Needs(P::EditRouting)),
    ("alerts/schedule_settings", Needs(P::ViewAlerts)),
    // changes
    ("changes/list", Needs(P::ViewChanges)),
    ("changes/record", Needs(P::RecordChanges)),
    ("alerts/save_schedule", Needs(P::EditRouting)),
    ("alerts/export_rules", Needs(P::ViewAlerts)),
    ("alerts/import_rules", Needs(P::EditRules)),
    // dashboards
    ("dash/user", Needs(P::ViewDashboards)),
    ("dash/product", Needs(P::ViewDashboards)),
    ("dash/business", Needs(P::ViewDashboards)),
    // incidents and postmortems
    ("incidents/list", Needs(P::ViewIncidents)),
    ("incidents/paging", Needs(P::ViewIncidents)),
    ("incidents/page_more", Needs(P::RespondToIncidents)),
    ("incidents/page_targets", Needs(P::ViewOncall)),
    ("incidents/people", Needs(P::ViewIncidents)),
    ("incidents/get", Needs(P::ViewIncidents)),
    ("incidents/report", Needs(P::ViewIncidents)),
    ("incidents/reports", Needs(P::ViewIncidents)),
    ("incidents/home", Needs(P::ViewIncidents)),
    ("incidents/postmortem", Needs(P::ViewIncidents)),
    ("incidents/postmortem_md", Needs(P::ViewIncidents)),
    ("incidents/actions", Needs(P::ViewIncidents)),
    ("incidents/declare", Needs(P::RespondToIncidents)),
    ("incidents/status", Needs(P::RespondToIncidents)),
    ("incidents/update", Needs(P::RespondToIncidents)),
    ("incidents/roles", Needs(P::RespondToIncidents)),
    ("incidents/checkpoint", Needs(P::RespondToIncidents)),
    ("incidents/note", Needs(P::RespondToIncidents)),
    ("incidents/edit_note", Needs(P::RespondToIncidents)),
    ("incidents/send_report", Needs(P::RespondToIncidents)),
    ("incidents/from_alert", Needs(P::RespondToIncidents)),
    ("incidents/save_postmortem", Needs(P::EditPostmortems)),
    ("incidents/add_action", Needs(P::EditPostmortems)),
    ("incidents/delete_action", Needs(P::EditPostmortems)),
    // an item's owner may move it whatever their role (the service checks the rest)
    ("incidents/action_status", Needs(P::ViewIncidents)),
    // on-call
    ("oncall/overview", Needs(P::ViewOncall)),
    ("oncall/home", Needs(P::ViewOncall)),
    ("oncall/schedule", Needs(P::ViewOncall)),
    ("oncall/schedule-edit", Needs(P::ViewOncall)),
    ("oncall/policy-edit", Needs(P::ViewOncall)),
    ("oncall/policy-options", Needs(P::ViewOncall)),
    ("oncall/ack", Needs(P::Acknowledge)),
    ("oncall/override", Needs(P::EditOncall)),
    ("oncall/override-delete", Needs(P::EditOncall)),
    ("oncall/schedule-save", Needs(P::EditOncall)),
    ("oncall/schedule-delete", Needs(P::EditOncall)),
    ("oncall/policy-save", Needs(P::EditOncall)),
    ("oncall/policy-delete", Needs(P::EditOncall)),
    // one's own feed; a schedule's feed needs edit_oncall (checked by the service)
    ("oncall/feed", Needs(P::ManageOwnAccount)),
    ("oncall/contact", Needs(P::ManageOwnAccount)),
    ("oncall/contact-save", Needs(P::ManageOwnAccount)),
    // technical
    ("technical/overview", Needs(P::ViewDashboards)),
    ("technical/traffic", Needs(P::ViewDashboards)),
    ("technical/probe_names", Needs(P::ViewDashboards)),
    ("technical/get_probe", Needs(P::ViewDashboards)),
    ("technical/save_probe", Needs(P::EditProbes)),
    ("technical/delete_probe", Needs(P::EditProbes)),
    ("technical/test_probe", Needs(P::EditProbes)),
];

/// Page path (as the router lists it) → what the page needs to show more than the
/// no-access view. Every page needs a signed-in person (the caller layer sends everyone
/// else to `/login`); the page itself shows its content only under this permission.
/// Kept beside [`RPC`] so the route × role matrix test checks both.
pub const PAGES: &[(&str, Access)] = &[
    ("/login", Public),
    ("/", Needs(P::ViewDashboards)),
    ("/dashboards", Needs(P::ViewDashboards)),
    ("/alerts", Needs(P::ViewAlerts)),
    ("/alerts/rules", Needs(P::ViewAlerts)),
    ("/alerts/rules/{id}", Needs(P::ViewAlerts)),
    ("/alerts/history", Needs(P::ViewAlerts)),
    ("/alerts/silences", Needs(P::ViewAlerts)),
    ("/alerts/notifications", Needs(P::ViewAlerts)),
    ("/technical", Needs(P::ViewDashboards)),
    ("/technical/probes/{id}", Needs(P::ViewDashboards)),
    ("/incidents", Needs(P::ViewIncidents)),
    ("/incidents/{code}", Needs(P::ViewIncidents)),
    ("/incidents/{code}/postmortem", Needs(P::ViewIncidents)),
    ("/action-items", Needs(P::ViewIncidents)),
    ("/incident-reports", Needs(P::ViewIncidents)),
    ("/changes", Needs(P::ViewChanges)),
    ("/oncall", Needs(P::ViewOncall)),
    ("/oncall/schedules/{id}", Needs(P::ViewOncall)),
    ("/oncall/schedules/{id}/edit", Needs(P::EditOncall)),
    ("/oncall/policies/{id}", Needs(P::ViewOncall)),
    ("/settings", Needs(P::ManageOwnAccount)),
    ("/admin", Needs(P::ManageUsers)),
    ("/admin/api-keys", Needs(P::ManageApiKeys)),
    ("/admin/audit", Needs(P::ViewAudit)),
];

/// The access row of `/rpc/{endpoint}`; `None` for an endpoint without a row (refused).
pub fn rpc_access(endpoint: &str) -> Option<Access> {
    RPC.iter().find(|(e, _)| *e == endpoint).map(|(_, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_endpoint() {
        let mut names: Vec<&str> = RPC.iter().map(|(e, _)| *e).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "an endpoint has two rows");
        assert_eq!(rpc_access("incidents/declare"), Some(Needs(P::RespondToIncidents)));
        assert_eq!(rpc_access("no/such"), None);
    }
}
