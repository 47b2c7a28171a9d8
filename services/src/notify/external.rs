//! Alerts from an existing Prometheus/Alertmanager: the Alertmanager webhook (payload
//! version 4) is accepted at `POST /api/v1/integrations/alertmanager` with an ingest key,
//! stored, and shown beside Vigil's own alerts.

use crate::Result;
use crate::{Caller, ServiceError};
use domain::alerting::{Labels, Severity};
use domain::FieldErrors;
use serde::{Deserialize, Serialize};
use store::notify::ExternalAlert;

/// Alertmanager's webhook body (`version: "4"`), the fields Vigil uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertmanagerWebhook {
    pub version: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<AlertmanagerAlert>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AlertmanagerAlert {
    pub status: String,
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    #[serde(default, rename = "endsAt")]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReceiveReport {
    pub accepted: usize,
    pub firing: usize,
    pub resolved: usize,
}

/// A received alert, read once: its labels and annotations, and the level it is handled
/// at — its `severity` label read as a level ([`Severity::from_label`]), P2 when the label
/// names none.
pub struct Outside {
    pub row: ExternalAlert,
    pub labels: Labels,
    pub annotations: Labels,
    pub severity: Severity,
}

impl Outside {
    pub fn read(row: ExternalAlert) -> Outside {
        let labels: Labels = serde_json::from_str(&row.labels).unwrap_or_default();
        let annotations: Labels = serde_json::from_str(&row.annotations).unwrap_or_default();
        let severity = outside_level(&labels);
        Outside { row, labels, annotations, severity }
    }

    pub fn name(&self) -> String {
        self.labels.get("alertname").cloned().unwrap_or_else(|| self.row.fingerprint.clone())
    }

    pub fn summary(&self) -> String {
        self.annotations
            .get("summary")
            .or_else(|| self.annotations.get("description"))
            .cloned()
            .unwrap_or_default()
    }

    /// The `severity` label as it came (empty when there was none).
    pub fn severity_label(&self) -> String {
        self.labels.get("severity").cloned().unwrap_or_default()
    }

    /// The labels routes, silences and inhibitions match: as received, but `severity` is
    /// the level (`P0`–`P3`), as on Vigil's own alerts; a different original value is kept
    /// as `alertmanager_severity`.
    pub fn routing_labels(&self) -> Labels {
        let mut l = self.labels.clone();
        let level = self.severity.as_str();
        if let Some(orig) = l.insert("severity".into(), level.into()) {
            if orig != level {
                l.insert("alertmanager_severity".into(), orig);
            }
        }
        l
    }

    /// The firing episode: what an escalation and an acknowledgement are keyed by.
    pub fn episode_key(&self) -> String {
        outside_episode_key(&self.row.fingerprint, self.row.starts_at_ms)
    }
}

/// The level a received alert is handled at: its `severity` label read as a level
/// ([`Severity::from_label`]), P2 when the label names none.
pub fn outside_level(labels: &Labels) -> Severity {
    labels.get("severity").and_then(|s| Severity::from_label(s)).unwrap_or(Severity::P2)
}

/// A received alert's firing episode: its fingerprint and when it began.
pub fn outside_episode_key(fingerprint: &str, starts_at_ms: i64) -> String {
    format!("{OUTSIDE_KEY_PREFIX}{fingerprint}@{starts_at_ms}")
}

/// Escalations of outside alerts have subject keys that start with this.
pub const OUTSIDE_KEY_PREFIX: &str = "alertmanager:";

/// A received alert as the alerts page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalAlertView {
    pub source: String,
    /// Alertmanager's fingerprint of the alert (stable per label set).
    pub fingerprint: String,
    pub name: String,
    pub severity: String,
    pub summary: String,
    pub labels: Labels,
    pub starts_at_ms: i64,
    pub generator_url: String,
}

