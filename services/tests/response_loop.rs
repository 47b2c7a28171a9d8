//! The response loop end to end, with a fake clock and real local receivers (issue #16's
//! acceptance): a probe of a local endpoint starts failing → its P1 rule fires → the
//! default routing tree sends it to `feishu` and pages through the P1 route's escalation
//! policy → nobody answers → the second step pages → acknowledged through the signed link
//! (the notification repeats stop) → an incident is opened from the alert, with the alert
//! and the deploy just before it → the probe recovers → resolved → postmortem published →
//! closed. Every message's content is asserted, and each page arrives exactly once.

mod common;

use domain::alerting::{CompareOp, KpiMetric, RuleQuery, RuleSpec, Severity};
use domain::incident::postmortem::{ActionKind, ActionSpec, ActionStatus, PmStatus};
use domain::incident::{IncidentRole, Status};
use domain::oncall::escalation::{Method, NotifyRule, PolicySpec, Step, Target};
use domain::oncall::{Layer, Rotation, RotationKind, ScheduleSpec};
use domain::probe::{ProbeMetric, ProbeSpec};
use serde_json::Value;
use services::notify::channels::ChannelConfig;
use services::{AuthSettings, Caller, FakeClock, Services};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

const MIN: i64 = 60_000;
/// Wednesday 2026-11-04 10:00 in Shanghai (02:00Z).
const T0: i64 = 1_793_757_600_000;

type Got = Arc<Mutex<Vec<Value>>>;

fn got(g: &Got) -> Vec<Value> {
    g.lock().expect("lock").clone()
}

/// `/health` answers the status in `status`.
async fn target(status: Arc<AtomicU16>) -> String {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/health",
        get(move || {
            let s = status.load(Ordering::SeqCst);
            async move { (axum::http::StatusCode::from_u16(s).expect("status"), "ok") }
        }),
    );
    format!("http://{}/health", common::serve(app).await)
}

fn week_of(name: &str, user: i64) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        description: String::new(),
        time_zone: "Asia/Shanghai".into(),
        layers: vec![Layer {
            name: "All week".into(),
            participants: vec![user],
            rotation: Rotation {
                kind: RotationKind::Weekly,
                every: 1,
                start: "2026-11-02T09:00".into(),
            },
            restrictions: vec![],
        }],
    }
}

/// One engine tick as `server::engine` runs it (probes, rules, notifications, paging).
async fn tick(svc: &Services) {
    svc.probes().run_due_probes().await.expect("probes");
    svc.alerting().evaluate_due_rules().await.expect("rules");
    svc.notify().dispatch_notifications().await.expect("dispatch");
    svc.notify().run_schedule().await.expect("schedule");
    svc.notify().deliver_notifications().await.expect("deliver");
    svc.oncall().run_escalations().await.expect("escalations");
}

