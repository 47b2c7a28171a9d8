//! Alerting server functions: resolve the caller, one services call (which checks the role),
//! rows formatted for display in the caller's time zone. Writes also check the CSRF token.

use super::form::RuleForm;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub severity: String,
    pub enabled: bool,
    pub condition: String,
    pub firing: usize,
    pub pending: usize,
    pub last_eval: Option<String>,
    pub last_value: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub id: i64,
    pub at: String,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub severity: String,
    pub from: String,
    pub to: String,
    pub value: String,
    pub labels: String,
}

/// Filters of the history page, as in its URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HistoryFilter {
    pub rule: String,
    pub severity: String,
    /// `firing`, `pending`, `resolved`, `dropped` or empty.
    pub state: String,
    /// `24h`, `7d`, `30d` or empty (all).
    pub range: String,
    pub before: String,
}

/// The editor's data: the form, and the version an edit is based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleEdit {
    pub id: Option<i64>,
    pub version: i64,
    pub form: RuleForm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestView {
    pub svg: Option<String>,
    pub evaluations: usize,
    pub notifications: usize,
    pub firing_spans: usize,
    pub pending_spans: usize,
    pub points: usize,
    pub last_value: Option<String>,
}

#[cfg(feature = "ssr")]
use services::alerting::format_rule_value as format_check_value;

#[server(prefix = "/rpc", endpoint = "alerts/list_rules")]
pub async fn list_rules() -> Result<Vec<RuleRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let rules = svc.alerting().list_rules(&actor).await?;
    Ok(rules
        .into_iter()
        .map(|r| {
            let spec = &r.rule.spec;
            RuleRow {
                id: r.rule.id,
                name: spec.name.clone(),
                severity: spec.severity.as_str().into(),
                enabled: spec.enabled,
                condition: spec.describe_condition(),
                firing: r.firing,
                pending: r.pending,
                last_eval: r
                    .last_eval_at_ms
                    .map(|t| services::timefmt::format_ms(t, &actor.time_zone)),
                last_value: r.last_value.map(|v| format_check_value(spec, v)),
                last_error: r.last_error.clone(),
            }
        })
        .collect())
}

/// One alert of the firing list, formatted for the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiringRow {
    /// The Vigil rule that raised it; `None` for an alert received from Alertmanager.
    pub rule_id: Option<i64>,
    /// `vigil`, or the source an Alertmanager alert came in as.
    pub source: String,
    pub fingerprint: String,
    /// This firing episode: what Acknowledge and Undo send.
    pub episode_key: String,
    pub name: String,
    /// `P0`–`P3` (an outside alert's `severity` label read as a level; P2 when it names none).
    pub severity: String,
    pub firing: bool,
    pub since: String,
    pub value: String,
    pub summary: String,
    pub labels: Vec<(String, String)>,
    /// The sender's http(s) link to the alert.
    pub link: Option<String>,
    /// The escalation paging for it, unanswered.
    pub escalation_id: Option<i64>,
    /// Who acknowledged it, when someone has.
    pub acked_by: Option<String>,
    /// Matchers for a silence of this alert (the silence form starts from them).
    pub silence_matchers: String,
}

/// What is firing now: the list (firing first, newest first) and the counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FiringList {
    pub rows: Vec<FiringRow>,
    /// Firing at P0, P1, P2, P3.
    pub by_severity: [usize; 4],
    pub pending: usize,
    pub unacknowledged: usize,
}

impl FiringList {
    pub fn firing(&self) -> usize {
        self.by_severity.iter().sum::<usize>()
    }
}

/// The navigation's badge: how many alerts fire, how many nobody has answered, the worst level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BadgeCounts {
    pub firing: usize,
    pub unacknowledged: usize,
    pub worst: Option<String>,
}