/// RFC 3339 → ms; Go's zero time (Alertmanager's "no end") → `None`.
fn parse_time(s: &str) -> Result<Option<i64>, String> {
    if s.is_empty() || s.starts_with("0001-01-01") {
        return Ok(None);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

fn fingerprint_of(labels: &Labels) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(serde_json::to_vec(labels).unwrap_or_default())[..8])
}

impl crate::Notify<'_> {
    /// Stores an Alertmanager webhook's alerts; every problem names the alert and field,
    /// and nothing is stored unless all are valid.
    pub async fn receive_alertmanager(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<ReceiveReport> {
        caller.require(domain::Permission::Ingest)?;
        let hook: AlertmanagerWebhook = serde_json::from_slice(body).map_err(|e| {
            ServiceError::Malformed(format!("line {}, column {}: {e}", e.line(), e.column()))
        })?;
        let mut e = FieldErrors::new();
        if hook.version != "4" {
            e.add(
                "version",
                format!("must be \"4\" (Alertmanager webhook payload), got {:?}", hook.version),
            );
        }
        if hook.alerts.len() > 1000 {
            e.add("alerts", "at most 1000 alerts per call");
        }
        let now = self.now_ms();
        let mut rows = Vec::with_capacity(hook.alerts.len());
        for (i, a) in hook.alerts.iter().enumerate() {
            let firing = match a.status.as_str() {
                "firing" => true,
                "resolved" => false,
                other => {
                    e.add(
                        &format!("alerts[{i}].status"),
                        format!("must be firing or resolved, got {other:?}"),
                    );
                    continue;
                }
            };
            if a.labels.is_empty() {
                e.add(&format!("alerts[{i}].labels"), "must not be empty");
            }
            let starts = match parse_time(&a.starts_at) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    e.required(&format!("alerts[{i}].startsAt"));
                    continue;
                }
                Err(m) => {
                    e.add(&format!("alerts[{i}].startsAt"), m);
                    continue;
                }
            };
            let ends = match parse_time(&a.ends_at) {
                Ok(t) => t,
                Err(m) => {
                    e.add(&format!("alerts[{i}].endsAt"), m);
                    continue;
                }
            };
            let json = |v: &Labels| serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
            rows.push(ExternalAlert {
                source: "alertmanager".into(),
                fingerprint: if a.fingerprint.trim().is_empty() {
                    fingerprint_of(&a.labels)
                } else {
                    a.fingerprint.trim().chars().take(64).collect()
                },
                firing,
                labels: json(&a.labels),
                annotations: json(&a.annotations),
                starts_at_ms: starts,
                // A firing alert's endsAt is Alertmanager's resolve timeout, not an end.
                ends_at_ms: if firing { None } else { ends.or(Some(now)) },
                generator_url: a.generator_url.chars().take(2048).collect(),
                received_at_ms: now,
            });
        }
        e.into_result()?;
        let ctx = caller.audit(now);
        self.store.upsert_external_alerts(&rows, &ctx).await?;
        Ok(ReceiveReport {
            accepted: rows.len(),
            firing: rows.iter().filter(|r| r.firing).count(),
            resolved: rows.iter().filter(|r| !r.firing).count(),
        })
    }

    /// Received alerts still firing, newest first (viewer).
    pub async fn external_alerts(&self, actor: &crate::Caller) -> Result<Vec<ExternalAlertView>> {
        actor.require(domain::Permission::ViewAlerts)?;
        let rows = self.store.firing_external_alerts(self.now_ms()).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let o = Outside::read(r);
                ExternalAlertView {
                    name: o.name(),
                    severity: o.severity_label(),
                    summary: o.summary(),
                    source: o.row.source,
                    fingerprint: o.row.fingerprint,
                    labels: o.labels,
                    starts_at_ms: o.row.starts_at_ms,
                    generator_url: o.row.generator_url,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_follow_alertmanager() {
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(parse_time("2026-11-25T10:00:00+08:00"), Ok(Some(1_795_572_000_000)));
        assert!(parse_time("yesterday").is_err());
    }
}
