//! Alertmanager's dispatcher, pure: alerts → inhibition and silences → routes → groups →
//! when to send (`group_wait`, `group_interval`, `repeat_interval`) → messages.

use super::policy::{inhibited, repeat_ms, Policy, Silence};
use domain::alerting::{Labels, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An alert as notifications see it: a firing instance, or one resolved recently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyAlert {
    /// Stable identity: rule and instance labels (Alertmanager's own for outside alerts).
    pub fingerprint: String,
    /// The Vigil rule; `None` for an alert received from Alertmanager.
    pub rule_id: Option<i64>,
    pub rule_name: String,
    /// Rule labels, instance labels, `alertname` and `severity`.
    pub labels: Labels,
    pub severity: Severity,
    pub firing: bool,
    /// The value as shown (formatted for the rule's metric).
    pub value: String,
    pub threshold: Option<String>,
    pub summary: String,
    pub runbook_url: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: Option<i64>,
    /// Someone acknowledged this firing episode: it does not repeat by itself.
    #[serde(default)]
    pub acknowledged: bool,
}

/// What a group last sent, and when it may send next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupState {
    /// When this incarnation of the group began (a group that empties is forgotten; one
    /// that comes back is new), part of message idempotency keys.
    #[serde(default)]
    pub created_at_ms: i64,
    pub seq: u64,
    pub last_sent_ms: Option<i64>,
    /// Fingerprints in the last message and whether they were firing.
    pub sent: BTreeMap<String, bool>,
    pub next_flush_at_ms: i64,
}

/// One message of one group, to every channel of its route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub group_key: String,
    /// When the group began, and its message number: with the group key and channel, the
    /// idempotency key.
    pub group_created_at_ms: i64,
    pub seq: u64,
    pub channels: Vec<String>,
    /// The route collects into the daily digest: not sent as it happens.
    pub digest: bool,
    pub firing: bool,
    pub severity: Severity,
    pub group_labels: Labels,
    pub alerts: Vec<NotifyAlert>,
}

/// The outcome of one dispatch: group states to store (`None`: delete) and messages.
#[derive(Debug, Default)]
pub struct Dispatch {
    pub groups: BTreeMap<String, Option<GroupState>>,
    pub messages: Vec<Message>,
    /// Alerts muted this cycle (silenced or inhibited).
    pub muted: usize,
}

