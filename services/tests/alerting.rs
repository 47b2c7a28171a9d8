//! Alerting scenarios on a real (SQLite) store with a fake clock: rules fire after `for`,
//! resolve, follow edits at the next cycle; every write is role-checked and audited.

mod common;

use domain::alerting::{
    AlertState, CompareOp, Condition, KpiMetric, RuleQuery, RuleSpec, Severity,
};
use serde_json::{json, Value};
use services::events::{day_start_ms, local_day};
use services::{AuthSettings, Caller, FakeClock, ServiceError, Services};
use std::sync::Arc;
use store::{AuditQuery, HistoryQuery};

/// 2026-11-25T09:35:12Z.
const NOW: i64 = 1_795_599_312_000;
const MIN: i64 = 60_000;
const H: i64 = 3_600_000;

async fn setup() -> (Services, FakeClock, Caller, Caller) {
    let (store, _dir) = store::testing::sqlite_store("vigil-alerting").await;
    let clock = FakeClock::at(NOW);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default());
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    (svc, clock, editor, viewer)
}

/// `n` ended AI dialogs at `ts`, `ok` of them successful.
async fn dialogs(svc: &Services, tag: &str, ts: i64, n: usize, ok: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"event_id": format!("{tag}-{i}"), "event_name": "ai_dialog_end",
                   "user_id": format!("u{i}"), "timestamp": ts,
                   "properties": {"dialog_id": format!("{tag}-{i}"), "success": i < ok,
                                  "response_ms": 800, "answer_source": "generated"}})
        })
        .collect();
    let r = common::ingest(svc, &events).await;
    assert_eq!(r.accepted as usize, n, "{:?}", r.rejected);
}

fn success_rule(threshold: f64, for_ms: i64) -> RuleSpec {
    let mut s = RuleSpec::kpi_threshold(
        "AI success low",
        Severity::P1,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        threshold,
    );
    s.for_ms = for_ms;
    s.summary = "success {{ $value }} < {{ $threshold }}".into();
    s
}

fn state_of(svc_alerts: &[services::alerting::ActiveAlert]) -> Option<AlertState> {
    svc_alerts.first().map(|a| a.state)
}

#[tokio::test]
async fn rule_goes_pending_then_firing_after_for_then_resolves() {
    let (svc, clock, editor, viewer) = setup().await;
    dialogs(&svc, "a", NOW - 5 * MIN, 10, 7).await; // success rate 0.7
    let rule =
        svc.alerting().create_rule(&editor, success_rule(0.9, 2 * MIN)).await.expect("create");

    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!((r.rules, r.transitions, r.errors), (1, 1, 0));
    let active = firing(&svc, &viewer).await;
    assert_eq!(state_of(&active), Some(AlertState::Pending));
    assert_eq!(active[0].summary, "success 0.7 < 0.9");

    // Not due again before the interval.
    clock.advance_ms(30_000);
    assert_eq!(svc.alerting().evaluate_due_rules().await.expect("cycle").rules, 0);
    clock.advance_ms(30_000);
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!(state_of(&firing(&svc, &viewer).await), Some(AlertState::Pending), "1 min of 2");
    clock.advance_ms(MIN);
    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!(r.transitions, 1);
    assert_eq!(state_of(&firing(&svc, &viewer).await), Some(AlertState::Firing), "for 2m elapsed");

    // 30 more successful dialogs: 37/40 = 0.925 ≥ 0.9 → resolved.
    dialogs(&svc, "b", clock_now(&svc) - MIN, 30, 30).await;
    clock.advance_ms(MIN);
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert!(firing(&svc, &viewer).await.is_empty());

    let hist = svc
        .alerting()
        .alert_history(
            &viewer,
            &HistoryQuery { rule_id: Some(rule.id), limit: 50, ..Default::default() },
        )
        .await
        .expect("history");
    let seq: Vec<_> = hist.iter().rev().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        seq,
        vec![
            (None, Some(AlertState::Pending)),
            (Some(AlertState::Pending), Some(AlertState::Firing)),
            (Some(AlertState::Firing), Some(AlertState::Inactive)),
        ]
    );
    assert_eq!(hist.last().expect("first").value, Some(0.7));
    assert_eq!(hist[0].at_ms, NOW + 3 * MIN);
    // Filter by target state.
    let firing_only = svc
        .alerting()
        .alert_history(
            &viewer,
            &HistoryQuery { to: Some(Some(AlertState::Firing)), limit: 50, ..Default::default() },
        )
        .await
        .expect("history");
    assert_eq!(firing_only.len(), 1);
}

