//! Notifications: channels, the routing policy, silences; the dispatch step the engine runs
//! after each evaluation (alerts → groups → outbox, in one transaction) and the delivery
//! step (outbox → HTTP, retried with backoff for up to 24 h, at least once, each message
//! with an idempotency key).

pub mod amconfig;
pub mod channels;
pub mod dispatch;
pub mod external;
pub mod policy;
mod routing;
pub mod schedule;
pub mod tree;

use crate::Result;
use crate::{Caller, ServiceError};
use channels::{ChannelConfig, ChannelKind};
use dispatch::{GroupState, NotifyAlert};
use domain::alerting::AlertState;
use domain::Permission;

use policy::{Policy, Silence};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::notify::{ChannelRow, Delivery, NewDelivery, SilenceRow};

/// Deliveries are retried for this long after they were queued, then marked failed.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;

/// The wait before attempt `n + 1` after `n` failures: 30 s doubling, at most 10 min.
pub fn backoff_ms(failures: i64) -> i64 {
    let exp = failures.clamp(0, 10) as u32;
    (30_000_i64 << exp).min(10 * 60_000)
}

/// A channel as the UI lists it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url_host: String,
    pub signed: bool,
    pub enabled: bool,
}

/// What one dispatch step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    pub alerts: usize,
    pub muted: usize,
    pub messages: usize,
    pub enqueued: usize,
}

/// What one delivery step did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// The host of a channel's URL, without credentials, path or query (safe to show).
fn host_of(url: &str) -> String {
    let authority =
        url.split("://").nth(1).and_then(|r| r.split(['/', '?', '#']).next()).unwrap_or("");
    authority.rsplit('@').next().unwrap_or("").to_owned()
}

fn silence_from_row(r: &SilenceRow) -> Result<Silence> {
    Ok(Silence {
        id: r.id,
        matchers: serde_json::from_str(&r.matchers)
            .map_err(|e| ServiceError::Internal(format!("corrupt silence {}: {e}", r.id)))?,
        starts_at_ms: r.starts_at_ms,
        ends_at_ms: r.ends_at_ms,
        created_by: r.created_by.clone(),
        comment: r.comment.clone(),
    })
}

/// The firing episode an escalation and an acknowledgement are keyed by: the alert and
/// when it began firing (a new episode pages again).
pub fn episode_key(a: &NotifyAlert) -> String {
    match a.rule_id {
        Some(rule_id) => rule_episode_key(rule_id, &a.labels, a.starts_at_ms),
        None => external::outside_episode_key(&a.fingerprint, a.starts_at_ms),
    }
}

/// A rule's firing episode: the rule and every label of the alert, and when it began.
pub fn rule_episode_key(
    rule_id: i64,
    labels: &domain::alerting::Labels,
    started_ms: i64,
) -> String {
    format!("{}@{}", alert_fingerprint(rule_id, labels), started_ms)
}

/// How long an ended outside alert stays in the dispatcher's view (its resolved notice).
const OUTSIDE_RESOLVED_KEPT_MS: i64 = 3_600_000;

/// The identity of one alert instance (rule + labels), as notifications and incident links
/// use it.
pub fn alert_fingerprint(rule_id: i64, labels: &domain::alerting::Labels) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.to_le_bytes());
    h.update(serde_json::to_vec(labels).unwrap_or_default());
    hex::encode(&h.finalize()[..8])
}

