//! Incidents and alerts: the link from an incident to a Vigil or Alertmanager alert, an
//! incident opened from an alert, and the engine's look for firing alerts whose rule opens
//! incidents.

use super::*;
use crate::Result;

impl crate::Incidents<'_> {
    /// The alert link for one of Vigil's alert instances that is active now.
    async fn vigil_alert_link(
        &self,
        actor: &Caller,
        rule_id: i64,
        fingerprint: &str,
    ) -> Result<AlertLink> {
        let now = self.now_ms();
        let alerts = self.alerting().active_alerts(actor).await?;
        let a = alerts
            .into_iter()
            .find(|a| {
                a.rule_id == rule_id
                    && crate::notify::alert_fingerprint(a.rule_id, &a.labels) == fingerprint
            })
            .ok_or_else(|| {
                ServiceError::invalid("alert", "that alert is no longer pending or firing")
            })?;
        Ok(vigil_link(&a, now))
    }

    /// The alert an incident is opened from or linked to: a Vigil rule's series or an
    /// Alertmanager alert, by fingerprint.
    async fn alert_link(
        &self,
        actor: &Caller,
        source: &str,
        rule_id: Option<i64>,
        fingerprint: &str,
    ) -> Result<AlertLink> {
        match (source, rule_id) {
            ("vigil", Some(id)) => self.vigil_alert_link(actor, id, fingerprint).await,
            ("alertmanager", _) => self.external_alert_link(actor, fingerprint).await,
            _ => {
                Err(ServiceError::invalid("source", "must be vigil (with a rule) or alertmanager"))
            }
        }
    }

    /// The alert link for an alert received from Alertmanager.
    async fn external_alert_link(&self, actor: &Caller, fingerprint: &str) -> Result<AlertLink> {
        let now = self.now_ms();
        let a = self
            .notify()
            .external_alerts(actor)
            .await?
            .into_iter()
            .find(|a| a.fingerprint == fingerprint)
            .ok_or_else(|| ServiceError::invalid("alert", "that alert is no longer firing"))?;
        // The level the alert is routed and listed at (`critical` is P0, as on the firing page).
        let severity = crate::notify::external::outside_level(&a.labels);
        Ok(AlertLink {
            fingerprint: format!("{}@{}", a.fingerprint, a.starts_at_ms),
            source: "alertmanager".into(),
            rule_id: None,
            title: a.name.clone(),
            severity,
            labels: a.labels.clone().into_iter().collect(),
            linked_at_ms: now,
        })
    }

    /// Declares an incident from an active alert (responder), or returns the incident it
    /// is already linked to. `source` is `vigil` (with the rule id) or `alertmanager`.
    pub async fn incident_from_alert(
        &self,
        actor: &Caller,
        source: &str,
        rule_id: Option<i64>,
        fingerprint: &str,
    ) -> Result<Incident> {
        actor.require(Permission::RespondToIncidents)?;
        let link = self.alert_link(actor, source, rule_id, fingerprint).await?;
        if let Some(id) = self.store.incident_for_alert(&link.fingerprint).await? {
            return Ok(self.store.incident(id).await?);
        }
        let now = self.now_ms();
        let fields = alert_fields(&link);
        let (roles, policy) = self.opened_paging(&fields).await?;
        let new = NewIncident {
            fields,
            detected_at_ms: now,
            day: self.incident_day(now),
            roles,
            reporter_id: actor.user_id(),
            reporter: actor.name.clone(),
        };
        let inc = self.store.create_incident(&new, Some(&link), &actor.audit(now)).await?;
        self.page_for_opened(&inc, &link, policy, &actor.audit(now)).await?;
        Ok(inc)
    }

    /// Links an active alert to an existing incident (responder).
    pub async fn link_alert(
        &self,
        actor: &Caller,
        code: &str,
        source: &str,
        rule_id: Option<i64>,
        fingerprint: &str,
    ) -> Result<bool> {
        actor.require(Permission::RespondToIncidents)?;
        let inc = self.store.incident_by_code(code).await?;
        let link = self.alert_link(actor, source, rule_id, fingerprint).await?;
        Ok(self.store.link_alert(&inc, &link, &self.audit_ctx(actor)).await?)
    }

    /// [`Services::open_incidents_for_firing_alerts`] when the last evaluation cycle changed
    /// something, or a minute after the last look (it reads every rule and its state).
    pub async fn open_incidents_if_due(&self, changed: bool) -> Result<Vec<String>> {
        use std::sync::atomic::Ordering;
        let now = self.now_ms();
        let last = self.incident_scan_at_ms.load(Ordering::SeqCst);
        if !changed && now.saturating_sub(last) < 60_000 {
            return Ok(Vec::new());
        }
        self.incident_scan_at_ms.store(now, Ordering::SeqCst);
        self.open_incidents_for_firing_alerts().await
    }

    /// Opens an incident for every firing alert of a rule marked "open an incident when
    /// firing" that has none for this firing episode yet (engine, leader only). Returns
    /// the codes opened.
    pub async fn open_incidents_for_firing_alerts(&self) -> Result<Vec<String>> {
        let mut opened = Vec::new();
        // One read of the rules serves both the flags and the active instances.
        let rules = self.store.rules_with_state().await?;
        let open_incident: BTreeMap<i64, bool> =
            rules.iter().map(|r| (r.rule.id, r.rule.spec.open_incident)).collect();
        for a in crate::alerting::active_alerts_of(&rules) {
            if a.state != AlertState::Firing
                || !open_incident.get(&a.rule_id).copied().unwrap_or(false)
            {
                continue;
            }
            let now = self.now_ms();
            let link = vigil_link(&a, now);
            if self.store.incident_for_alert(&link.fingerprint).await?.is_some() {
                continue;
            }
            let detected = a.fired_at_ms.unwrap_or(now).min(now);
            let fields = alert_fields(&link);
            let (roles, policy) = self.opened_paging(&fields).await?;
            let new = NewIncident {
                fields,
                detected_at_ms: detected,
                day: self.incident_day(detected),
                roles,
                reporter_id: None,
                reporter: "Vigil (alert rule)".into(),
            };
            let ctx = self.system_ctx("engine");
            let inc = self.store.create_incident(&new, Some(&link), &ctx).await?;
            self.page_for_opened(&inc, &link, policy, &ctx).await?;
            tracing::info!(incident = %inc.code, rule = %a.rule_name, "incident opened by a firing alert");
            opened.push(inc.code);
        }
        Ok(opened)
    }
}

