//! The change log: what deploy scripts (`POST /api/v1/changes`, `vigil changes add`) and
//! people record, listed with filters, shown before an incident and as chart markers.

use crate::{Caller, Result, ServiceError};
use domain::changes::{Change, ChangeKind, ChangeSpec, BEFORE_INCIDENT_MS};
use domain::Permission;
use serde::{Deserialize, Serialize};
use store::changes::{ChangeQuery, NewChange};

/// Which changes to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Any of these services; empty: all.
    #[serde(default)]
    pub services: Vec<String>,
    pub kind: Option<ChangeKind>,
    pub q: Option<String>,
    /// Default 200, at most 5000.
    #[serde(default)]
    pub limit: i64,
}

/// The changes an incident page shows: of the services its alerts carry (`service`
/// label), from a day before detection to its resolution (or now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentChanges {
    /// The services looked at; empty: the incident names none, so every service.
    pub services: Vec<String>,
    pub changes: Vec<Change>,
}

impl crate::Changes<'_> {
    /// Records a change (responders, API keys with scope `changes`); errors name the
    /// field. Returns the change and whether it is new (`false`: a change with the same
    /// client `id` was recorded before, and is returned unchanged).
    pub async fn record_change(&self, actor: &Caller, spec: &ChangeSpec) -> Result<(Change, bool)> {
        actor.require(Permission::RecordChanges)?;
        let now = self.now_ms();
        let kind = spec.validate(now).map_err(ServiceError::Invalid)?;
        let new = NewChange {
            at_ms: spec.at_ms.unwrap_or(now),
            service: spec.service.trim().to_owned(),
            kind,
            version: spec.version.trim().to_owned(),
            author: spec.author.trim().to_owned(),
            description: spec.description.trim().to_owned(),
            url: spec.url.trim().to_owned(),
            external_id: spec.id.as_deref().map(str::trim).map(str::to_owned),
        };
        Ok(self.store.record_change(&new, &self.audit_ctx(actor)).await?)
    }

    /// Changes matching the filter, newest first (viewers, read keys).
    pub async fn list_changes(&self, actor: &Caller, f: &ChangeFilter) -> Result<Vec<Change>> {
        actor.require(Permission::ViewChanges)?;
        if !(0..=5000).contains(&f.limit) {
            return Err(ServiceError::invalid("limit", "must be between 1 and 5000"));
        }
        if let Some(bad) = f.services.iter().find(|s| !domain::changes::valid_service(s)) {
            return Err(ServiceError::invalid("service", format!("{bad:?} is not a service name")));
        }
        Ok(self
            .store
            .changes(&ChangeQuery {
                from_ms: f.from_ms,
                to_ms: f.to_ms,
                services: f.services.clone(),
                kind: f.kind,
                q: f.q.clone(),
                limit: f.limit,
            })
            .await?)
    }

    /// What changed around an incident: the services of its alerts, from a day before it
    /// was detected until it was resolved (or now).
    pub async fn incident_changes(&self, actor: &Caller, code: &str) -> Result<IncidentChanges> {
        actor.require(Permission::ViewChanges)?;
        actor.require(Permission::ViewIncidents)?;
        let incident = self.store.incident_by_code(code).await?;
        let mut services: Vec<String> = self
            .store
            .incident_alerts(incident.id)
            .await?
            .into_iter()
            .filter_map(|a| a.labels.get("service").cloned())
            .filter(|s| domain::changes::valid_service(s))
            .collect();
        services.sort();
        services.dedup();
        let detected = incident.log.detected_ms();
        let changes = self
            .store
            .changes(&ChangeQuery {
                from_ms: Some(detected - BEFORE_INCIDENT_MS),
                to_ms: Some(incident.log.resolved_ms().unwrap_or_else(|| self.now_ms()) + 1),
                services: services.clone(),
                limit: 200,
                ..ChangeQuery::default()
            })
            .await?;
        Ok(IncidentChanges { services, changes })
    }
}
