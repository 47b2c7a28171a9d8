//! The routing editor: the tree route by route (each change one versioned, audited save
//! of the whole tree), the label tester, and the tree in Alertmanager's YAML.

use super::amconfig;
use super::channels::{ChannelConfig, ChannelKind};
use super::policy::{self, Policy};
use super::silence_from_row;
use super::tree::{RouteForm, RouteOp};
use crate::{Caller, Result, ServiceError};
use domain::alerting::routing::{RouteHit, RouteTest, RoutingView};
use domain::alerting::{format_duration, Labels, Severity};
use domain::Permission;
use std::collections::BTreeMap;
use store::AuditCtx;

/// What an Alertmanager import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingImport {
    pub version: i64,
    /// What the file had that Vigil does not use.
    pub skipped: Vec<String>,
}

/// Parses the tester's labels: `name=value` pairs separated by commas or lines (values may
/// be quoted; `{…}` around them is allowed).
pub fn parse_labels(text: &str) -> std::result::Result<Labels, String> {
    let mut out = Labels::new();
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    for part in inner.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("{part:?} is not name=value"));
        };
        let k = k.trim();
        if !domain::alerting::rule::valid_label_name(k) {
            return Err(format!("{k:?} is not a label name"));
        }
        out.insert(k.to_owned(), v.trim().trim_matches('"').to_owned());
    }
    if out.is_empty() {
        return Err("enter at least one label, e.g. severity=P1, service=chat".into());
    }
    Ok(out)
}