/// Every alert firing or pending now, from every source (viewer).
#[server(prefix = "/rpc", endpoint = "alerts/firing")]
pub async fn firing_now() -> Result<FiringList, AppError> {
    use services::alerting::firing::{silence_matchers, FiringCounts, Response, Source};
    let (svc, actor) = crate::session::ssr::door().await?;
    let list = svc.alerting().firing(&actor).await?;
    let c = FiringCounts::of(&list);
    let rows = list
        .iter()
        .map(|a| FiringRow {
            rule_id: match a.source {
                Source::Rule(id) => Some(id),
                Source::Alertmanager(_) => None,
            },
            source: match &a.source {
                Source::Rule(_) => "vigil".into(),
                Source::Alertmanager(s) => s.clone(),
            },
            fingerprint: a.fingerprint.clone(),
            episode_key: a.episode_key.clone(),
            name: a.name.clone(),
            severity: a.severity.as_str().into(),
            firing: a.firing,
            since: services::timefmt::format_ms(a.since_ms, &actor.time_zone),
            value: a.value.clone(),
            summary: a.summary.clone(),
            labels: a.labels.clone(),
            link: a.link.clone(),
            escalation_id: match a.response {
                Response::Paging { escalation_id } => Some(escalation_id),
                _ => None,
            },
            acked_by: match &a.response {
                Response::Acknowledged { by, .. } => Some(by.clone()),
                _ => None,
            },
            silence_matchers: silence_matchers(a),
        })
        .collect();
    Ok(FiringList {
        rows,
        by_severity: c.by_severity,
        pending: c.pending,
        unacknowledged: c.unacknowledged,
    })
}

/// Acknowledges a firing alert, paged or not (responder).
#[server(prefix = "/rpc", endpoint = "alerts/ack")]
pub async fn ack_alert(episode_key: String) -> Result<bool, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.alerting().acknowledge(&actor, &episode_key).await?)
}

/// Takes an acknowledgement back (responder).
#[server(prefix = "/rpc", endpoint = "alerts/unack")]
pub async fn unack_alert(episode_key: String) -> Result<bool, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.alerting().unacknowledge(&actor, &episode_key).await?)
}

/// The navigation's firing badge, polled by the browser (viewer).
#[server(prefix = "/rpc", endpoint = "alerts/firing_badge")]
pub async fn firing_badge() -> Result<BadgeCounts, AppError> {
    use services::alerting::firing::FiringCounts;
    let (svc, actor) = crate::session::ssr::door().await?;
    let c = FiringCounts::of(&svc.alerting().firing(&actor).await?);
    Ok(BadgeCounts {
        firing: c.firing(),
        unacknowledged: c.unacknowledged,
        worst: c.worst().map(|s| s.as_str().to_owned()),
    })
}

#[server(prefix = "/rpc", endpoint = "alerts/history", input = Json)]
pub async fn alert_history(filter: HistoryFilter) -> Result<Vec<HistoryRow>, AppError> {
    use domain::alerting::{AlertState, Severity};
    let (svc, actor) = crate::session::ssr::door().await?;
    let bad = |field: &str, msg: &str| {
        AppError::from(services::ServiceError::invalid(field, msg.to_owned()))
    };
    let now = svc.now_ms();
    let q = services::alerting::HistoryQuery {
        rule_id: match filter.rule.trim() {
            "" => None,
            s => Some(s.parse().map_err(|_| bad("rule", "unknown rule"))?),
        },
        severity: match filter.severity.as_str() {
            "" => None,
            s => Some(Severity::parse(s).ok_or_else(|| bad("severity", "choose P0–P3"))?),
        },
        to: match filter.state.as_str() {
            "" => None,
            "firing" => Some(Some(AlertState::Firing)),
            "pending" => Some(Some(AlertState::Pending)),
            "resolved" => Some(Some(AlertState::Inactive)),
            "dropped" => Some(None),
            _ => return Err(bad("state", "unknown state")),
        },
        from_ms: match filter.range.as_str() {
            "" => None,
            "24h" => Some(now - 86_400_000),
            "7d" => Some(now - 7 * 86_400_000),
            "30d" => Some(now - 30 * 86_400_000),
            _ => return Err(bad("range", "choose 24h, 7d or 30d")),
        },
        to_ms: None,
        before_id: filter.before.trim().parse().ok(),
        limit: 100,
    };
    let rows = svc.alerting().alert_history(&actor, &q).await?;
    let rules = svc.alerting().list_rules(&actor).await?;
    let spec_of =
        |id: Option<i64>| rules.iter().find(|r| Some(r.rule.id) == id).map(|r| &r.rule.spec);
    let state = |s: Option<AlertState>| services::alerting::state_str(s).to_owned();
    Ok(rows
        .into_iter()
        .map(|h| HistoryRow {
            value: match (h.value, spec_of(h.rule_id)) {
                (Some(v), Some(spec)) => format_check_value(spec, v),
                (Some(v), None) => domain::alerting::template::format_value(v),
                (None, _) => "—".into(),
            },
            id: h.id,
            at: services::timefmt::format_ms(h.at_ms, &actor.time_zone),
            rule_id: h.rule_id,
            rule_name: h.rule_name,
            severity: h.severity.as_str().into(),
            from: h.from.map_or_else(|| "inactive".to_owned(), |s| state(Some(s))),
            to: state(h.to),
            labels: super::form::format_labels(&h.labels),
        })
        .collect())
}

