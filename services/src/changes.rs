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

impl ChangeFilter {
    /// Services as a query or form gives them: names separated by commas.
    pub fn services_from(list: &str) -> Vec<String> {
        domain::comma_list(list)
    }
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

    /// [`Self::record_change`] from a JSON body (`POST /api/v1/changes`): the permission
    /// first, so a key of another scope gets 403 whatever it sends; then the body, whose
    /// errors name the field.
    pub async fn record_change_json(&self, actor: &Caller, body: &[u8]) -> Result<(Change, bool)> {
        actor.require(Permission::RecordChanges)?;
        let spec: ChangeSpec = serde_json::from_slice(body)
            .map_err(|e| ServiceError::invalid("body", format!("not a change: {e}")))?;
        self.record_change(actor, &spec).await
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

    /// The changes of the local days `from..=to` (reporting time zone) with their day,
    /// newest first, for the markers of day charts (at most 200).
    pub async fn changes_in_days(
        &self,
        actor: &Caller,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<(i32, Change)>> {
        actor.require(Permission::ViewChanges)?;
        let tz = self.events().reporting_tz();
        let q = ChangeQuery {
            from_ms: Some(crate::events::day_start_ms(from_day, tz)),
            to_ms: Some(crate::events::day_start_ms(to_day + 1, tz)),
            limit: 200,
            ..ChangeQuery::default()
        };
        let changes = self.store.changes(&q).await?;
        Ok(changes.into_iter().map(|c| (crate::events::local_day(c.at_ms, tz), c)).collect())
    }

    /// What changed around an incident: the services of its alerts, from a day before it
    /// was detected until it was resolved (or now).
    pub async fn incident_changes(&self, actor: &Caller, code: &str) -> Result<IncidentChanges> {
        actor.require(Permission::ViewChanges)?;
        actor.require(Permission::ViewIncidents)?;
        let incident = self.store.incident_by_code(code).await?;
        let alerts = self.store.incident_alerts(incident.id).await?;
        self.changes_around(actor, &incident, &alerts).await
    }

    /// [`Self::incident_changes`] for an incident and alerts already read (the incident
    /// page has them from `incident_detail`).
    pub async fn changes_around(
        &self,
        actor: &Caller,
        incident: &store::incidents::Incident,
        alerts: &[store::incidents::AlertLink],
    ) -> Result<IncidentChanges> {
        actor.require(Permission::ViewChanges)?;
        actor.require(Permission::ViewIncidents)?;
        let mut services: Vec<String> = alerts
            .iter()
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

impl crate::Changes<'_> {
    /// The demo's change log: a deploy of one of four services about every other day for
    /// 30 days, configuration and flag changes between, and a deploy 25 minutes before
    /// each incident detected in that time. Idempotent (client ids `demo-…`); returns how
    /// many were added.
    pub async fn load_demo_changes(&self, seed: u64) -> Result<usize> {
        const SERVICES: [&str; 4] = ["checkout", "chat", "search", "gateway"];
        const AUTHORS: [&str; 3] = ["ci (GitHub Actions)", "li.wei", "wang.fang"];
        let now = self.now_ms();
        let day = 86_400_000;
        let ctx = store::AuditCtx::system("demo", now);
        let mut specs: Vec<(String, NewChange)> = Vec::new();
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move |n: u64| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        for i in 0..30 {
            let service = SERVICES[next(4) as usize];
            let (kind, version, description) = match i % 3 {
                0 | 1 => (
                    ChangeKind::Deploy,
                    format!("v2.{}.{}", 10 + i / 3, next(9)),
                    format!("Release train {}", 30 - i),
                ),
                _ if i % 2 == 0 => (
                    ChangeKind::Config,
                    String::new(),
                    "Raise the connection pool from 50 to 80".to_owned(),
                ),
                _ => {
                    (ChangeKind::Flag, String::new(), "new_ranking on for 10% of users".to_owned())
                }
            };
            let at_ms = now - (i as i64) * day - (next(20) as i64 + 1) * 3_600_000 / 2;
            specs.push((
                format!("demo-{i}"),
                NewChange {
                    at_ms,
                    service: service.to_owned(),
                    kind,
                    version,
                    author: AUTHORS[next(3) as usize].to_owned(),
                    description,
                    url: String::new(),
                    external_id: None,
                },
            ));
        }
        let recent = self
            .store
            .incidents(&store::incidents::IncidentFilter {
                from_ms: Some(now - 30 * day),
                limit: 100,
                ..Default::default()
            })
            .await?;
        for i in recent {
            specs.push((
                format!("demo-before-{}", i.code),
                NewChange {
                    at_ms: i.log.detected_ms() - 25 * 60_000,
                    service: SERVICES[next(4) as usize].to_owned(),
                    kind: ChangeKind::Deploy,
                    version: format!("v2.9.{}", next(9)),
                    author: "ci (GitHub Actions)".to_owned(),
                    description: "Hotfix release".to_owned(),
                    url: String::new(),
                    external_id: None,
                },
            ));
        }
        let mut added = 0;
        for (id, mut c) in specs {
            c.external_id = Some(id);
            if self.store.record_change(&c, &ctx).await?.1 {
                added += 1;
            }
        }
        Ok(added)
    }
}
