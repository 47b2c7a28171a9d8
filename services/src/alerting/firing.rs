//! What is firing now, from every source, in one list: Vigil's rules (probes included) and
//! the alerts Alertmanager sends. The home card, the navigation badge and the firing page
//! all read [`crate::Alerting::firing`], so they cannot disagree.

use super::{active_alerts_of, format_rule_value};
use crate::{Caller, Result};
use domain::alerting::{AlertState, Labels, Severity};
use domain::Permission;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an alert comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A Vigil rule (a KPI, a probe or a PromQL query), by id.
    Rule(i64),
    /// An alert received on the Alertmanager webhook; the name of the source it came in as.
    Alertmanager(String),
}

/// Who is being paged for an alert, and whether someone has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// No escalation runs for it (no policy on the route, or not firing yet).
    NotPaged,
    /// An escalation is paging and nobody has acknowledged it.
    Paging { escalation_id: i64 },
    /// Acknowledged: by whom and when.
    Acknowledged { by: String, at_ms: i64 },
}

/// One alert that is firing (or, for Vigil's rules, pending) now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringAlert {
    pub source: Source,
    /// Stable per label set: what an incident is opened from or linked to.
    pub fingerprint: String,
    /// This firing episode: what an acknowledgement is keyed by.
    pub episode_key: String,
    pub name: String,
    /// The level it is handled at (an outside alert's `severity` label read as a level,
    /// P2 when it names none).
    pub severity: Severity,
    /// The `severity` label as it came (outside alerts), or the level (Vigil's rules).
    pub severity_label: String,
    /// `false` while a Vigil rule's `for` has not elapsed yet.
    pub firing: bool,
    /// When it started firing (or became pending).
    pub since_ms: i64,
    /// The rule's value as people read it (empty for outside alerts).
    pub value: String,
    pub summary: String,
    /// Labels other than `alertname` and `severity`.
    pub labels: Vec<(String, String)>,
    /// The sender's link to the alert (`generatorURL`), only when it is http(s).
    pub link: Option<String>,
    pub response: Response,
}

/// Counts of what is firing, by level, for the badge and the home card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringCounts {
    /// Firing alerts at P0, P1, P2, P3.
    pub by_severity: [usize; 4],
    /// Firing and nobody has acknowledged (paging or not paged).
    pub unacknowledged: usize,
    /// Pending: the condition holds, its `for` has not elapsed.
    pub pending: usize,
}

impl FiringCounts {
    pub fn of(alerts: &[FiringAlert]) -> FiringCounts {
        let mut c = FiringCounts::default();
        for a in alerts {
            if !a.firing {
                c.pending += 1;
                continue;
            }
            c.by_severity[a.severity as usize] += 1;
            if !matches!(a.response, Response::Acknowledged { .. }) {
                c.unacknowledged += 1;
            }
        }
        c
    }

    /// Firing alerts, all levels.
    pub fn firing(&self) -> usize {
        self.by_severity.iter().sum::<usize>()
    }

    /// The most severe level that is firing.
    pub fn worst(&self) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| self.by_severity[*s as usize] > 0)
    }
}

/// Who answered an episode: its acknowledgement, else what its escalation (if any) says.
fn response_of(ack: Option<&store::acks::AlertAck>, e: Option<&store::Escalation>) -> Response {
    if let Some(a) = ack {
        return Response::Acknowledged { by: a.acked_by.clone(), at_ms: a.acked_at_ms };
    }
    match e {
        None => Response::NotPaged,
        Some(e) => match e.acked_at_ms {
            Some(at_ms) => {
                Response::Acknowledged { by: e.acked_by.clone().unwrap_or_default(), at_ms }
            }
            None => Response::Paging { escalation_id: e.id },
        },
    }
}

/// Labels without the two every list shows in their own column.
fn shown_labels(labels: &Labels) -> Vec<(String, String)> {
    labels
        .iter()
        .filter(|(k, _)| *k != "alertname" && *k != "severity")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A sender's link, kept only when it is an http(s) URL (never `javascript:` and the like).
fn safe_link(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| u.to_owned())
}