impl crate::Notify<'_> {
    /// The tree for the routing editor, with the channels and escalation policies its
    /// forms offer.
    pub async fn routing(&self, actor: &Caller) -> Result<RoutingView> {
        actor.require(Permission::ViewAlerts)?;
        let (p, version) = self.policy_in_force().await?;
        Ok(RoutingView {
            version,
            rows: p.rows(),
            channels: self
                .store
                .channels()
                .await?
                .into_iter()
                .map(|c| (c.name, c.enabled))
                .collect(),
            policies: self.policy_names().await?.into_iter().collect(),
        })
    }

    async fn policy_names(&self) -> Result<BTreeMap<i64, String>> {
        Ok(self
            .store
            .escalation_policies()
            .await?
            .into_iter()
            .map(|p| (p.id, p.spec.name))
            .collect())
    }

    /// Saves one route's form (its children stay); `version` is the tree's, as loaded.
    pub async fn save_route(
        &self,
        actor: &Caller,
        version: i64,
        path: &str,
        form: &RouteForm,
    ) -> Result<i64> {
        actor.require(Permission::EditRouting)?;
        let (mut p, _) = self.policy_in_force().await?;
        p.apply_form(path, form)?;
        self.set_notification_policy(actor, &p, version).await
    }

    /// Adds a child route, deletes or moves a route; returns the new version.
    pub async fn change_route(
        &self,
        actor: &Caller,
        version: i64,
        path: &str,
        op: RouteOp,
    ) -> Result<i64> {
        actor.require(Permission::EditRouting)?;
        let (mut p, _) = self.policy_in_force().await?;
        p.apply_op(path, op)?;
        self.set_notification_policy(actor, &p, version).await
    }

    /// Where an alert with these labels goes: the routes that take it, their channels
    /// (as delivery picks them), escalation policy, group and timings, and the active
    /// silences that would mute it.
    pub async fn test_routing(&self, actor: &Caller, labels: &str) -> Result<RouteTest> {
        actor.require(Permission::ViewAlerts)?;
        let labels = parse_labels(labels).map_err(|m| ServiceError::invalid("labels", m))?;
        let (p, _) = self.policy_in_force().await?;
        let channels = self.store.channels().await?;
        let names = self.policy_names().await?;
        let severity = labels.get("severity").and_then(|s| Severity::parse(s));
        let hits = p
            .routes_for(&labels)
            .into_iter()
            .map(|r| {
                let (picked, fell_back) =
                    policy::pick_channels(&channels, &r.channels, |c| (&c.name, c.enabled));
                let repeat = severity.map(|s| policy::repeat_ms(&r, s)).or(r.repeat_interval_ms);
                RouteHit {
                    matchers: p.route_at(&r.path).map(|x| x.form().matchers).unwrap_or_default(),
                    channels: picked.iter().map(|c| c.name.clone()).collect(),
                    fell_back,
                    escalation_policy: r
                        .escalation_policy_id
                        .map(|id| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))),
                    group: r
                        .group_by
                        .iter()
                        .map(|l| format!("{l}={:?}", labels.get(l).map_or("", String::as_str)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    group_wait: format_duration(r.group_wait_ms),
                    group_interval: format_duration(r.group_interval_ms),
                    repeat_interval: repeat.map(format_duration).unwrap_or_default(),
                    path: r.path,
                }
            })
            .collect();
        let now = self.now_ms();
        let mut silenced_by = Vec::new();
        for row in self.store.silences(now).await? {
            let s = silence_from_row(&row)?;
            if s.mutes(&labels, now) {
                silenced_by.push((s.id, s.comment));
            }
        }
        Ok(RouteTest { hits, silenced_by })
    }

    /// The tree in force as an Alertmanager configuration file.
    pub async fn export_routing(&self, actor: &Caller) -> Result<String> {
        actor.require(Permission::ViewAlerts)?;
        let (p, _) = self.policy_in_force().await?;
        Ok(amconfig::export(&p, &self.policy_names().await?))
    }

    /// Replaces the tree with an Alertmanager configuration's `route` and
    /// `inhibit_rules`, whole or not at all; errors name the place in the file (field
    /// `yaml`).
    pub async fn import_routing(
        &self,
        actor: &Caller,
        yaml: &str,
        version: i64,
    ) -> Result<RoutingImport> {
        actor.require(Permission::EditRouting)?;
        let known: Vec<String> = self.store.channels().await?.into_iter().map(|c| c.name).collect();
        let (current, _) = self.policy_in_force().await?;
        let got = amconfig::import(yaml, &known, &current)
            .map_err(|m| ServiceError::invalid("yaml", m))?;
        let version = self.set_notification_policy(actor, &got.policy, version).await?;
        Ok(RoutingImport { version, skipped: got.skipped })
    }

    /// The demo's channels for the default tree — `phone` (an SMS/phone gateway webhook),
    /// `feishu` and `email`, disabled, as they cannot reach anything from a demo — and the
    /// default tree with the demo's paging policy on P0 and P1. Only on an install with no
    /// channels and no saved tree; returns the channels added.
    pub async fn load_demo_routing(&self) -> Result<usize> {
        if !self.store.channels().await?.is_empty() || self.store.policy().await?.is_some() {
            return Ok(0);
        }
        let ctx = AuditCtx::system("demo", self.now_ms());
        let demo = [
            (
                "phone",
                ChannelKind::Webhook,
                ChannelConfig::webhook("https://sms-gateway.example.com/vigil", ""),
            ),
            (
                "feishu",
                ChannelKind::Feishu,
                ChannelConfig::webhook("https://open.feishu.cn/open-apis/bot/v2/hook/demo", ""),
            ),
            (
                "email",
                ChannelKind::Email,
                ChannelConfig {
                    url: "smtp://mail.example.com:25".into(),
                    secret: String::new(),
                    from: "Vigil <vigil@example.com>".into(),
                    to: "oncall@example.com".into(),
                },
            ),
        ];
        for (name, kind, cfg) in &demo {
            let doc =
                serde_json::to_string(cfg).map_err(|e| ServiceError::Internal(e.to_string()))?;
            self.store.create_channel(name, kind.as_str(), &doc, false, &ctx).await?;
        }
        let mut p = Policy::default();
        if let Some(id) = self
            .policy_names()
            .await?
            .into_iter()
            .find(|(_, n)| n == "P0/P1 paging")
            .map(|(id, _)| id)
        {
            for r in p.route.routes.iter_mut().filter(|r| {
                let m = r.form().matchers;
                m == "severity=\"P0\"" || m == "severity=\"P1\""
            }) {
                r.escalation_policy_id = Some(id);
            }
        }
        let doc = serde_json::to_string(&p).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store.put_policy(&doc, 0, &ctx).await?;
        Ok(demo.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tester_labels_take_the_usual_spellings() {
        let l = parse_labels("{severity=\"P1\", service=chat}").expect("labels");
        assert_eq!(l.get("severity").map(String::as_str), Some("P1"));
        assert_eq!(l.get("service").map(String::as_str), Some("chat"));
        assert_eq!(parse_labels("a=1\nb = 2").expect("lines").len(), 2);
        assert!(parse_labels("").is_err());
        assert!(parse_labels("severity").expect_err("no =").contains("name=value"));
        assert!(parse_labels("9x=1").expect_err("bad name").contains("label name"));
    }
}