/// The link to one of Vigil's alert instances, for its current firing episode.
fn vigil_link(a: &crate::alerting::ActiveAlert, now_ms: i64) -> AlertLink {
    AlertLink {
        fingerprint: episode_key(a),
        source: "vigil".into(),
        rule_id: Some(a.rule_id),
        title: if a.summary.is_empty() {
            a.rule_name.clone()
        } else {
            format!("{}: {}", a.rule_name, a.summary)
        },
        severity: a.severity,
        labels: a.labels.clone().into_iter().collect(),
        linked_at_ms: now_ms,
    }
}

/// A firing episode of an alert: the same series firing again later is a new episode.
/// Incidents link to it and escalations run once per episode.
pub fn episode_key(a: &crate::alerting::ActiveAlert) -> String {
    crate::notify::rule_episode_key(a.rule_id, &a.labels, a.fired_at_ms.unwrap_or(a.active_at_ms))
}

fn alert_fields(link: &AlertLink) -> IncidentFields {
    let labels: Vec<String> = link.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    IncidentFields {
        title: link.title.chars().take(domain::incident::TITLE_MAX).collect(),
        severity: link.severity,
        description: format!(
            "Opened from a firing alert ({}): {}\nLabels: {}",
            link.source,
            link.title,
            labels.join(", ")
        ),
        ..IncidentFields::default()
    }
}