#[tokio::test]
async fn a_failing_probe_pages_escalates_is_acknowledged_and_ends_in_a_closed_incident() {
    let (store, _dir) = store::testing::sqlite_store("vigil-response-loop").await;
    let clock = FakeClock::at(T0);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_event_settings(services::events::EventSettings {
            reporting_tz: "Asia/Shanghai".parse().expect("tz"),
            ..Default::default()
        })
        .with_public_url("https://vigil.example.com");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let ops = common::signed_in(&svc, "ops@example.com", "editor").await;
    let primary = common::signed_in(&svc, "primary@example.com", "responder").await;
    let secondary = common::signed_in(&svc, "secondary@example.com", "responder").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let uid = |c: &Caller| c.user_id().expect("a person");

    // The team room is the default tree's `feishu` (a JSON webhook here); pages go to
    // the on-call's chat (Slack) — both local receivers.
    let (room_url, room) = common::receiver().await;
    let (pager_url, pager) = common::receiver().await;
    svc.notify()
        .create_channel(&admin, "feishu", "webhook", ChannelConfig::webhook(&room_url, ""), true)
        .await
        .expect("room");
    let chat = svc
        .notify()
        .create_channel(
            &admin,
            "oncall-chat",
            "slack",
            ChannelConfig::webhook(&pager_url, ""),
            true,
        )
        .await
        .expect("chat")
        .id;
    for p in [&primary, &secondary] {
        let rules = vec![NotifyRule { method: Method::Chat, delay_min: 0 }];
        svc.oncall().save_contact(p, uid(p), "", "", rules).await.expect("contact");
    }
    let first = svc.oncall().create_schedule(&ops, week_of("Primary", uid(&primary))).await;
    let second = svc.oncall().create_schedule(&ops, week_of("Secondary", uid(&secondary))).await;
    let policy = svc
        .oncall()
        .create_policy(
            &ops,
            PolicySpec {
                name: "Checkout paging".into(),
                description: String::new(),
                steps: vec![
                    Step { targets: vec![Target::Schedule(first.expect("s1").id)], delay_min: 3 },
                    Step { targets: vec![Target::Schedule(second.expect("s2").id)], delay_min: 3 },
                ],
                repeat: 1,
                channel_ids: vec![chat],
            },
        )
        .await
        .expect("policy")
        .id;
    // The default tree's P1 route (`severity="P1"` → feishu) gets the escalation policy.
    let view = svc.notify().routing(&ops).await.expect("routing");
    let p1 = view.rows.iter().find(|r| r.form.matchers == r#"severity="P1""#).expect("P1 route");
    assert_eq!(p1.form.channels, ["feishu"]);
    let mut form = p1.form.clone();
    form.escalation_policy_id = Some(policy);
    svc.notify().save_route(&ops, view.version, &p1.path, &form).await.expect("route");

    // A probe of checkout and its P1 rule (down for 2 minutes).
    let status = Arc::new(AtomicU16::new(200));
    let mut probe = ProbeSpec::new("checkout", &target(status.clone()).await);
    probe.labels.insert("service".into(), "checkout".into());
    svc.probes().create_probe(&ops, probe).await.expect("probe");
    let mut rule =
        RuleSpec::kpi_threshold("Checkout down", Severity::P1, KpiMetric::Dau, CompareOp::Eq, 0.0);
    rule.query = RuleQuery::Probe {
        probe: String::new(),
        metric: ProbeMetric::Up,
        window_minutes: 5,
        short_window_minutes: 0,
    };
    rule.for_ms = 2 * MIN;
    rule.summary = "{{ $labels.probe }} answers errors".into();
    let rule_id = svc.alerting().create_rule(&ops, rule).await.expect("rule").id;
    // The deploy script records its deploy, 20 minutes before the trouble (and another
    // service's flag, which the incident must not show).
    let deployer = Caller::api_key(9, "deploys", domain::ApiScope::Changes, "127.0.0.1");
    let change = |service: &str, kind: &str, version: &str| domain::changes::ChangeSpec {
        service: service.into(),
        kind: kind.into(),
        version: version.into(),
        at_ms: Some(T0 - 20 * MIN),
        ..Default::default()
    };
    svc.changes()
        .record_change(&deployer, &change("checkout", "deploy", "v2.4.0"))
        .await
        .expect("deploy");
    svc.changes().record_change(&deployer, &change("search", "flag", "")).await.expect("flag");

    // Minute 0 healthy; from minute 1 the endpoint answers 503. Pending at 1 and 2, firing
    // at 3: the primary is paged at once, the room is told after the route's group_wait.
    let mut fired_at = None;
    for minute in 0..=4 {
        status.store(if minute == 0 { 200 } else { 503 }, Ordering::SeqCst);
        tick(&svc).await;
        if fired_at.is_none() && !got(&pager).is_empty() {
            fired_at = Some(minute);
        }
        clock.advance_ms(MIN);
    }
    assert_eq!(fired_at, Some(3), "firing after `for` (2 min) from the first failure");
    let pages = got(&pager);
    assert_eq!(pages.len(), 1, "{pages:?}");
    let page = pages[0]["text"].as_str().expect("slack text");
    assert!(page.starts_with("[P1] Checkout down"), "{page}");
    assert!(page.contains("Paging primary@example.com (escalation step 1)"), "{page}");
    assert!(page.contains("Acknowledge: https://vigil.example.com/ack/"), "{page}");
    let room_msgs = got(&room);
    assert_eq!(room_msgs.len(), 1, "{room_msgs:?}");
    assert_eq!(room_msgs[0]["title"], "[P1] FIRING: Checkout down");
    assert_eq!(room_msgs[0]["status"], "firing");
    let alert = &room_msgs[0]["alerts"][0];
    assert_eq!(alert["summary"], "checkout answers errors");
    assert_eq!(alert["labels"]["service"], "checkout");
    assert_eq!(alert["labels"]["severity"], "P1");

    // No answer: at minute 6 (3 minutes after the first page) the secondary is paged.
    for _ in 5..=6 {
        tick(&svc).await;
        clock.advance_ms(MIN);
    }
    let pages = got(&pager);
    assert_eq!(pages.len(), 2, "{pages:?}");
    let page = pages[1]["text"].as_str().expect("slack text");
    assert!(page.contains("Paging secondary@example.com (escalation step 2)"), "{page}");

    // The secondary acknowledges with the link from the page.
    let link = page.lines().find_map(|l| l.strip_prefix("Acknowledge: ")).expect("ack link");
    let ack = svc.oncall().ack_by_link(link.rsplit('/').next().expect("token")).await.expect("ack");
    assert!(ack.acknowledged_now);
    assert_eq!(ack.acked_by.as_deref(), Some("secondary@example.com (signed link)"));
    let room_at_ack = got(&room).len();

    // An incident from the alert: P1, the secondary declares it, the primary (on call on
    // the policy's first schedule) is its commander; the alert is linked; the deploy of
    // checkout 20 minutes before shows, the other service's flag does not.
    let active = svc.alerting().active_alerts(&viewer).await.expect("active");
    let a = active.iter().find(|a| a.rule_id == rule_id).expect("the probe alert");
    let fp = services::notify::alert_fingerprint(rule_id, &a.labels);
    let inc = svc
        .incidents()
        .incident_from_alert(&secondary, "vigil", Some(rule_id), &fp)
        .await
        .expect("incident");
    assert_eq!(inc.fields.severity, Severity::P1);
    assert_eq!(inc.fields.title, "Checkout down: checkout answers errors", "rule: summary");
    assert_eq!(inc.roles.get(&IncidentRole::Commander), Some(&vec![uid(&primary)]));
    let detail = svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail");
    assert_eq!(detail.alerts.len(), 1);
    assert_eq!(detail.alerts[0].labels.get("probe").map(String::as_str), Some("checkout"));
    // The alert had paged already through the same policy, so the incident starts no
    // second run; its page shows the alert's run: both steps paged, the secondary's ack.
    let paging = svc.incidents().incident_paging(&viewer, &inc.code).await.expect("paging");
    assert_eq!(paging.len(), 1, "{paging:?}");
    let shown = format!("{:?}", paging[0]);
    for who in ["primary@example.com", "secondary@example.com (signed link)"] {
        assert!(shown.contains(who), "{who} in {shown}");
    }
    let around = svc.changes().incident_changes(&viewer, &inc.code).await.expect("changes");
    assert_eq!(around.services, ["checkout"]);
    let versions: Vec<&str> = around.changes.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(versions, ["v2.4.0"]);

    // Acknowledged: ten more minutes of the alert firing send no page and no repeat.
    for _ in 0..10 {
        tick(&svc).await;
        clock.advance_ms(MIN);
    }
    assert_eq!(got(&pager).len(), 2, "each page exactly once");
    assert_eq!(got(&room).len(), room_at_ack, "no repeats after the acknowledgement");

    // The fix lands: the probe is green, the alert resolves and the room is told once.
    status.store(200, Ordering::SeqCst);
    for _ in 0..8 {
        tick(&svc).await;
        clock.advance_ms(MIN);
    }
    let room_msgs = got(&room);
    let resolved: Vec<&Value> = room_msgs.iter().filter(|m| m["status"] == "resolved").collect();
    assert_eq!(resolved.len(), 1, "{room_msgs:?}");
    assert_eq!(resolved[0]["title"], "[P1] RESOLVED: Checkout down");
    assert!(svc.alerting().active_alerts(&viewer).await.expect("active").is_empty());

    // The commander walks the incident to resolved (after the P1 monitoring period).
    let ic = &primary;
    let code = inc.code.clone();
    for s in [Status::Investigating, Status::Fixing, Status::Monitoring] {
        svc.incidents().change_incident_status(ic, &code, s, None, None).await.expect("step");
    }
    clock.advance_ms(domain::incident::monitoring_ms(Severity::P1) + MIN);
    svc.incidents()
        .change_incident_status(ic, &code, Status::Resolved, None, None)
        .await
        .expect("resolved");
    assert!(matches!(
        svc.incidents().change_incident_status(ic, &code, Status::Closed, None, None).await,
        Err(services::ServiceError::Invalid(_))
    ));

    // Postmortem: in review, then published with its action items; then closed.
    let pm = svc.incidents().postmortem(ic, &code).await.expect("postmortem");
    let mut doc = pm.doc.clone();
    doc.problem = "Checkout answered 503 for 20 minutes".into();
    doc.direct_cause = "Release v2.4.0 exhausted the payment client's pool".into();
    doc.whys = vec!["pool too small".into(), "no load test".into()];
    let review = svc
        .incidents()
        .save_postmortem(ic, &code, pm.version, doc.clone(), PmStatus::InReview)
        .await
        .expect("review");
    for (kind, what) in
        [(ActionKind::Immediate, "Roll back v2.4.0"), (ActionKind::LongTerm, "Load-test releases")]
    {
        let item = ActionSpec {
            kind,
            description: what.into(),
            owner_user_id: Some(uid(ic)),
            due_date: "2026-11-20".into(),
            status: ActionStatus::Todo,
        };
        svc.incidents().add_action_item(ic, &code, &item).await.expect("item");
    }
    let published = svc
        .incidents()
        .save_postmortem(ic, &code, review.version, doc, PmStatus::Published)
        .await
        .expect("publish");
    assert_eq!(published.status, Some(PmStatus::Published));
    let closed = svc
        .incidents()
        .change_incident_status(ic, &code, Status::Closed, None, None)
        .await
        .expect("closed");
    assert_eq!(closed.status(), Status::Closed);

    // Nothing was paged twice, nothing more arrived after the resolution, and the loop is
    // in the audit log.
    assert_eq!(got(&pager).len(), 2);
    let audit = svc.accounts().audit_log(&admin, None, None, 200).await.expect("audit");
    for action in ["escalation.ack", "incident.create", "postmortem.save", "change.record"] {
        assert!(audit.iter().any(|a| a.entry.action.starts_with(action)), "{action} audited");
    }
    drop(ops);
}