impl crate::Notify<'_> {
    // ----- channels -----

    /// Adds a channel (admin: channels hold secrets).
    pub async fn create_channel(
        &self,
        actor: &Caller,
        name: &str,
        kind: &str,
        config: ChannelConfig,
        enabled: bool,
    ) -> Result<ChannelView> {
        actor.require(Permission::ManageChannels)?;
        let mut e = domain::FieldErrors::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            e.add("name", "is required (at most 80 characters)");
        }
        match ChannelKind::parse(kind) {
            None => e.add("kind", "choose webhook, slack, feishu or email"),
            Some(k) => {
                if let Err(ce) = config.validate(k) {
                    e.0.extend(ce.0);
                }
            }
        }
        e.into_result()?;
        let doc =
            serde_json::to_string(&config).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let row = self
            .store
            .create_channel(name, kind, &doc, enabled, &self.audit_ctx(actor))
            .await
            .map_err(|e| match e {
                store::StoreError::Conflict(m) => ServiceError::invalid("name", m),
                e => e.into(),
            })?;
        Ok(view_of(&row))
    }

    pub async fn delete_channel(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::ManageChannels)?;
        Ok(self.store.delete_channel(id, &self.audit_ctx(actor)).await?)
    }

    pub async fn list_channels(&self, actor: &Caller) -> Result<Vec<ChannelView>> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.channels().await?.iter().map(view_of).collect())
    }

    /// The enabled channels `actor` may send an incident report to: none unless they
    /// respond to incidents (names only, no settings).
    pub async fn report_channels(&self, actor: &Caller) -> Result<Vec<(i64, String)>> {
        actor.require(Permission::ViewIncidents)?;
        if !actor.can(Permission::RespondToIncidents) {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .channels()
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| (c.id, c.name))
            .collect())
    }

    // ----- policy -----

    /// The routing policy in force (the default until one is saved) and its version.
    pub async fn notification_policy(&self, actor: &Caller) -> Result<(Policy, i64)> {
        actor.require(Permission::ViewAlerts)?;
        self.policy_in_force().await
    }

    pub(crate) async fn policy_in_force(&self) -> Result<(Policy, i64)> {
        match self.store.policy().await? {
            None => Ok((Policy::default(), 0)),
            Some((doc, v)) => Ok((
                serde_json::from_str(&doc)
                    .map_err(|e| ServiceError::Internal(format!("corrupt policy: {e}")))?,
                v,
            )),
        }
    }

    pub async fn set_notification_policy(
        &self,
        actor: &Caller,
        policy: &Policy,
        version: i64,
    ) -> Result<i64> {
        actor.require(Permission::EditRouting)?;
        policy.validate()?;
        let known: Vec<i64> =
            self.store.escalation_policies().await?.iter().map(|p| p.id).collect();
        if let Some(missing) =
            policy.escalation_policy_ids().into_iter().find(|id| !known.contains(id))
        {
            return Err(ServiceError::invalid(
                "route",
                format!("escalation policy {missing} does not exist"),
            ));
        }
        let doc =
            serde_json::to_string(policy).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(self.store.put_policy(&doc, version, &self.audit_ctx(actor)).await?)
    }

    // ----- silences -----

    /// Creates a silence (responder and up: silencing is part of handling an incident).
    pub async fn create_silence(
        &self,
        actor: &Caller,
        matchers: &str,
        starts_at_ms: i64,
        ends_at_ms: i64,
        comment: &str,
    ) -> Result<Silence> {
        actor.require(Permission::Silence)?;
        let mut e = domain::FieldErrors::new();
        let ms = match policy::parse_matchers(matchers) {
            Ok(ms) if ms.is_empty() => {
                e.add("matchers", "at least one matcher, e.g. alertname=\"DAU drop\"");
                Vec::new()
            }
            Ok(ms) => ms,
            Err(m) => {
                e.add("matchers", m);
                Vec::new()
            }
        };
        if ends_at_ms <= starts_at_ms {
            e.not_after_start("ends_at");
        } else if ends_at_ms <= self.now_ms() {
            e.add("ends_at", "must be in the future");
        }
        if comment.trim().is_empty() {
            e.add("comment", "say why (shown to everyone who sees the silence)");
        }
        e.into_result()?;
        let doc = serde_json::to_string(&ms).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let row = self
            .store
            .create_silence(&doc, starts_at_ms, ends_at_ms, comment.trim(), &self.audit_ctx(actor))
            .await?;
        silence_from_row(&row)
    }

    pub async fn expire_silence(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::Silence)?;
        Ok(self.store.expire_silence(id, &self.audit_ctx(actor)).await?)
    }

    /// Pending and active silences, and those expired in the last 7 days.
    pub async fn list_silences(&self, actor: &Caller) -> Result<Vec<Silence>> {
        actor.require(Permission::ViewAlerts)?;
        self.store
            .silences(self.now_ms() - 7 * 86_400_000)
            .await?
            .iter()
            .map(silence_from_row)
            .collect()
    }

    // ----- dispatch and delivery -----

    /// Firing alerts and those resolved within the retention, from the rules' states.
    pub async fn notify_alerts(&self) -> Result<Vec<NotifyAlert>> {
        self.notify_alerts_of(&self.store.rules_with_state().await?).await
    }

    /// [`Self::notify_alerts`] for rules already read.
    pub(crate) async fn notify_alerts_of(
        &self,
        rules: &[store::RuleWithState],
    ) -> Result<Vec<NotifyAlert>> {
        let mut out = Vec::new();
        for r in rules {
            let spec = &r.rule.spec;
            for (labels, i) in &r.state.instances {
                let firing = match i.state {
                    AlertState::Firing => true,
                    AlertState::Inactive => false,
                    AlertState::Pending => continue,
                };
                let all = spec.alert_labels(labels);
                out.push(NotifyAlert {
                    fingerprint: alert_fingerprint(r.rule.id, labels),
                    rule_id: Some(r.rule.id),
                    rule_name: spec.name.clone(),
                    severity: spec.severity,
                    firing,
                    value: crate::alerting::format_rule_value(spec, i.value),
                    threshold: crate::alerting::format_rule_threshold(spec),
                    summary: domain::alerting::template::expand(
                        &spec.summary,
                        Some(i.value),
                        spec.threshold(),
                        &all,
                    ),
                    runbook_url: spec.runbook_url.clone(),
                    starts_at_ms: i.fired_at_ms.unwrap_or(i.active_at_ms),
                    ends_at_ms: i.resolved_at_ms,
                    acknowledged: false,
                    labels: all,
                });
            }
        }
        // Alerts received from Alertmanager take the same path: routing tree, grouping,
        // silences, inhibition. Ended ones stay an hour, for their resolved notice.
        let now = self.now_ms();
        for row in self.store.external_alerts_since(now, now - OUTSIDE_RESOLVED_KEPT_MS).await? {
            let o = external::Outside::read(row);
            out.push(NotifyAlert {
                rule_id: None,
                rule_name: o.name(),
                severity: o.severity,
                firing: o.row.firing,
                value: String::new(),
                threshold: None,
                summary: o.summary(),
                runbook_url: o.annotations.get("runbook_url").cloned().unwrap_or_default(),
                starts_at_ms: o.row.starts_at_ms,
                ends_at_ms: (!o.row.firing).then_some(o.row.ends_at_ms.unwrap_or(now)),
                acknowledged: false,
                labels: o.routing_labels(),
                fingerprint: o.row.fingerprint,
            });
        }
        // Acknowledged episodes (by an alert acknowledgement or their escalation's).
        let acked: std::collections::BTreeSet<String> = self
            .store
            .alert_acks()
            .await?
            .into_iter()
            .map(|a| a.subject_key)
            .chain(
                self.store
                    .unresolved_escalations()
                    .await?
                    .into_iter()
                    .filter(|e| e.acked_at_ms.is_some())
                    .map(|e| e.subject_key),
            )
            .collect();
        for a in &mut out {
            a.acknowledged = a.firing && acked.contains(&episode_key(a));
        }
        Ok(out)
    }

    /// Decides what to send now and queues it (with the group states) in one transaction.
    pub async fn dispatch_notifications(&self) -> Result<DispatchReport> {
        let now = self.now_ms();
        let alerts = self.notify_alerts().await?;
        let (policy, _) = self.policy_in_force().await?;
        let silences: Vec<Silence> = self
            .store
            .silences(now)
            .await?
            .iter()
            .map(silence_from_row)
            .collect::<Result<_, _>>()?;
        let mut groups = BTreeMap::new();
        for (k, st) in self.store.notify_groups().await? {
            let st: GroupState = serde_json::from_str(&st)
                .map_err(|e| ServiceError::Internal(format!("corrupt group state: {e}")))?;
            groups.insert(k, st);
        }
        let d = dispatch::dispatch(now, &alerts, &policy, &silences, &groups);
        let channels = self.store.channels().await?;
        let mut deliveries = Vec::new();
        for m in d.messages.iter().filter(|m| !m.digest) {
            let (targets, fell_back) =
                policy::pick_channels(&channels, &m.channels, |c| (&c.name, c.enabled));
            if targets.is_empty() {
                tracing::warn!(group = %m.group_key, channels = ?m.channels, "notification has no enabled channel");
            } else if fell_back {
                tracing::info!(group = %m.group_key, channels = ?m.channels, "no channel has these names: sent to every enabled channel");
            }
            for c in targets {
                let Some(kind) = ChannelKind::parse(&c.kind) else {
                    continue;
                };
                let key = format!("{}#{}#{}#{}", c.id, m.group_key, m.group_created_at_ms, m.seq);
                let key = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
                let body = channels::render(kind, m, &key, &self.public_url);
                deliveries.push(NewDelivery {
                    idempotency_key: key,
                    channel_id: c.id,
                    channel_name: c.name.clone(),
                    group_key: m.group_key.clone(),
                    kind: if m.firing { "firing" } else { "resolved" }.into(),
                    severity: m.severity.as_str().into(),
                    payload: body.to_string(),
                });
            }
        }
        let group_rows: Vec<(String, Option<(String, i64)>)> = d
            .groups
            .iter()
            .map(|(k, st)| {
                (
                    k.clone(),
                    st.as_ref().map(|s| {
                        (serde_json::to_string(s).unwrap_or_default(), s.next_flush_at_ms)
                    }),
                )
            })
            .collect();
        let enqueued = self.store.apply_dispatch(&group_rows, &deliveries, now).await?;
        Ok(DispatchReport {
            alerts: alerts.len(),
            muted: d.muted,
            messages: d.messages.len(),
            enqueued,
        })
    }

    /// Sends what is due from the outbox (at most 500 messages per call): alert groups in
    /// parallel (up to the delivery concurrency), each group's messages in order, so a
    /// resolved message never overtakes its firing one. Failures are retried with backoff
    /// for 24 h; every attempt is logged.
    pub async fn deliver_notifications(&self) -> Result<DeliveryReport> {
        let now = self.now_ms();
        let due = self.store.due_deliveries(now, 500).await?;
        let mut report = DeliveryReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        let channels: Arc<BTreeMap<i64, ChannelRow>> =
            Arc::new(self.store.channels().await?.into_iter().map(|c| (c.id, c)).collect());
        // One queue per (channel, group), oldest first (due_deliveries' order).
        let mut queues: BTreeMap<(i64, String), Vec<Delivery>> = BTreeMap::new();
        for d in due {
            queues.entry((d.channel_id, d.group_key.clone())).or_default().push(d);
        }
        let mut pending = queues.into_values();
        let mut set = tokio::task::JoinSet::new();
        loop {
            while set.len() < self.delivery_concurrency {
                let Some(queue) = pending.next() else { break };
                let (svc, channels) = (crate::Services::clone(self), channels.clone());
                set.spawn(async move { svc.notify().deliver_queue(&channels, queue, now).await });
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            let r = done.map_err(|e| ServiceError::Internal(e.to_string()))??;
            report.sent += r.sent;
            report.retrying += r.retrying;
            report.failed += r.failed;
        }
        Ok(report)
    }

    /// One group's due messages, in order; after a failure the rest wait for the retry.
    async fn deliver_queue(
        &self,
        channels: &BTreeMap<i64, ChannelRow>,
        queue: Vec<Delivery>,
        now: i64,
    ) -> Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        for d in queue {
            let outcome = match channels.get(&d.channel_id) {
                None => Err("the channel was deleted".to_owned()),
                Some(c) => self.send_one(c, &d, now).await,
            };
            match outcome {
                Ok(()) => {
                    self.store.record_attempt(d.id, now, Ok(())).await?;
                    report.sent += 1;
                }
                Err(e) => {
                    let retry_at = now + backoff_ms(d.attempts);
                    let give_up = retry_at - d.created_at_ms > GIVE_UP_AFTER_MS
                        || e == "the channel was deleted";
                    self.store
                        .record_attempt(d.id, now, Err((&e, (!give_up).then_some(retry_at))))
                        .await?;
                    if give_up {
                        report.failed += 1;
                    } else {
                        report.retrying += 1;
                    }
                    tracing::warn!(channel = %d.channel_name, attempts = d.attempts + 1, error = %e, "notification delivery failed");
                    if !give_up {
                        break;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn send_one(&self, c: &ChannelRow, d: &Delivery, now: i64) -> Result<(), String> {
        let kind = ChannelKind::parse(&c.kind)
            .ok_or_else(|| format!("unknown channel kind {}", c.kind))?;
        let cfg: ChannelConfig =
            serde_json::from_str(&c.config).map_err(|e| format!("bad channel settings: {e}"))?;
        let body: serde_json::Value =
            serde_json::from_str(&d.payload).map_err(|e| format!("bad payload: {e}"))?;
        channels::send(&self.http, kind, &cfg, &body, &d.idempotency_key, now).await
    }

    /// Sends a test message to one channel now (not through the outbox); the error says
    /// what the receiver answered.
    pub async fn test_channel(&self, actor: &Caller, id: i64) -> Result<()> {
        actor.require(Permission::EditRouting)?;
        let c = self
            .store
            .channels()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(ServiceError::NotFound)?;
        let kind = ChannelKind::parse(&c.kind).ok_or(ServiceError::NotFound)?;
        let now = self.now_ms();
        let mut labels = domain::alerting::Labels::new();
        labels.insert("alertname".into(), "Vigil test notification".into());
        let m = dispatch::Message {
            group_key: "test".into(),
            group_created_at_ms: now,
            seq: 0,
            channels: vec![],
            digest: false,
            firing: true,
            severity: domain::alerting::Severity::P3,
            group_labels: labels.clone(),
            alerts: vec![NotifyAlert {
                fingerprint: "test".into(),
                rule_id: None,
                rule_name: "Vigil test notification".into(),
                labels,
                severity: domain::alerting::Severity::P3,
                firing: true,
                value: "—".into(),
                threshold: None,
                summary: format!("Sent by {} from the channel list.", actor.email),
                runbook_url: String::new(),
                starts_at_ms: now,
                ends_at_ms: None,
                acknowledged: false,
            }],
        };
        let key = format!("test-{id}-{now}");
        let body = channels::render(kind, &m, &key, &self.public_url);
        let cfg: ChannelConfig = serde_json::from_str(&c.config)
            .map_err(|e| ServiceError::Internal(format!("bad channel settings: {e}")))?;
        channels::send(&self.http, kind, &cfg, &body, &key, now)
            .await
            .map_err(|e| ServiceError::invalid("channel", e))
    }

    /// The delivery log, newest first (viewer).
    pub async fn delivery_log(
        &self,
        actor: &Caller,
        before_id: Option<i64>,
    ) -> Result<Vec<Delivery>> {
        actor.require(Permission::ViewAlerts)?;
        Ok(self.store.deliveries(100, before_id).await?)
    }
}

fn view_of(c: &ChannelRow) -> ChannelView {
    let cfg: Option<ChannelConfig> = serde_json::from_str(&c.config).ok();
    ChannelView {
        id: c.id,
        name: c.name.clone(),
        kind: c.kind.clone(),
        url_host: cfg
            .as_ref()
            .map(|cfg| {
                if c.kind == "email" {
                    format!("{} → {}", host_of(&cfg.url), cfg.to.trim())
                } else {
                    host_of(&cfg.url)
                }
            })
            .unwrap_or_default(),
        signed: cfg.is_some_and(|c| !c.secret.is_empty()),
        enabled: c.enabled,
    }
}

/// Sends free text (an incident report) to a channel now, outside the outbox: Feishu and
/// Slack as a text message, email with `subject`, a webhook as JSON. The error says what
/// the receiver answered.
pub(crate) async fn send_text(
    http: &reqwest::Client,
    c: &store::notify::ChannelRow,
    subject: &str,
    text: &str,
    key: &str,
    now_ms: i64,
) -> Result<(), String> {
    let kind =
        ChannelKind::parse(&c.kind).ok_or_else(|| format!("unknown channel kind {}", c.kind))?;
    let cfg: ChannelConfig =
        serde_json::from_str(&c.config).map_err(|e| format!("bad channel settings: {e}"))?;
    let body = text_body(kind, subject, text, key, "incident_report");
    channels::send(http, kind, &cfg, &body, key, now_ms).await
}

/// A free-text message's body for a channel: Feishu and Slack text, email with
/// `subject`, a webhook as JSON with `kind`.
pub(crate) fn text_body(
    kind: ChannelKind,
    subject: &str,
    text: &str,
    key: &str,
    webhook_kind: &str,
) -> serde_json::Value {
    match kind {
        ChannelKind::Feishu => serde_json::json!({"msg_type": "text", "content": {"text": text}}),
        ChannelKind::Slack => serde_json::json!({"text": text}),
        ChannelKind::Email => serde_json::json!({"subject": subject, "text": text}),
        ChannelKind::Webhook => serde_json::json!({
            "version": "vigil.v1",
            "kind": webhook_kind,
            "idempotency_key": key,
            "title": subject,
            "text": text,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_ten_minutes() {
        assert_eq!(
            (0..6).map(backoff_ms).collect::<Vec<_>>(),
            vec![30_000, 60_000, 120_000, 240_000, 480_000, 600_000]
        );
        assert_eq!(backoff_ms(50), 600_000);
        assert_eq!(host_of("https://open.feishu.cn/open-apis/bot/v2/hook/x"), "open.feishu.cn");
    }
}