fn clock_now(svc: &Services) -> i64 {
    svc.now_ms()
}

#[tokio::test]
async fn an_edited_threshold_is_used_at_the_next_cycle_and_audited() {
    let (svc, _clock, editor, viewer) = setup().await;
    dialogs(&svc, "a", NOW - 5 * MIN, 10, 7).await;
    let rule = svc.alerting().create_rule(&editor, success_rule(0.5, 0)).await.expect("create");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert!(firing(&svc, &viewer).await.is_empty());

    // Raise the threshold: due at once (not after the interval), fires with no `for`.
    let updated = svc
        .alerting()
        .update_rule(&editor, rule.id, rule.version, success_rule(0.9, 0))
        .await
        .expect("update");
    assert_eq!(updated.version, rule.version + 1);
    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!(r.rules, 1, "an edit makes the rule due now");
    assert_eq!(state_of(&firing(&svc, &viewer).await), Some(AlertState::Firing));

    // The audit log holds the edit with the old and the new threshold.
    let audit = svc
        .store()
        .audit_entries(&AuditQuery {
            action_prefix: Some("rule.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["rule.update", "rule.create"]);
    let upd = &audit[0];
    assert_eq!(upd.actor, "ops@example.com");
    assert!(upd.before_json.as_deref().unwrap_or("").contains("\"threshold\":0.5"));
    assert!(upd.after_json.as_deref().unwrap_or("").contains("\"threshold\":0.9"));

    // An edit based on the old version is refused, and changes nothing.
    let err = svc
        .alerting()
        .update_rule(&editor, rule.id, rule.version, success_rule(0.1, 0))
        .await
        .expect_err("stale");
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert_eq!(
        svc.alerting().get_rule(&viewer, rule.id).await.expect("get").spec.condition,
        Condition::Threshold { op: CompareOp::Lt, threshold: 0.9 }
    );
}

#[tokio::test]
async fn writes_need_the_editor_role_and_valid_fields() {
    let (svc, _clock, editor, viewer) = setup().await;
    let err = svc.alerting().create_rule(&viewer, success_rule(0.9, 0)).await.expect_err("viewer");
    assert!(matches!(err, ServiceError::Forbidden(domain::Permission::EditRules)));
    let mut bad = success_rule(0.9, 0);
    bad.interval_ms = 1_000;
    bad.name = String::new();
    match svc.alerting().create_rule(&editor, bad).await.expect_err("invalid") {
        ServiceError::Invalid(f) => {
            assert!(f.get("interval").is_some() && f.get("name").is_some(), "{f}");
        }
        other => panic!("{other:?}"),
    }
    svc.alerting().create_rule(&editor, success_rule(0.9, 0)).await.expect("first");
    match svc.alerting().create_rule(&editor, success_rule(0.8, 0)).await.expect_err("same name") {
        ServiceError::Invalid(f) => assert!(f.get("name").is_some(), "{f}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(svc.alerting().list_rules(&viewer).await.expect("list").len(), 1);
    let rule = &svc.alerting().list_rules(&viewer).await.expect("list")[0].rule;
    assert!(matches!(
        svc.alerting().delete_rule(&viewer, rule.id).await,
        Err(ServiceError::Forbidden(_))
    ));
    svc.alerting().delete_rule(&editor, rule.id).await.expect("delete");
    assert!(svc.alerting().list_rules(&viewer).await.expect("list").is_empty());
}

#[tokio::test]
async fn dau_drop_compares_the_last_complete_day_with_the_day_before() {
    let (svc, _clock, editor, viewer) = setup().await;
    let tz = chrono_tz::UTC;
    let today = local_day(NOW, tz);
    let mut events = Vec::new();
    // Day −2: 10 users; day −1: 7 users (−30 %); today: 1 user (partial, ignored).
    for (offset, users) in [(-2, 10), (-1, 7), (0, 1)] {
        for u in 0..users {
            events.push(
                json!({"event_id": format!("d{offset}-{u}"), "event_name": "user_login_success",
                "user_id": format!("u{u}"), "timestamp": day_start_ms(today + offset, tz) + H}),
            );
        }
    }
    common::ingest(&svc, &events).await;
    let mut spec =
        RuleSpec::kpi_threshold("DAU drop", Severity::P2, KpiMetric::Dau, CompareOp::Gt, 0.0);
    spec.condition = Condition::DropPct { pct: 20.0 };
    spec.summary = "DAU changed {{ $value }}%".into();
    svc.alerting().create_rule(&editor, spec.clone()).await.expect("create");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let a = firing(&svc, &viewer).await;
    assert_eq!(state_of(&a), Some(AlertState::Firing));
    assert!((a[0].value + 30.0).abs() < 1e-9, "value is the change in %: {}", a[0].value);
    assert_eq!(a[0].summary, "DAU changed -30%");

    // A 35 % threshold does not hold for a 30 % drop.
    let rules = svc.alerting().list_rules(&viewer).await.expect("list");
    spec.condition = Condition::DropPct { pct: 35.0 };
    svc.alerting()
        .update_rule(&editor, rules[0].rule.id, rules[0].rule.version, spec)
        .await
        .expect("update");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert!(firing(&svc, &viewer).await.is_empty());
}

#[tokio::test]
async fn backtest_shades_pending_and_firing_hours_and_counts_notifications() {
    let (svc, _clock, _editor, viewer) = setup().await;
    let hour = NOW.div_euclid(H);
    // Hours −6..−1 relative to the current hour; success rates 1.0, 1.0, 0.5, 0.5, 0.5, 1.0
    // over a 1-hour window.
    for (i, ok) in [10, 10, 5, 5, 5, 10].iter().enumerate() {
        let h = hour - 6 + i as i64;
        dialogs(&svc, &format!("h{i}"), h * H + 10 * MIN, 10, *ok).await;
    }
    let mut spec = success_rule(0.9, H); // pending for one hour, then firing
    spec.query = RuleQuery::Kpi {
        metric: KpiMetric::AiSuccessRate,
        window_minutes: 60,
        segment: String::new(),
    };
    let from = (hour - 6) * H;
    let to = hour * H;
    let b = svc.alerting().backtest(&viewer, spec, from, to).await.expect("backtest");
    assert_eq!(b.evaluations, 6);
    assert_eq!(b.points.len(), 6);
    // Evaluated at the end of hours −4 (pending), −3, −2 (firing), −1 (resolved).
    assert_eq!(
        b.spans
            .iter()
            .map(|s| ((s.from_ms - from) / H, (s.to_ms - from) / H, s.firing))
            .collect::<Vec<_>>(),
        vec![(2, 3, false), (3, 5, true)]
    );
    // P1 repeats every 5 min: first message at hour −3's end, 12 repeats by hour −2's end,
    // then the resolved message.
    assert_eq!(b.notifications, 1 + 12 + 1);
    assert_eq!(b.threshold, Some(0.9));
    assert!(b.svg.expect("chart").contains("<polyline"));

    let err =
        svc.alerting().backtest(&viewer, success_rule(0.9, 0), to, from).await.expect_err("range");
    assert!(matches!(err, ServiceError::Invalid(f) if f.get("range").is_some()));
}

#[tokio::test]
async fn default_rules_are_seeded_once() {
    let (svc, _clock, editor, viewer) = setup().await;
    let n = svc.alerting().seed_default_rules().await.expect("seed");
    assert_eq!(n, services::alerting::default_rules().len());
    assert!(n >= 8);
    for r in services::alerting::default_rules() {
        r.validate().expect("default rules are valid");
    }
    let rules = svc.alerting().list_rules(&viewer).await.expect("list");
    assert!(rules
        .iter()
        .any(|r| r.rule.spec.name == "DAU dropped more than 20%"
            && r.rule.spec.severity == Severity::P2));
    // Deleting one and restarting does not bring it back.
    svc.alerting().delete_rule(&editor, rules[0].rule.id).await.expect("delete");
    assert_eq!(svc.alerting().seed_default_rules().await.expect("again"), 0);
    assert_eq!(svc.alerting().list_rules(&viewer).await.expect("list").len(), n - 1);
    // Without data, a cycle evaluates every enabled rule and fires nothing. Without a
    // Prometheus data source the PromQL (CPU) rule is seeded disabled.
    let rules = svc.alerting().list_rules(&viewer).await.expect("list");
    let cpu = rules
        .iter()
        .find(|r| r.rule.spec.name == "CPU above 90% for 10 minutes")
        .expect("cpu rule");
    assert!(!cpu.rule.spec.enabled);
    for r in &rules {
        let promql = matches!(r.rule.spec.query, domain::alerting::RuleQuery::Promql { .. });
        assert!(!promql || !r.rule.spec.enabled, "{} waits for a Prometheus", r.rule.spec.name);
    }
    let promql = services::alerting::default_rules()
        .iter()
        .filter(|r| matches!(r.query, domain::alerting::RuleQuery::Promql { .. }))
        .count();
    assert_eq!(promql, 7, "CPU, memory, disk, two database and two Redis rules");
    let enabled = rules.iter().filter(|r| r.rule.spec.enabled).count();
    let off_anyway = services::alerting::default_rules().iter().filter(|r| !r.enabled).count();
    assert_eq!(enabled, n - promql - off_anyway);
    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!((r.rules, r.transitions, r.errors), (enabled, 0, 0));
}

#[tokio::test]
async fn technical_rules_reach_databases_seeded_before_them() {
    let (svc, _clock, _editor, viewer) = setup().await;
    // A database seeded by an older Vigil: the product rules and the first key only.
    let ctx = store::AuditCtx::system("system", NOW);
    for spec in services::alerting::product_default_rules() {
        svc.store().create_rule(&spec, &ctx).await.expect("old seed");
    }
    svc.store().set_setting("alerting.defaults_seeded", "1").await.expect("key");
    // Both later sets arrive: the technical rules and the seed's remaining thresholds.
    let tech = services::alerting::technical_default_rules();
    let thresholds = services::alerting::threshold_default_rules();
    assert_eq!(
        svc.alerting().seed_default_rules().await.expect("seed"),
        tech.len() + thresholds.len()
    );
    assert_eq!(svc.alerting().seed_default_rules().await.expect("again"), 0);
    let names: Vec<String> = svc
        .alerting()
        .list_rules(&viewer)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.rule.spec.name)
        .collect();
    for want in [
        "API P95 above 5 s",
        "API error rate above 10%",
        "Service down for 5 minutes",
        "SLO burn rate 14.4× over 1h and 5m (page)",
        "SLO burn rate 6× over 6h and 30m (page)",
        "SLO burn rate 3× over 1d and 2h (ticket)",
        "SLO burn rate 1× over 3d and 6h (ticket)",
        "Monthly churn above 5%",
        "D1 retention below 20%",
        "Database connections above 80%",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
}

/// What is pending or firing now, as `who` sees it.
async fn firing(svc: &Services, who: &services::Caller) -> Vec<services::alerting::ActiveAlert> {
    svc.alerting().active_alerts(who).await.expect("alerts")
}