/// Matchers that select this alert, for a silence form to start from: `alertname` and the
/// labels, skipping values the matcher syntax cannot hold (a comma or a quote).
pub fn silence_matchers(a: &FiringAlert) -> String {
    std::iter::once(("alertname", a.name.as_str()))
        .chain(a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .filter(|(_, v)| !v.is_empty() && !v.contains(',') && !v.contains('"'))
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl crate::Alerting<'_> {
    /// Every alert firing or pending now, from every source: firing before pending, then
    /// the newest first (viewer).
    pub async fn firing(&self, actor: &Caller) -> Result<Vec<FiringAlert>> {
        actor.require(Permission::ViewAlerts)?;
        let rules = self.store.rules_with_state().await?;
        let escalations: BTreeMap<String, store::Escalation> = self
            .store
            .unresolved_escalations()
            .await?
            .into_iter()
            .map(|e| (e.subject_key.clone(), e))
            .collect();
        let acks: BTreeMap<String, store::acks::AlertAck> = self
            .store
            .alert_acks()
            .await?
            .into_iter()
            .map(|a| (a.subject_key.clone(), a))
            .collect();
        let mut out: Vec<FiringAlert> = active_alerts_of(&rules)
            .into_iter()
            .map(|a| {
                let key = crate::incidents::episode_key(&a);
                let response = response_of(acks.get(&key), escalations.get(&key));
                let value = rules.iter().find(|r| r.rule.id == a.rule_id).map_or_else(
                    || a.value.to_string(),
                    |r| format_rule_value(&r.rule.spec, a.value),
                );
                FiringAlert {
                    source: Source::Rule(a.rule_id),
                    fingerprint: crate::notify::alert_fingerprint(a.rule_id, &a.labels),
                    episode_key: key,
                    name: a.rule_name.clone(),
                    severity: a.severity,
                    severity_label: a.severity.as_str().into(),
                    firing: a.state == AlertState::Firing,
                    since_ms: a.fired_at_ms.unwrap_or(a.active_at_ms),
                    value,
                    summary: a.summary.clone(),
                    labels: shown_labels(&a.labels),
                    link: None,
                    response,
                }
            })
            .collect();
        for r in self.store.firing_external_alerts(self.now_ms()).await? {
            let o = crate::notify::external::Outside::read(r);
            let key = o.episode_key();
            let response = response_of(acks.get(&key), escalations.get(&key));
            out.push(FiringAlert {
                name: o.name(),
                severity: o.severity,
                severity_label: o.severity_label(),
                firing: true,
                since_ms: o.row.starts_at_ms,
                value: String::new(),
                summary: o.summary(),
                labels: shown_labels(&o.labels),
                link: safe_link(&o.row.generator_url),
                response,
                fingerprint: o.row.fingerprint,
                episode_key: key,
                source: Source::Alertmanager(o.row.source),
            });
        }
        out.sort_by(|a, b| b.firing.cmp(&a.firing).then(b.since_ms.cmp(&a.since_ms)));
        Ok(out)
    }
}

impl crate::Alerting<'_> {
    /// Acknowledges a firing alert (responder), paged or not, by its firing episode: the
    /// run paging for it stops and its notifications stop repeating. `false` when someone
    /// had already. An episode that is not firing now is not found.
    pub async fn acknowledge(&self, actor: &Caller, episode_key: &str) -> Result<bool> {
        actor.require(Permission::Acknowledge)?;
        if !self.firing(actor).await?.iter().any(|a| a.firing && a.episode_key == episode_key) {
            return Err(crate::ServiceError::NotFound);
        }
        Ok(self.store.ack_alert(episode_key, &self.audit_ctx(actor)).await?)
    }

    /// Takes an acknowledgement back (responder): the alert counts as unanswered again and
    /// a run it stopped pages again from its next step.
    pub async fn unacknowledge(&self, actor: &Caller, episode_key: &str) -> Result<bool> {
        actor.require(Permission::Acknowledge)?;
        Ok(self.store.unack_alert(episode_key, &self.audit_ctx(actor)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(sev: Severity, firing: bool, response: Response) -> FiringAlert {
        FiringAlert {
            source: Source::Rule(1),
            fingerprint: String::new(),
            episode_key: String::new(),
            name: String::new(),
            severity: sev,
            severity_label: String::new(),
            firing,
            since_ms: 0,
            value: String::new(),
            summary: String::new(),
            labels: vec![],
            link: None,
            response,
        }
    }

    #[test]
    fn counts_by_level_and_answer() {
        let acked = Response::Acknowledged { by: "Ann".into(), at_ms: 1 };
        let list = [
            alert(Severity::P1, true, Response::Paging { escalation_id: 7 }),
            alert(Severity::P1, true, acked),
            alert(Severity::P3, true, Response::NotPaged),
            alert(Severity::P2, true, Response::NotPaged),
            alert(Severity::P0, false, Response::NotPaged),
        ];
        let c = FiringCounts::of(&list);
        // The pending P0 is not firing: it counts as pending, not as the worst level.
        assert_eq!(c.by_severity, [0, 2, 1, 1]);
        assert_eq!((c.pending, c.unacknowledged), (1, 3));
        assert_eq!(c.firing(), 4);
        assert_eq!(c.worst(), Some(Severity::P1));
        assert_eq!(FiringCounts::default().worst(), None);
    }

    #[test]
    fn silence_matchers_select_the_alert() {
        let mut a = alert(Severity::P2, true, Response::NotPaged);
        a.name = "Disk full".into();
        a.labels = vec![("instance".into(), "db1".into()), ("note".into(), "a, b".into())];
        assert_eq!(silence_matchers(&a), r#"alertname="Disk full", instance="db1""#);
        let parsed = crate::notify::policy::parse_matchers(&silence_matchers(&a)).expect("parses");
        let labels: Labels = [("alertname", "Disk full"), ("instance", "db1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert!(parsed.iter().all(|m| m.matches(&labels)));
    }

    #[test]
    fn only_web_links_survive() {
        assert_eq!(
            safe_link(" https://prom:9090/graph?g0.expr=up "),
            Some("https://prom:9090/graph?g0.expr=up".into())
        );
        assert_eq!(safe_link("HTTP://x/"), Some("HTTP://x/".into()));
        assert_eq!(safe_link("javascript:alert(1)"), None);
        assert_eq!(safe_link("data:text/html,hi"), None);
        assert_eq!(safe_link(""), None);
    }
}