#[server(prefix = "/rpc", endpoint = "alerts/get_rule", input = Json)]
pub async fn get_rule(id: Option<i64>) -> Result<RuleEdit, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    match id {
        None => Ok(RuleEdit { id: None, version: 0, form: RuleForm::default() }),
        Some(id) => {
            let r = svc.alerting().get_rule(&actor, id).await?;
            Ok(RuleEdit { id: Some(r.id), version: r.version, form: RuleForm::from_spec(&r.spec) })
        }
    }
}

/// Creates (`id` = None) or updates a rule; returns its id.
#[server(prefix = "/rpc", endpoint = "alerts/save_rule", input = Json)]
pub async fn save_rule(id: Option<i64>, version: i64, form: RuleForm) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let spec = form.to_spec().map_err(services::ServiceError::Invalid)?;
    Ok(match id {
        None => svc.alerting().create_rule(&actor, spec).await?.id,
        Some(id) => svc.alerting().update_rule(&actor, id, version, spec).await?.id,
    })
}

#[server(prefix = "/rpc", endpoint = "alerts/delete_rule")]
pub async fn delete_rule(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.alerting().delete_rule(&actor, id).await?;
    Ok(())
}

/// The preview: what the form's rule would have done over the last `range` (`24h`, `7d`,
/// `30d`). The name is not needed for a preview.
#[server(prefix = "/rpc", endpoint = "alerts/backtest", input = Json)]
pub async fn backtest_rule(form: RuleForm, range: String) -> Result<BacktestView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let mut form = form;
    if form.name.trim().is_empty() {
        form.name = "preview".into();
    }
    let spec = form.to_spec().map_err(services::ServiceError::Invalid)?;
    let span = match range.as_str() {
        "24h" => 86_400_000,
        "30d" => 30 * 86_400_000,
        _ => 7 * 86_400_000,
    };
    let now = svc.now_ms();
    let query = spec.query.clone();
    let b = svc.alerting().backtest(&actor, spec, now - span, now).await?;
    Ok(BacktestView {
        evaluations: b.evaluations,
        notifications: b.notifications,
        firing_spans: b.spans.iter().filter(|s| s.firing).count(),
        pending_spans: b.spans.iter().filter(|s| !s.firing).count(),
        points: b.points.len(),
        last_value: b
            .points
            .last()
            .map(|p| services::alerting::format_query_value(&query, p.value)),
        svg: b.svg,
    })
}

// ----- notifications: channels, silences, policy, delivery log -----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRowView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub host: String,
    pub signed: bool,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceView {
    pub id: i64,
    pub matchers: String,
    /// `pending`, `active` or `expired`.
    pub state: String,
    pub starts: String,
    pub ends: String,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub created: String,
    pub channel: String,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: Option<String>,
    pub sent: Option<String>,
    pub last_error: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "alerts/channels")]
pub async fn list_channels() -> Result<Vec<ChannelRowView>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc
        .notify()
        .list_channels(&actor)
        .await?
        .into_iter()
        .map(|c| ChannelRowView {
            id: c.id,
            name: c.name,
            kind: c.kind,
            host: c.url_host,
            signed: c.signed,
            enabled: c.enabled,
        })
        .collect())
}

#[server(prefix = "/rpc", endpoint = "alerts/create_channel")]
pub async fn create_channel(
    name: String,
    kind: String,
    url: String,
    secret: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let mut cfg = services::notify::channels::ChannelConfig::webhook(&url, &secret);
    if kind == "email" {
        cfg.secret.clear();
        cfg.from = from.trim().to_owned();
        cfg.to = to.trim().to_owned();
    }
    Ok(svc.notify().create_channel(&actor, &name, &kind, cfg, true).await?.id)
}

#[server(prefix = "/rpc", endpoint = "alerts/delete_channel")]
pub async fn delete_channel(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().delete_channel(&actor, id).await?)
}

/// Sends a test message; `Ok` with nothing, or the receiver's answer as a field error.
#[server(prefix = "/rpc", endpoint = "alerts/test_channel")]
pub async fn test_channel(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().test_channel(&actor, id).await?)
}

