//! Incidents page people. Declaring an incident, or opening one from an alert, starts an
//! escalation run through a policy — the one chosen, else the one the routing tree gives
//! an incident of that level (labels `alertname`, `severity`, `source="incident"`) — and
//! the incident commander defaults to whoever is on call for that policy's first step.
//! The runs are the on-call escalations (same pages, acknowledgement links and delivery
//! log), keyed `incident:<code>:<policy id>`; resolving the incident ends them.

use super::*;
use crate::oncall::EscalationView;
use domain::alerting::Labels;
use domain::oncall::escalation::Target;
use store::{EscalationPolicy, NewEscalation};

/// Subject keys of incident runs start with this.
pub const INCIDENT_KEY_PREFIX: &str = "incident:";

pub(crate) fn runs_prefix(code: &str) -> String {
    format!("{INCIDENT_KEY_PREFIX}{code}:")
}

/// The labels an incident is routed by, as if it were an alert.
pub fn routing_labels(fields: &IncidentFields) -> Labels {
    [
        ("alertname", fields.title.as_str()),
        ("severity", fields.severity.as_str()),
        ("source", "incident"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The subject key of a linked alert's own paging run: its episode — the link's
/// fingerprint (`fp@start`) for Vigil's rules, with the received-alert prefix for
/// Alertmanager's.
fn alert_run_key(link: &store::AlertLink) -> String {
    match link.rule_id {
        Some(_) => link.fingerprint.clone(),
        None => format!("{}{}", crate::notify::external::OUTSIDE_KEY_PREFIX, link.fingerprint),
    }
}

impl crate::Incidents<'_> {
    /// The policy that pages for an incident with these fields: `chosen` (which must
    /// exist), else the routing tree's; `None` when neither names one.
    pub(crate) async fn paging_policy(
        &self,
        fields: &IncidentFields,
        chosen: Option<i64>,
    ) -> Result<Option<EscalationPolicy>> {
        let policies = self.store.escalation_policies().await?;
        if let Some(id) = chosen {
            return match policies.into_iter().find(|p| p.id == id) {
                Some(p) => Ok(Some(p)),
                None => {
                    Err(ServiceError::invalid("escalation_policy", "pick a policy from the list"))
                }
            };
        }
        let (routing, _) = self.notify().policy_in_force().await?;
        let routed = routing.escalation_for(&routing_labels(fields));
        Ok(routed.and_then(|id| policies.into_iter().find(|p| p.id == id)))
    }

    /// Starts paging for `inc` through `policy` — or, with a `target`, paging that one
    /// person or schedule with the policy's channels and wait — once per incident, policy
    /// and target, and says so on the timeline. `false` when that run already exists.
    pub(crate) async fn start_incident_paging(
        &self,
        inc: &Incident,
        policy: &EscalationPolicy,
        target: Option<(Target, String)>,
        ctx: &AuditCtx,
    ) -> Result<bool> {
        let now = self.now_ms();
        let key = match &target {
            None => format!("{}{}", runs_prefix(&inc.code), policy.id),
            Some((Target::User(id), _)) => {
                format!("{}{}:user:{id}", runs_prefix(&inc.code), policy.id)
            }
            Some((Target::Schedule(id), _)) => {
                format!("{}{}:schedule:{id}", runs_prefix(&inc.code), policy.id)
            }
        };
        let new = NewEscalation {
            policy_id: policy.id,
            target: target.as_ref().map(|(t, _)| *t),
            subject_key: key,
            rule_id: None,
            title: format!("[{}] {}", inc.code, inc.fields.title),
            severity: inc.fields.severity.as_str().into(),
            started_at_ms: now,
        };
        if self.store.start_escalation(&new, ctx).await?.is_none() {
            return Ok(false);
        }
        let body = match &target {
            None => format!("Paging through the escalation policy \"{}\"", policy.spec.name),
            Some((_, who)) => {
                format!("Paging {who} through the channels of \"{}\"", policy.spec.name)
            }
        };
        let entry = NewEntry { at_ms: now, kind: EntryKind::Paging, body };
        self.store.add_timeline_entries(inc, &[entry], ctx).await?;
        Ok(true)
    }

    /// For an incident opened from an alert: the paging policy the routing tree gives it,
    /// and its on-call as the incident commander.
    pub(crate) async fn opened_paging(
        &self,
        fields: &IncidentFields,
    ) -> Result<(Roles, Option<EscalationPolicy>)> {
        let policy = self.paging_policy(fields, None).await?;
        let mut roles = Roles::new();
        if let Some(p) = &policy {
            if let Some(ic) = self.oncall().first_responder(p).await? {
                roles.insert(IncidentRole::Commander, vec![ic]);
            }
        }
        Ok((roles, policy))
    }

    /// Pages for an incident opened from an alert, unless the alert's own run already
    /// pages the same people through the same policy.
    pub(crate) async fn page_for_opened(
        &self,
        inc: &Incident,
        link: &AlertLink,
        policy: Option<EscalationPolicy>,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let Some(p) = policy else { return Ok(()) };
        let alert_run = alert_run_key(link);
        let runs = self.store.unresolved_escalations().await?;
        if !runs.iter().any(|e| e.subject_key == alert_run && e.policy_id == p.id) {
            self.start_incident_paging(inc, &p, None, ctx).await?;
        }
        Ok(())
    }

    /// Ends the runs still paging for an incident (it was resolved or closed).
    pub(crate) async fn end_incident_paging(
        &self,
        inc: &Incident,
        ctx: &AuditCtx,
    ) -> Result<usize> {
        let now = self.now_ms();
        let mut ended = 0;
        for e in self.store.escalations_with_prefix(&runs_prefix(&inc.code)).await? {
            if e.resolved_at_ms.is_none() {
                self.store.resolve_escalation(e.id, now).await?;
                ended += 1;
            }
        }
        if ended > 0 {
            let entry =
                NewEntry { at_ms: now, kind: EntryKind::Paging, body: "Paging ended".into() };
            self.store.add_timeline_entries(inc, &[entry], ctx).await?;
        }
        Ok(ended)
    }

    /// Pages more people for an incident (responder): through another escalation policy,
    /// or one person or schedule (`target`) with the channels of the chosen policy or, if
    /// none is chosen, of the first policy paging for the incident (else the routing
    /// tree's). `false` when that run exists.
    pub async fn page_more(
        &self,
        actor: &Caller,
        code: &str,
        policy_id: Option<i64>,
        target: Option<Target>,
    ) -> Result<bool> {
        actor.require(Permission::RespondToIncidents)?;
        let inc = self.store.incident_by_code(code).await?;
        if matches!(inc.status(), Status::Resolved | Status::Closed) {
            return Err(ServiceError::invalid(
                "escalation_policy",
                "the incident is resolved: nobody is paged",
            ));
        }
        let target = match target {
            None => None,
            Some(t @ Target::User(id)) => {
                let people = self.people_directory().await?;
                let p = people.iter().find(|p| p.id == id).ok_or_else(|| {
                    ServiceError::invalid("target", "pick an active person from the list")
                })?;
                Some((t, p.name.clone()))
            }
            Some(t @ Target::Schedule(id)) => {
                let schedules = self.store.schedules().await?;
                let s = schedules.iter().find(|s| s.id == id).ok_or_else(|| {
                    ServiceError::invalid("target", "pick a schedule from the list")
                })?;
                Some((t, format!("the on-call of \"{}\"", s.spec.name)))
            }
        };
        if policy_id.is_none() && target.is_none() {
            return Err(ServiceError::required("target"));
        }
        // Without a chosen policy: the one already paging for the incident, else the
        // routing tree's.
        let policy_id = match policy_id {
            Some(id) => Some(id),
            None => self
                .store
                .escalations_with_prefix(&runs_prefix(&inc.code))
                .await?
                .iter()
                .min_by_key(|e| (e.started_at_ms, e.id))
                .map(|e| e.policy_id),
        };
        let Some(policy) = self.paging_policy(&inc.fields, policy_id).await? else {
            return Err(ServiceError::invalid(
                "escalation_policy",
                "no escalation policy pages this incident: choose one, its channels carry the page",
            ));
        };
        self.start_incident_paging(&inc, &policy, target, &self.audit_ctx(actor)).await
    }

    /// Who was paged for an incident, when, how, and who acknowledged (viewer): its own
    /// runs and those of the alerts linked to it (an alert that paged before the incident
    /// was opened from it), oldest first.
    pub async fn incident_paging(&self, actor: &Caller, code: &str) -> Result<Vec<EscalationView>> {
        actor.require(Permission::ViewIncidents)?;
        let inc = self.store.incident_by_code(code).await?;
        let mut runs = self.store.escalations_with_prefix(&runs_prefix(&inc.code)).await?;
        for link in self.store.incident_alerts(inc.id).await? {
            for run in self.store.escalations_of_subject(&alert_run_key(&link)).await? {
                if !runs.iter().any(|r| r.id == run.id) {
                    runs.push(run);
                }
            }
        }
        runs.sort_by_key(|r| (r.started_at_ms, r.id));
        self.oncall().escalation_views(runs).await
    }
}