pub fn dispatch(
    now_ms: i64,
    alerts: &[NotifyAlert],
    policy: &Policy,
    silences: &[Silence],
    groups: &BTreeMap<String, GroupState>,
) -> Dispatch {
    let mut out = Dispatch::default();
    let firing_labels: Vec<&Labels> =
        alerts.iter().filter(|a| a.firing).map(|a| &a.labels).collect();
    // Route every alert that is not muted into its groups.
    struct Group<'a> {
        route: super::policy::Resolved,
        labels: Labels,
        alerts: Vec<&'a NotifyAlert>,
    }
    let mut by_key: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for a in alerts {
        let muted = silences.iter().any(|s| s.mutes(&a.labels, now_ms))
            || (a.firing && inhibited(&policy.inhibit, &a.labels, &firing_labels));
        if muted {
            out.muted += 1;
            continue;
        }
        for route in policy.routes_for(&a.labels) {
            let group_labels: Labels = route
                .group_by
                .iter()
                .filter_map(|l| a.labels.get(l).map(|v| (l.clone(), v.clone())))
                .collect();
            let key = format!(
                "{}:{}",
                route.path,
                group_labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            by_key
                .entry(key)
                .or_insert_with(|| Group { route, labels: group_labels, alerts: Vec::new() })
                .alerts
                .push(a);
        }
    }
    // Groups that had state but no alerts now (all muted or gone): forget them.
    for key in groups.keys() {
        if !by_key.contains_key(key) {
            out.groups.insert(key.clone(), None);
        }
    }
    for (key, g) in by_key {
        let prev = groups.get(&key);
        // Resolved alerts matter only if the group told someone they were firing.
        let current: Vec<&NotifyAlert> = g
            .alerts
            .iter()
            .copied()
            .filter(|a| a.firing || prev.is_some_and(|p| p.sent.get(&a.fingerprint) == Some(&true)))
            .collect();
        let any_firing = current.iter().any(|a| a.firing);
        let mut st = match prev {
            Some(p) => p.clone(),
            None if any_firing => GroupState {
                created_at_ms: now_ms,
                next_flush_at_ms: now_ms + g.route.group_wait_ms,
                ..GroupState::default()
            },
            None => continue,
        };
        if current.is_empty() {
            out.groups.insert(key, None);
            continue;
        }
        if now_ms < st.next_flush_at_ms {
            if prev.is_none() {
                out.groups.insert(key, Some(st));
            }
            continue;
        }
        let now_set: BTreeMap<String, bool> =
            current.iter().map(|a| (a.fingerprint.clone(), a.firing)).collect();
        let severity = current.iter().map(|a| a.severity).min().unwrap_or(Severity::P3);
        let changed = now_set != st.sent;
        // An acknowledged alert stops the reminders: a group repeats while one of its
        // firing alerts is unanswered (changes are still sent).
        let unanswered = current.iter().any(|a| a.firing && !a.acknowledged);
        let repeat_due = unanswered
            && st.last_sent_ms.is_some_and(|t| now_ms - t >= repeat_ms(&g.route, severity));
        if changed || repeat_due {
            st.seq += 1;
            st.last_sent_ms = Some(now_ms);
            let mut alerts: Vec<NotifyAlert> = current.iter().map(|a| (*a).clone()).collect();
            alerts.sort_by(|a, b| {
                (!a.firing, a.severity, &a.fingerprint).cmp(&(
                    !b.firing,
                    b.severity,
                    &b.fingerprint,
                ))
            });
            out.messages.push(Message {
                group_key: key.clone(),
                group_created_at_ms: st.created_at_ms,
                seq: st.seq,
                channels: g.route.channels.clone(),
                digest: g.route.digest,
                firing: any_firing,
                severity,
                group_labels: g.labels.clone(),
                alerts,
            });
            // Resolved alerts were reported: drop them.
            st.sent = now_set.into_iter().filter(|(_, f)| *f).collect();
        }
        st.next_flush_at_ms = now_ms + g.route.group_interval_ms;
        if any_firing {
            out.groups.insert(key, Some(st));
        } else {
            out.groups.insert(key, None);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::policy::parse_matchers;

    const MIN: i64 = 60_000;

    fn alert(name: &str, sev: Severity, firing: bool) -> NotifyAlert {
        let mut labels = Labels::new();
        labels.insert("alertname".into(), name.into());
        labels.insert("severity".into(), sev.as_str().into());
        labels.insert("service".into(), "chat".into());
        NotifyAlert {
            fingerprint: format!("fp-{name}"),
            rule_id: Some(1),
            rule_name: name.into(),
            labels,
            severity: sev,
            firing,
            value: "1".into(),
            threshold: None,
            summary: String::new(),
            runbook_url: String::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            acknowledged: false,
        }
    }

    /// Runs dispatch every minute for `minutes`, with `alerts_at(minute)`; returns the
    /// minutes at which a message was sent and whether it was firing.
    fn run(
        minutes: i64,
        policy: &Policy,
        silences: &[Silence],
        alerts_at: impl Fn(i64) -> Vec<NotifyAlert>,
    ) -> Vec<(i64, bool, usize)> {
        let mut groups = BTreeMap::new();
        let mut sent = Vec::new();
        for m in 0..minutes {
            let d = dispatch(m * MIN, &alerts_at(m), policy, silences, &groups);
            for (k, v) in d.groups {
                match v {
                    Some(s) => groups.insert(k, s),
                    None => groups.remove(&k),
                };
            }
            for msg in d.messages {
                sent.push((m, msg.firing, msg.alerts.len()));
            }
        }
        sent
    }

    fn policy(wait: i64, interval: i64, repeat: Option<i64>) -> Policy {
        // One route (the default's per-level children would split the groups).
        let mut p = Policy::default();
        p.route.routes.clear();
        p.route.group_wait_ms = Some(wait * MIN);
        p.route.group_interval_ms = Some(interval * MIN);
        p.route.repeat_interval_ms = repeat.map(|r| r * MIN);
        p
    }

    #[test]
    fn acknowledged_alerts_stop_repeating_but_changes_still_go_out() {
        // "a" fires minutes 0..40 and is acknowledged from minute 15 (after its repeat at
        // 11); "b" (its own group: grouped by alertname) fires unanswered from 25.
        let sent = run(45, &policy(1, 1, Some(10)), &[], |m| {
            let mut a = alert("a", Severity::P1, m < 40);
            a.acknowledged = (15..40).contains(&m);
            let mut out = vec![a];
            if (25..40).contains(&m) {
                out.push(alert("b", Severity::P1, true));
            }
            out
        });
        // a: 1 first, 11 repeat, none at 21 or 31 (acknowledged), 40 resolved (a change still
        // goes out); b: 26 first, 36 repeat (unanswered).
        assert_eq!(
            sent,
            vec![(1, true, 1), (11, true, 1), (26, true, 1), (36, true, 1), (40, false, 1)]
        );
    }

    #[test]
    fn group_wait_then_repeat_then_resolved() {
        // Fires minutes 0..30, resolved after; wait 1, interval 1, repeat 10.
        let sent =
            run(40, &policy(1, 1, Some(10)), &[], |m| vec![alert("a", Severity::P1, m < 30)]);
        assert_eq!(sent, vec![(1, true, 1), (11, true, 1), (21, true, 1), (30, false, 1)]);
    }

    #[test]
    fn default_repeat_follows_severity() {
        // P0 repeats every minute by default, P3 every hour.
        let p0 = run(5, &policy(0, 0, None), &[], |_| vec![alert("a", Severity::P0, true)]);
        assert_eq!(p0.len(), 5);
        let p3 = run(90, &policy(0, 0, None), &[], |_| vec![alert("a", Severity::P3, true)]);
        assert_eq!(p3.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 60]);
    }

    #[test]
    fn a_new_alert_in_the_group_waits_for_group_interval() {
        // Group by alertname → group per rule; here group by service so both share one.
        let mut p = policy(1, 5, Some(60));
        p.route.group_by = Some(vec!["service".into()]);
        let sent = run(12, &p, &[], |m| {
            let mut v = vec![alert("a", Severity::P2, true)];
            if m >= 3 {
                v.push(alert("b", Severity::P1, true));
            }
            v
        });
        // First at wait (1), b joins at 3 but is sent at the next interval (6) together.
        assert_eq!(sent, vec![(1, true, 1), (6, true, 2)]);
    }

    #[test]
    fn silenced_alerts_are_not_sent_and_come_back_after() {
        let s = Silence {
            id: 1,
            matchers: parse_matchers("alertname=a").expect("m"),
            starts_at_ms: 5 * MIN,
            ends_at_ms: 15 * MIN,
            created_by: "ops".into(),
            comment: "maintenance".into(),
        };
        let sent = run(20, &policy(0, 1, Some(3)), &[s], |_| vec![alert("a", Severity::P1, true)]);
        assert_eq!(
            sent.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 3, 15, 18],
            "nothing between 5 and 15; after the silence it is new again"
        );
    }

    #[test]
    fn inhibited_by_a_firing_p0_of_the_same_service() {
        let sent = run(3, &policy(0, 1, Some(60)), &[], |_| {
            vec![alert("p2", Severity::P2, true), alert("p0", Severity::P0, true)]
        });
        // Only the P0's group sends; the P2 is muted.
        assert_eq!(sent, vec![(0, true, 1)], "only the P0's group");
        let d = dispatch(
            0,
            &[alert("p2", Severity::P2, true), alert("p0", Severity::P0, true)],
            &policy(0, 1, Some(60)),
            &[],
            &BTreeMap::new(),
        );
        assert_eq!(d.muted, 1);
        assert!(d.messages.iter().all(|m| m.alerts[0].rule_name == "p0"));
    }

    #[test]
    fn resolved_before_group_wait_sends_nothing() {
        let sent = run(5, &policy(2, 1, Some(10)), &[], |m| vec![alert("a", Severity::P1, m < 1)]);
        assert!(sent.is_empty(), "{sent:?}");
    }
}