#[server(prefix = "/rpc", endpoint = "alerts/silences")]
pub async fn list_silences() -> Result<Vec<SilenceView>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let now = svc.now_ms();
    let tz = actor.time_zone.clone();
    Ok(svc
        .notify()
        .list_silences(&actor)
        .await?
        .into_iter()
        .map(|s| SilenceView {
            id: s.id,
            matchers: s.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            state: match s.state(now) {
                services::notify::policy::SilenceState::Pending => "pending",
                services::notify::policy::SilenceState::Active => "active",
                services::notify::policy::SilenceState::Expired => "expired",
            }
            .into(),
            starts: services::timefmt::format_ms(s.starts_at_ms, &tz),
            ends: services::timefmt::format_ms(s.ends_at_ms, &tz),
            created_by: s.created_by,
            comment: s.comment,
        })
        .collect())
}

/// Silences matching alerts from now for `duration` (e.g. `2h`).
#[server(prefix = "/rpc", endpoint = "alerts/create_silence")]
pub async fn create_silence(
    matchers: String,
    duration: String,
    comment: String,
) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let ms = domain::alerting::parse_duration(&duration)
        .map_err(|m| AppError::from(services::ServiceError::invalid("duration", m)))?;
    let now = svc.now_ms();
    Ok(svc
        .notify()
        .create_silence(&actor, &matchers, now, now + ms, &comment)
        .await
        .map_err(|e| match e {
            // The form asks for a duration, not an end time.
            services::ServiceError::Invalid(mut f) => {
                for x in &mut f.0 {
                    if x.field == "ends_at" {
                        x.field = "duration".into();
                        x.message = "must be more than 0".into();
                    }
                }
                services::ServiceError::Invalid(f)
            }
            e => e,
        })?
        .id)
}

#[server(prefix = "/rpc", endpoint = "alerts/expire_silence")]
pub async fn expire_silence(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().expire_silence(&actor, id).await?)
}

#[server(prefix = "/rpc", endpoint = "alerts/deliveries")]
pub async fn delivery_log(before: Option<i64>) -> Result<Vec<DeliveryView>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let tz = actor.time_zone.clone();
    Ok(svc
        .notify()
        .delivery_log(&actor, before)
        .await?
        .into_iter()
        .map(|d| DeliveryView {
            id: d.id,
            created: services::timefmt::format_ms(d.created_at_ms, &tz),
            channel: d.channel_name,
            kind: d.kind,
            severity: d.severity,
            next_attempt: (d.status == "pending")
                .then(|| services::timefmt::format_ms(d.next_attempt_at_ms, &tz)),
            status: d.status,
            attempts: d.attempts,
            sent: d.sent_at_ms.map(|t| services::timefmt::format_ms(t, &tz)),
            last_error: d.last_error,
        })
        .collect())
}

/// The routing policy as pretty JSON, and its version.
#[server(prefix = "/rpc", endpoint = "alerts/policy")]
pub async fn get_policy() -> Result<(String, i64), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let (p, v) = svc.notify().notification_policy(&actor).await?;
    Ok((p.to_json_pretty(), v))
}

#[server(prefix = "/rpc", endpoint = "alerts/save_policy")]
pub async fn save_policy(policy: String, version: i64) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let p = services::notify::policy::Policy::from_json(&policy)
        .map_err(|m| AppError::from(services::ServiceError::invalid("policy", m)))?;
    Ok(svc.notify().set_notification_policy(&actor, &p, version).await?)
}

/// The routing tree for the editor: rows, channels and escalation policies to pick from.
#[server(prefix = "/rpc", endpoint = "alerts/routing")]
pub async fn get_routing() -> Result<domain::alerting::routing::RoutingView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().routing(&actor).await?)
}

/// A route's form as the browser posts it (`route[matchers]`, …): text, empty = inherited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteFields {
    pub matchers: String,
    /// Channel names separated by commas.
    pub channels: String,
    /// A policy id, or empty.
    pub escalation_policy_id: String,
    pub group_by: String,
    pub group_wait: String,
    pub group_interval: String,
    pub repeat_interval: String,
    /// The checkboxes: present when ticked.
    #[serde(default)]
    pub continue_: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// Saves one route's form (children stay); returns the tree's new version.
#[server(prefix = "/rpc", endpoint = "alerts/save_route")]
pub async fn save_route(version: i64, path: String, route: RouteFields) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let escalation_policy_id = match route.escalation_policy_id.trim() {
        "" => None,
        id => Some(id.parse::<i64>().map_err(|_| {
            AppError::from(services::ServiceError::invalid(
                "escalation_policy_id",
                "choose a policy from the list",
            ))
        })?),
    };
    let form = domain::alerting::routing::RouteForm {
        matchers: route.matchers,
        channels: route.channels.split(',').map(|c| c.trim().to_owned()).collect(),
        escalation_policy_id,
        group_by: route.group_by,
        group_wait: route.group_wait,
        group_interval: route.group_interval,
        repeat_interval: route.repeat_interval,
        continue_: route.continue_.is_some(),
        digest: route.digest.is_some(),
    };
    Ok(svc.notify().save_route(&actor, version, &path, &form).await?)
}

/// Adds a child route (`add_child`), deletes (`delete`) or moves (`up`, `down`) one.
#[server(prefix = "/rpc", endpoint = "alerts/change_route")]
pub async fn change_route(version: i64, path: String, op: String) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let op = domain::alerting::routing::RouteOp::parse(&op).ok_or_else(|| {
        AppError::from(services::ServiceError::invalid("op", "add_child, delete, up or down"))
    })?;
    Ok(svc.notify().change_route(&actor, version, &path, op).await?)
}

/// Where an alert with these labels would go.
#[server(prefix = "/rpc", endpoint = "alerts/route_test")]
pub async fn route_test(labels: String) -> Result<domain::alerting::routing::RouteTest, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().test_routing(&actor, &labels).await?)
}

/// The routing tree as an Alertmanager configuration (viewer).
#[server(prefix = "/rpc", endpoint = "alerts/export_routing")]
pub async fn export_routing() -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().export_routing(&actor).await?)
}

/// Replaces the tree with an Alertmanager configuration's routes and inhibit rules;
/// returns what the file had that Vigil does not use.
#[server(prefix = "/rpc", endpoint = "alerts/import_routing", input = Json)]
pub async fn import_routing(yaml: String, version: i64) -> Result<Vec<String>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.notify().import_routing(&actor, &yaml, version).await?.skipped)
}

/// The scheduler's settings (digests and reminders), the reporting time zone their times
/// are in, and the channels the weekly review may go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub settings: domain::alerting::routing::ScheduleSettings,
    pub time_zone: String,
    pub channels: Vec<String>,
}

#[server(prefix = "/rpc", endpoint = "alerts/schedule_settings")]
pub async fn schedule_settings() -> Result<ScheduleView, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let settings = svc.notify().schedule_settings(&actor).await?;
    let channels = svc.notify().list_channels(&actor).await?;
    Ok(ScheduleView {
        settings,
        time_zone: svc.events().reporting_tz().name().to_owned(),
        channels: channels.into_iter().map(|c| c.name).collect(),
    })
}

/// The scheduler's form as the browser posts it: a checkbox (present when ticked) and a
/// time of day per reminder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScheduleFields {
    #[serde(default)]
    pub digest_on: Option<String>,
    pub digest_at: String,
    #[serde(default)]
    pub postmortems_on: Option<String>,
    pub postmortems_at: String,
    #[serde(default)]
    pub action_items_on: Option<String>,
    pub action_items_at: String,
    #[serde(default)]
    pub weekly_on: Option<String>,
    pub weekly_at: String,
    #[serde(default)]
    pub weekly_channel: String,
    #[serde(default)]
    pub deadlines: Option<String>,
}

/// Saves the scheduler's settings; errors name the field (`digest.at`, `weekly_channel`).
#[server(prefix = "/rpc", endpoint = "alerts/save_schedule")]
pub async fn save_schedule(s: ScheduleFields) -> Result<(), AppError> {
    use domain::alerting::routing::{ScheduleSettings, ScheduleSlot};
    let (svc, actor) = crate::session::ssr::door().await?;
    let slot = |on: Option<String>, at: String| ScheduleSlot { on: on.is_some(), at };
    let settings = ScheduleSettings {
        digest: slot(s.digest_on, s.digest_at),
        postmortems: slot(s.postmortems_on, s.postmortems_at),
        action_items: slot(s.action_items_on, s.action_items_at),
        weekly: slot(s.weekly_on, s.weekly_at),
        weekly_channel: s.weekly_channel,
        deadlines: s.deadlines.is_some(),
    };
    Ok(svc.notify().set_schedule_settings(&actor, &settings).await?)
}

/// The PromQL rules as a Prometheus rule file (viewer).
#[server(prefix = "/rpc", endpoint = "alerts/export_rules")]
pub async fn export_rules() -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.alerting().export_prometheus_rules(&actor).await?)
}

/// Imports a Prometheus rule file (editor): "N created, M updated, K skipped", or field
/// errors named by their path in the file (`groups[0].rules[1].for`) under `yaml`.
#[server(prefix = "/rpc", endpoint = "alerts/import_rules", input = Json)]
pub async fn import_rules(yaml: String) -> Result<(usize, usize, usize), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let r = svc.alerting().import_prometheus_rules(&actor, &yaml).await?;
    Ok((r.created, r.updated, r.skipped_recording))
}
