//! On-call scenarios with a fake clock: escalation through a policy (page, wait, escalate,
//! acknowledge, stop), recovery ending a run, overrides changing who is on call, "my
//! shifts", contact rules, and the demo roster on weekday day, weekday night and weekend.

mod common;

use domain::alerting::{CompareOp, KpiMetric, RuleSpec, Severity};
use domain::incident::Status;
use domain::oncall::escalation::{Method, NotifyRule, PolicySpec, Step, Target};
use domain::oncall::{seed_roster, Layer, Rotation, RotationKind, ScheduleSpec};
use serde_json::{json, Value};
use services::alerting::firing::{FiringCounts, Response};
use services::notify::policy::{parse_matchers, Route};
use services::{AuthSettings, Caller, FakeClock, ServiceError, Services};
use std::sync::Arc;

const MIN: i64 = 60_000;
/// Wednesday 2026-11-04 10:00 in Shanghai (02:00Z).
const T0: i64 = 1_793_757_600_000;

async fn setup(tag: &str) -> (Services, FakeClock, Caller) {
    let (store, _dir) = store::testing::sqlite_store(&format!("vigil-oncall-{tag}")).await;
    let clock = FakeClock::at(T0);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_event_settings(services::events::EventSettings {
            reporting_tz: "Asia/Shanghai".parse().expect("tz"),
            ..Default::default()
        })
        .with_public_url("https://vigil.example.com");
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    (svc, clock, editor)
}

fn one_person(name: &str, user: i64) -> ScheduleSpec {
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

/// A P0 rule on the AI success rate that fires at once, routed to `policy`.
async fn firing_rule(svc: &Services, editor: &Caller, policy: i64) -> i64 {
    firing_rule_at(svc, editor, Severity::P0, Some(policy)).await
}

/// A rule at `severity` on the AI success rate (30 % of 10 dialogs) that fires at once.
async fn firing_rule_at(
    svc: &Services,
    editor: &Caller,
    severity: Severity,
    policy: Option<i64>,
) -> i64 {
    ingest_dialogs(svc, T0 - 5 * MIN, 3).await;
    let mut spec = RuleSpec::kpi_threshold(
        "AI success low",
        severity,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        0.9,
    );
    spec.for_ms = 0;
    spec.interval_ms = MIN;
    spec.escalation_policy_id = policy;
    svc.alerting().create_rule(editor, spec).await.expect("rule").id
}

/// 10 dialogs at `at`, `ok` of them successful.
async fn ingest_dialogs(svc: &Services, at: i64, ok: usize) {
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({"event_id": format!("d-{at}-{i}"), "event_name": "ai_dialog_end",
                   "user_id": format!("u{i}"), "timestamp": at,
                   "properties": {"dialog_id": format!("d-{at}-{i}"), "success": i < ok,
                                  "response_ms": 800, "answer_source": "generated"}})
        })
        .collect();
    common::ingest(svc, &events).await;
}

fn texts(got: &std::sync::Mutex<Vec<Value>>) -> Vec<String> {
    got.lock()
        .expect("lock")
        .iter()
        .map(|v| v["content"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The people of a paging scenario — an admin, a responder to put on call, a viewer — and
/// the test receiver every channel posts to.
struct Cast {
    admin: Caller,
    primary: Caller,
    viewer: Caller,
    url: String,
    got: Arc<std::sync::Mutex<Vec<Value>>>,
}

async fn cast(svc: &Services) -> Cast {
    let admin = common::signed_in(svc, "admin@example.com", "admin").await;
    let primary = common::signed_in(svc, "primary@example.com", "responder").await;
    let viewer = common::signed_in(svc, "pm@example.com", "viewer").await;
    let (url, got) = common::receiver().await;
    Cast { admin, primary, viewer, url, got }
}

/// A Feishu channel to the test receiver at `url`.
async fn room(svc: &Services, admin: &Caller, url: &str) -> i64 {
    let config = services::notify::channels::ChannelConfig::webhook(url, "");
    svc.notify().create_channel(admin, "Room", "feishu", config, true).await.expect("channel").id
}

/// A policy of one step paging `target` at once through `channel`.
async fn one_step(
    svc: &Services,
    editor: &Caller,
    name: &str,
    target: Target,
    channel: i64,
) -> i64 {
    let spec = PolicySpec {
        name: name.into(),
        description: String::new(),
        steps: vec![Step { targets: vec![target], delay_min: 5 }],
        repeat: 1,
        channel_ids: vec![channel],
    };
    svc.oncall().create_policy(editor, spec).await.expect("policy").id
}

#[tokio::test]
async fn p0_pages_primary_then_secondary_until_acknowledged() {
    let (svc, clock, editor) = setup("escalate").await;
    let Cast { admin, primary, viewer, url, got } = cast(&svc).await;
    let secondary = common::signed_in(&svc, "secondary@example.com", "responder").await;
    let channel = room(&svc, &admin, &url).await;
    // The primary wants chat pages only, at once; the secondary keeps the defaults (chat
    // and email at once) — the policy has no email channel, so that page fails visibly.
    svc.oncall()
        .save_contact(
            &primary,
            primary.user_id().expect("a person"),
            "+86 138 0000 0001",
            "ou_primary",
            vec![NotifyRule { method: Method::Chat, delay_min: 0 }],
        )
        .await
        .expect("contact");
    let s1 = svc
        .oncall()
        .create_schedule(&editor, one_person("Primary", primary.user_id().expect("a person")))
        .await
        .expect("schedule");
    let s2 = svc
        .oncall()
        .create_schedule(&editor, one_person("Secondary", secondary.user_id().expect("a person")))
        .await
        .expect("schedule");
    let policy = svc
        .oncall()
        .create_policy(
            &editor,
            PolicySpec {
                name: "P0 paging".into(),
                description: String::new(),
                steps: vec![
                    Step { targets: vec![Target::Schedule(s1.id)], delay_min: 5 },
                    Step { targets: vec![Target::Schedule(s2.id)], delay_min: 5 },
                ],
                repeat: 1,
                channel_ids: vec![channel],
            },
        )
        .await
        .expect("policy");
    firing_rule(&svc, &editor, policy.id).await;

    // t0: the P0 fires → the primary is paged.
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.started, r.steps_fired, r.pages_sent), (1, 1, 1), "{r:?}");
    let t = texts(&got);
    assert_eq!(t.len(), 1);
    assert!(t[0].contains("<at user_id=\"ou_primary\">primary@example.com</at>"), "{}", t[0]);
    assert!(t[0].contains("[P0] AI success low"), "{}", t[0]);
    assert!(t[0].contains("https://vigil.example.com/ack/"), "{}", t[0]);

    // The firing alert knows its escalation: the run is keyed by the alert's episode, and
    // the firing list (home card, badge, firing page) says it is paging, unanswered.
    let active = svc.alerting().active_alerts(&editor).await.expect("active");
    let runs = svc.oncall().escalations(&viewer, 10).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].escalation.subject_key, services::incidents::episode_key(&active[0]));
    let now = svc.alerting().firing(&viewer).await.expect("firing");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].episode_key, runs[0].escalation.subject_key);
    assert_eq!(now[0].response, Response::Paging { escalation_id: runs[0].escalation.id });
    assert_eq!(FiringCounts::of(&now).unacknowledged, 1);

    // No ack for 4 minutes: nothing more.
    for _ in 0..4 {
        clock.advance_ms(MIN);
        svc.alerting().evaluate_due_rules().await.expect("cycle");
        let r = svc.oncall().run_escalations().await.expect("escalate");
        assert_eq!((r.started, r.steps_fired, r.pages_sent), (0, 0, 0));
    }
    assert_eq!(texts(&got).len(), 1);

    // 5 minutes: the secondary is paged (chat sent; email fails: no email channel).
    clock.advance_ms(MIN);
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.steps_fired, r.pages_sent, r.pages_failed), (1, 1, 1), "{r:?}");
    let t = texts(&got);
    assert_eq!(t.len(), 2);
    assert!(t[1].contains("Paging secondary@example.com"), "{}", t[1]);
    let runs = svc.oncall().escalations(&viewer, 10).await.expect("list");
    assert_eq!(runs.len(), 1);
    let failed: Vec<_> = runs[0].pages.iter().filter(|p| p.page.status == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].page.detail.contains("no email channel"), "{:?}", failed[0]);

    // A viewer cannot acknowledge; the secondary acknowledges with the signed link.
    let id = runs[0].escalation.id;
    assert!(matches!(
        svc.oncall().ack_escalation(&viewer, id).await,
        Err(ServiceError::Forbidden(_))
    ));
    let link = t[1].lines().find_map(|l| l.strip_prefix("Acknowledge: ")).expect("ack link");
    let token = link.rsplit('/').next().expect("token");
    // A forged signature is refused.
    // (Another last character: a token that already ends in "0" must not stay valid.)
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    assert!(matches!(svc.oncall().ack_by_link(&forged).await, Err(ServiceError::NotFound)));
    let out = svc.oncall().ack_by_link(token).await.expect("ack");
    assert!(out.acknowledged_now);
    assert_eq!(out.acked_by.as_deref(), Some("secondary@example.com (signed link)"));
    // Twice is harmless.
    assert!(!svc.oncall().ack_by_link(token).await.expect("again").acknowledged_now);
    // Still firing, now answered: the list says by whom, and the badge stops counting it.
    let now = svc.alerting().firing(&viewer).await.expect("firing");
    assert!(
        matches!(&now[0].response, Response::Acknowledged { by, .. } if by == "secondary@example.com (signed link)"),
        "{:?}",
        now[0].response
    );
    assert_eq!(FiringCounts::of(&now).unacknowledged, 0);

    // The alert keeps firing for half an hour: no more pages (the policy would have
    // repeated from minute 10 on).
    for _ in 0..30 {
        clock.advance_ms(MIN);
        svc.alerting().evaluate_due_rules().await.expect("cycle");
        let r = svc.oncall().run_escalations().await.expect("escalate");
        assert_eq!((r.started, r.steps_fired, r.pages_sent), (0, 0, 0));
    }
    assert_eq!(texts(&got).len(), 2);
    let run = &svc.oncall().escalations(&viewer, 10).await.expect("list")[0];
    assert_eq!(run.escalation.fired, 2);
    assert!(run.escalation.acked_at_ms.is_some());
    assert_eq!(run.escalation.next_at_ms, None);
    // The acknowledgement is in the audit log, as the person the link was sent to.
    let audit = svc
        .accounts()
        .audit_log(&admin, Some("escalation.ack".into()), None, 10)
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.actor_user_id, Some(secondary.user_id().expect("a person")));

    // A link expires a day after it was sent (410, with the reason)…
    clock.advance_ms(25 * 60 * MIN);
    match svc.oncall().ack_link_preview(token).await {
        Err(ServiceError::Gone(why)) => assert!(why.contains("expired"), "{why}"),
        other => panic!("expected Gone, got {other:?}"),
    }
    // …and a fresh link, and the person's calendar feed, die with the account.
    let fresh =
        svc.oncall().ack_url(id, secondary.user_id().expect("a person")).await.expect("url");
    let fresh = fresh.rsplit('/').next().expect("token").to_owned();
    svc.oncall().ack_link_preview(&fresh).await.expect("a fresh link works");
    let feed = svc
        .oncall()
        .rotate_feed(&admin, store::oncall::FeedKind::User, secondary.user_id().expect("a person"))
        .await
        .expect("feed");
    let feed = feed.rsplit('/').next().expect("token").to_owned();
    svc.oncall().calendar_feed(&feed).await.expect("the feed works");
    svc.accounts()
        .set_user_disabled(&admin, secondary.user_id().expect("a person"), true)
        .await
        .expect("disable");
    match svc.oncall().ack_link_preview(&fresh).await {
        Err(ServiceError::Gone(why)) => assert!(why.contains("disabled"), "{why}"),
        other => panic!("expected Gone, got {other:?}"),
    }
    assert!(matches!(svc.oncall().calendar_feed(&feed).await, Err(ServiceError::Gone(_))));
}

#[tokio::test]
async fn an_unacknowledged_run_repeats_and_stops_when_the_alert_recovers() {
    let (svc, clock, editor) = setup("repeat").await;
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let primary = common::signed_in(&svc, "primary@example.com", "responder").await;
    let (url, got) = common::receiver().await;
    let channel = svc
        .notify()
        .create_channel(
            &admin,
            "On-call room",
            "feishu",
            services::notify::channels::ChannelConfig::webhook(&url, ""),
            true,
        )
        .await
        .expect("channel");
    svc.oncall()
        .save_contact(
            &primary,
            primary.user_id().expect("a person"),
            "",
            "",
            vec![NotifyRule { method: Method::Chat, delay_min: 0 }],
        )
        .await
        .expect("contact");
    let policy = svc
        .oncall()
        .create_policy(
            &editor,
            PolicySpec {
                name: "Direct".into(),
                description: String::new(),
                steps: vec![Step {
                    targets: vec![Target::User(primary.user_id().expect("a person"))],
                    delay_min: 3,
                }],
                repeat: 2,
                channel_ids: vec![channel.id],
            },
        )
        .await
        .expect("policy");
    firing_rule(&svc, &editor, policy.id).await;
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    svc.oncall().run_escalations().await.expect("escalate");
    // Repeats at 3 and 6 minutes, then the run is exhausted.
    for _ in 0..10 {
        clock.advance_ms(MIN);
        svc.alerting().evaluate_due_rules().await.expect("cycle");
        svc.oncall().run_escalations().await.expect("escalate");
    }
    assert_eq!(texts(&got).len(), 3, "1 + repeat 2");
    // A new episode after recovery starts a new run; recovery ends it without more pages.
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let runs = svc.oncall().escalations(&viewer, 10).await.expect("list");
    assert_eq!(runs[0].escalation.next_at_ms, None, "exhausted");
    // Recovery: the dialogs of the last hour succeed.
    clock.advance_ms(61 * MIN);
    ingest_dialogs(&svc, clock_now(&svc) - MIN, 10).await;
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!(r.resolved, 1, "{r:?}");
    let runs = svc.oncall().escalations(&viewer, 10).await.expect("list");
    assert!(runs[0].escalation.resolved_at_ms.is_some());
}

fn clock_now(svc: &Services) -> i64 {
    svc.now_ms()
}

#[tokio::test]
async fn an_override_changes_who_is_on_call_now_and_my_shifts() {
    let (svc, clock, editor) = setup("override").await;
    let a = common::signed_in(&svc, "a@example.com", "responder").await;
    let b = common::signed_in(&svc, "b@example.com", "responder").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let s = svc
        .oncall()
        .create_schedule(&editor, one_person("Primary", a.user_id().expect("a person")))
        .await
        .expect("schedule");
    let now_name = |v: &[services::oncall::ScheduleSummary]| {
        v[0].now.as_ref().map(|n| n.email.clone()).unwrap_or_default()
    };
    assert_eq!(now_name(&svc.oncall().schedules(&viewer).await.expect("list")), "a@example.com");
    // Viewers and responders cannot override; bad input names the field.
    assert!(matches!(
        svc.oncall()
            .add_override(
                &viewer,
                s.id,
                T0,
                T0 + 60 * MIN,
                b.user_id().expect("a person"),
                None,
                ""
            )
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    match svc
        .oncall()
        .add_override(&editor, s.id, T0 + 60 * MIN, T0, b.user_id().expect("a person"), None, "")
        .await
    {
        Err(ServiceError::Invalid(e)) => assert!(e.get("end").is_some(), "{e:?}"),
        other => panic!("expected invalid end, got {other:?}"),
    }
    let ov = svc
        .oncall()
        .add_override(
            &editor,
            s.id,
            T0 - MIN,
            T0 + 120 * MIN,
            b.user_id().expect("a person"),
            Some(a.user_id().expect("a person")),
            "a at the dentist",
        )
        .await
        .expect("override");
    let list = svc.oncall().schedules(&viewer).await.expect("list");
    assert_eq!(now_name(&list), "b@example.com");
    assert!(list[0].now.as_ref().is_some_and(|n| n.by_override));
    assert_eq!(list[0].next.as_ref().map(|n| n.email.as_str()), Some("a@example.com"));
    let mine = svc.oncall().my_shifts(&b, 7).await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].start_ms, mine[0].end_ms), (T0, T0 + 120 * MIN));
    // Two hours later a is back.
    clock.advance_ms(121 * MIN);
    assert_eq!(now_name(&svc.oncall().schedules(&viewer).await.expect("list")), "a@example.com");
    svc.oncall().delete_override(&editor, ov.ov.id).await.expect("delete");
    // The schedule's view has layers, the final row and people.
    let v = svc.oncall().schedule_view(&viewer, s.id, T0, 14).await.expect("view");
    assert_eq!(v.layers.len(), 1);
    assert_eq!(v.on_call_now.map(|n| n.user_id), Some(a.user_id().expect("a person")));
    assert!(v.final_shifts.iter().all(|x| x.user_id == Some(a.user_id().expect("a person"))));
    assert!(matches!(
        svc.oncall().schedule_view(&viewer, s.id, T0, 90).await,
        Err(ServiceError::Invalid(_))
    ));
}

#[tokio::test]
async fn schedules_are_validated_with_field_names() {
    let (svc, _clock, editor) = setup("validate").await;
    let mut spec = seed_roster(
        "Primary",
        "2026-11-02",
        vec![editor.user_id().expect("a person")],
        vec![999],
        vec![],
    );
    spec.time_zone = "Mars/Olympus".into();
    match svc.oncall().create_schedule(&editor, spec).await {
        Err(ServiceError::Invalid(e)) => {
            assert!(e.get("time_zone").is_some(), "{e:?}");
            assert!(e.get("layers.1.participants").is_some(), "{e:?}");
            assert!(e.get("layers.2.participants").is_some(), "{e:?}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert!(svc.oncall().schedules(&editor).await.expect("list").is_empty(), "nothing partial");
    let responder = common::signed_in(&svc, "r@example.com", "responder").await;
    assert!(matches!(
        svc.oncall()
            .create_schedule(&responder, one_person("X", responder.user_id().expect("a person")))
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

#[tokio::test]
async fn the_demo_roster_names_the_right_person_day_night_and_weekend() {
    let (svc, clock, editor) = setup("demo").await;
    let added = svc.oncall().load_demo_oncall().await.expect("demo");
    assert!(added > 0);
    assert_eq!(svc.oncall().load_demo_oncall().await.expect("again"), 0, "idempotent");
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("tz");
    let at = |s: &str| {
        use chrono::TimeZone;
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        tz.from_local_datetime(&naive).single().expect("local").timestamp_millis()
    };
    let primary_now = |list: &[services::oncall::ScheduleSummary]| {
        list.iter()
            .find(|s| s.name == "Primary on-call")
            .and_then(|s| s.now.as_ref().map(|n| n.name.clone()))
            .unwrap_or_default()
    };
    // Wednesday 10:00: the week's product/dev person; Wednesday 23:30: night ops;
    // Saturday 15:00: the weekend on-call (and the backup schedule has someone else).
    let spec = &svc.store().schedules().await.expect("schedules")[..];
    let primary = spec.iter().find(|s| s.spec.name == "Primary on-call").expect("primary");
    let users = svc.store().list_users().await.expect("users");
    let name_of =
        |id: i64| users.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_default();
    let day = &primary.spec.layers[0].participants;
    let night = &primary.spec.layers[1].participants;
    let weekend = &primary.spec.layers[2].participants;
    for (when, pool) in [
        ("2026-11-04 10:00", day),
        ("2026-11-04 23:30", night),
        ("2026-11-05 08:00", night),
        ("2026-11-07 15:00", weekend),
        ("2026-11-08 23:30", weekend),
    ] {
        clock.set_ms(at(when));
        let list = svc.oncall().schedules(&editor).await.expect("list");
        let who = primary_now(&list);
        let mut names = Vec::new();
        for id in pool {
            names.push(name_of(*id));
        }
        assert!(names.contains(&who), "{when}: {who} not in {names:?}");
        if when.starts_with("2026-11-07") {
            let backup = list
                .iter()
                .find(|s| s.name == "Weekend backup")
                .and_then(|s| s.now.as_ref())
                .expect("backup on call");
            assert_ne!(backup.name, who, "the backup is someone else");
            assert!(!backup.phone.is_empty(), "the backup phone is shown");
        }
    }
    // There is a policy paging the primary then the backup.
    let policies = svc.oncall().policies(&editor).await.expect("policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].policy.spec.steps.len(), 2);
}

/// One list for every source: a Vigil rule and two Alertmanager alerts, firing before
/// pending and the newest first, outside severities read as levels, unsafe links dropped,
/// and an anonymous caller refused.
#[tokio::test]
async fn firing_list_merges_vigil_and_alertmanager() {
    let (svc, clock, editor) = setup("firing-list").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    firing_rule_at(&svc, &editor, Severity::P2, None).await;
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    clock.advance_ms(MIN);
    let key = Caller::api_key(1, "alertmanager", domain::ApiScope::Ingest, "127.0.0.1");
    // T0 is 02:00Z: DiskFull began 10 minutes before it, Latency 30 s after.
    let body = json!({"version": "4", "status": "firing", "receiver": "vigil", "alerts": [
        {"status": "firing", "fingerprint": "aaa", "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db1"},
         "annotations": {"summary": "disk 97%"}, "startsAt": "2026-11-04T01:50:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "javascript:alert(1)"},
        {"status": "firing", "fingerprint": "bbb", "labels": {"alertname": "Latency", "severity": "sev9"},
         "annotations": {}, "startsAt": "2026-11-04T02:00:30Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph"}
    ]});
    svc.notify().receive_alertmanager(&key, body.to_string().as_bytes()).await.expect("received");

    let list = svc.alerting().firing(&viewer).await.expect("firing");
    let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
    // Newest first: Latency (T0+30 s), the rule (fired at T0), DiskFull (T0-10 min).
    assert_eq!(names, ["Latency", "AI success low", "DiskFull"]);
    // "sev9" names no level: handled as P2, the label kept for the page.
    assert_eq!(list[0].severity, Severity::P2);
    assert_eq!(list[0].severity_label, "sev9");
    assert_eq!(list[0].link.as_deref(), Some("http://prometheus:9090/graph"));
    assert_eq!(list[2].severity, Severity::P0);
    assert_eq!(list[2].link, None, "a javascript: link must not reach the page");
    assert_eq!(list[2].labels, vec![("instance".to_owned(), "db1".to_owned())]);
    assert_eq!(list[2].summary, "disk 97%");
    assert!(matches!(list[1].source, services::alerting::firing::Source::Rule(_)));
    assert_eq!(list[1].value, "30.0%");
    let c = FiringCounts::of(&list);
    assert_eq!((c.by_severity, c.pending), ([1, 0, 2, 0], 0));
    assert_eq!(c.worst(), Some(Severity::P0));

    assert!(matches!(
        svc.alerting().firing(&Caller::anonymous("10.0.0.1")).await,
        Err(ServiceError::Unauthorized)
    ));

    // Nobody pages DiskFull, and it can still be acknowledged (a responder), once; a
    // viewer cannot; an episode that is not firing is not found; it can be taken back.
    let responder = common::signed_in(&svc, "oncall@example.com", "responder").await;
    let disk = list[2].episode_key.clone();
    assert!(matches!(
        svc.alerting().acknowledge(&viewer, &disk).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(svc.alerting().acknowledge(&responder, &disk).await.expect("ack"));
    assert!(!svc.alerting().acknowledge(&responder, &disk).await.expect("twice"));
    assert!(matches!(
        svc.alerting().acknowledge(&responder, "alertmanager:nope@1").await,
        Err(ServiceError::NotFound)
    ));
    let now = svc.alerting().firing(&viewer).await.expect("firing");
    let d = now.iter().find(|a| a.name == "DiskFull").expect("listed");
    assert!(
        matches!(&d.response, Response::Acknowledged { by, .. } if by == "oncall@example.com"),
        "{:?}",
        d.response
    );
    assert_eq!(FiringCounts::of(&now).unacknowledged, 2);
    // Acknowledged alerts do not repeat their notifications (changes still go out).
    let seen = svc.notify().notify_alerts().await.expect("alerts");
    let acked: Vec<&str> =
        seen.iter().filter(|a| a.acknowledged).map(|a| a.rule_name.as_str()).collect();
    assert_eq!(acked, ["DiskFull"]);
    assert!(svc.alerting().unacknowledge(&responder, &disk).await.expect("undo"));
    let now = svc.alerting().firing(&viewer).await.expect("firing");
    assert_eq!(
        now.iter().find(|a| a.name == "DiskFull").expect("listed").response,
        Response::NotPaged
    );
}

/// One Alertmanager webhook call with one alert; `ends` is `endsAt` (Go's zero time while
/// firing).
async fn am_alert(svc: &Services, fp: &str, name: &str, status: &str, starts: &str, ends: &str) {
    let key = Caller::api_key(1, "alertmanager", domain::ApiScope::Ingest, "127.0.0.1");
    let body = json!({"version": "4", "status": status, "receiver": "vigil", "alerts": [
        {"status": status, "fingerprint": fp,
         "labels": {"alertname": name, "severity": "critical", "team": "db"},
         "annotations": {"summary": format!("{name} on db1")}, "startsAt": starts, "endsAt": ends,
         "generatorURL": "http://prometheus:9090/graph"}]});
    svc.notify().receive_alertmanager(&key, body.to_string().as_bytes()).await.expect("received");
}

/// Alertmanager's alerts take Vigil's own path: routes match them on the level their
/// `severity: critical` names (P0), the route's escalation policy pages the on-call, the
/// page is acknowledged from the console, and a run ends when Alertmanager resolves its
/// alert. A route naming a policy that does not exist is refused.
#[tokio::test]
async fn alertmanager_alerts_are_routed_and_escalated() {
    const FIRING: &str = "0001-01-01T00:00:00Z";
    let (svc, clock, editor) = setup("am-escalation").await;
    let Cast { admin, primary, viewer, url, got } = cast(&svc).await;
    let channel = room(&svc, &admin, &url).await;
    let schedule = svc
        .oncall()
        .create_schedule(&editor, one_person("DB primary", primary.user_id().expect("a person")))
        .await
        .expect("schedule");
    let policy = one_step(&svc, &editor, "DB paging", Target::Schedule(schedule.id), channel).await;
    // The routing tree: P0 alerts of the database team page through "DB paging".
    let (mut routing, version) = svc.notify().notification_policy(&viewer).await.expect("routing");
    let route = |policy_id: i64| Route {
        matchers: parse_matchers(r#"severity="P0", team="db""#).expect("matchers"),
        escalation_policy_id: Some(policy_id),
        ..Route::default()
    };
    routing.route.routes.insert(0, route(9_999));
    match svc.notify().set_notification_policy(&admin, &routing, version).await {
        Err(ServiceError::Invalid(e)) => {
            assert!(e.get("route").is_some_and(|m| m.contains("9999")), "{e:?}")
        }
        other => panic!("a missing escalation policy must be refused: {other:?}"),
    }
    routing.route.routes[0] = route(policy);
    // P0 incidents page through the same policy.
    routing.route.routes.insert(
        1,
        Route {
            matchers: parse_matchers(r#"source="incident", severity="P0""#).expect("matchers"),
            escalation_policy_id: Some(policy),
            ..Route::default()
        },
    );
    svc.notify().set_notification_policy(&admin, &routing, version).await.expect("saved");

    // Two database alerts arrive from Alertmanager.
    am_alert(&svc, "f-disk", "DiskFull", "firing", "2026-11-04T01:59:00Z", FIRING).await;
    am_alert(&svc, "f-conn", "TooManyConnections", "firing", "2026-11-04T01:59:30Z", FIRING).await;
    // Routes and silences see the level: severity P0, the original kept beside it.
    let seen = svc.notify().notify_alerts().await.expect("alerts");
    let disk = seen.iter().find(|a| a.rule_name == "DiskFull").expect("routed like Vigil's own");
    assert_eq!(disk.severity, Severity::P0);
    assert_eq!(disk.labels["severity"], "P0");
    assert_eq!(disk.labels["alertmanager_severity"], "critical");
    assert_eq!(disk.rule_id, None);

    // Both page the on-call through the route's policy, once each.
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.started, r.steps_fired, r.pages_sent), (2, 2, 2), "{r:?}");
    let t = texts(&got);
    assert!(t.iter().any(|m| m.contains("DiskFull: DiskFull on db1")), "{t:?}");
    assert!(t.iter().any(|m| m.contains("TooManyConnections")), "{t:?}");
    let again = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((again.started, again.pages_sent), (0, 0), "nothing twice: {again:?}");

    // The firing list shows them paging; the primary acknowledges DiskFull in the console.
    let list = svc.alerting().firing(&viewer).await.expect("firing");
    let disk = list.iter().find(|a| a.name == "DiskFull").expect("listed");
    let Response::Paging { escalation_id } = disk.response else {
        panic!("paging expected: {:?}", disk.response)
    };
    assert!(svc.oncall().ack_escalation(&primary, escalation_id).await.expect("ack"));
    let list = svc.alerting().firing(&viewer).await.expect("firing");
    let disk = list.iter().find(|a| a.name == "DiskFull").expect("listed");
    assert!(
        matches!(&disk.response, Response::Acknowledged { by, .. } if by.contains("primary")),
        "{:?}",
        disk.response
    );

    // An incident opened from DiskFull is P0 (its `critical`, as listed and routed), its IC
    // is the on-call, and it pages nobody twice: the alert's own run already pages the
    // same people through the same policy.
    let inc = svc
        .incidents()
        .incident_from_alert(&primary, "alertmanager", None, "f-disk")
        .await
        .expect("incident");
    assert_eq!(inc.fields.severity, Severity::P0);
    assert_eq!(
        inc.roles.get(&domain::incident::IncidentRole::Commander),
        Some(&vec![primary.user_id().expect("a person")])
    );
    // The incident's paging panel shows that run (acknowledged), not a second one.
    let paging = svc.incidents().incident_paging(&viewer, &inc.code).await.expect("paging");
    let ids: Vec<i64> = paging.iter().map(|p| p.escalation.id).collect();
    assert_eq!(ids, [escalation_id]);
    assert!(paging[0].escalation.acked_at_ms.is_some());

    // Alertmanager resolves TooManyConnections: its run ends, nobody is paged again.
    clock.advance_ms(2 * MIN);
    am_alert(
        &svc,
        "f-conn",
        "TooManyConnections",
        "resolved",
        "2026-11-04T01:59:30Z",
        "2026-11-04T02:01:00Z",
    )
    .await;
    clock.advance_ms(10 * MIN);
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.resolved, r.steps_fired, r.pages_sent), (1, 0, 0), "{r:?}");
    let names: Vec<String> =
        svc.alerting().firing(&viewer).await.expect("firing").into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["DiskFull"]);
}

/// Incidents page people: the routing tree's route for P1 incidents names a policy; a
/// declared P1 pages its schedule's on-call (who becomes the incident commander), the
/// incident lists who was paged, "page more" adds a second policy once, a policy that
/// does not exist is refused by field, and resolving the incident ends the paging.
#[tokio::test]
async fn declaring_an_incident_pages_the_oncall_and_resolving_ends_it() {
    let (svc, clock, editor) = setup("incident-paging").await;
    let Cast { admin, primary, viewer, url, got } = cast(&svc).await;
    let lead = common::signed_in(&svc, "lead@example.com", "responder").await;
    let channel = room(&svc, &admin, &url).await;
    let primary_id = primary.user_id().expect("a person");
    let schedule = svc
        .oncall()
        .create_schedule(&editor, one_person("Primary", primary_id))
        .await
        .expect("schedule");
    let p1 = one_step(&svc, &editor, "P1 incidents", Target::Schedule(schedule.id), channel).await;
    let lead_id = lead.user_id().expect("a person");
    let leads = one_step(&svc, &editor, "Engineering leads", Target::User(lead_id), channel).await;
    let (mut routing, version) = svc.notify().notification_policy(&viewer).await.expect("routing");
    routing.route.routes.insert(
        0,
        Route {
            matchers: parse_matchers(r#"source="incident", severity=~"P0|P1""#).expect("matchers"),
            escalation_policy_id: Some(p1),
            ..Route::default()
        },
    );
    svc.notify().set_notification_policy(&admin, &routing, version).await.expect("saved");

    let declare = |sev: Severity, policy: Option<i64>| services::incidents::Declare {
        fields: domain::incident::IncidentFields {
            title: "Checkout failing".into(),
            severity: sev,
            ..Default::default()
        },
        escalation_policy_id: policy,
        ..Default::default()
    };
    // A chosen policy that does not exist: refused by field, nothing declared.
    match svc.incidents().declare_incident(&lead, declare(Severity::P1, Some(9_999))).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("escalation_policy").is_some(), "{e:?}"),
        other => panic!("expected a field error: {other:?}"),
    }
    assert!(svc
        .incidents()
        .list_incidents(&viewer, &Default::default())
        .await
        .expect("list")
        .is_empty());

    // Declared P1 by the lead: routed to "P1 incidents"; the on-call primary is the IC.
    let inc = svc
        .incidents()
        .declare_incident(&lead, declare(Severity::P1, None))
        .await
        .expect("declared");
    assert_eq!(inc.roles.get(&domain::incident::IncidentRole::Commander), Some(&vec![primary_id]));
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.started, r.steps_fired, r.pages_sent), (0, 1, 1), "{r:?}");
    let t = texts(&got);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(t[0].contains(&format!("[{}] Checkout failing", inc.code)), "{}", t[0]);
    assert!(t[0].contains("primary@example.com"), "{}", t[0]);

    // The incident shows who was paged, through which policy, by which channel.
    let runs = svc.incidents().incident_paging(&viewer, &inc.code).await.expect("paging");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].policy_name, "P1 incidents");
    // The primary keeps the default contact rules (chat and email at once); the policy
    // has no email channel, so that page failed, visibly.
    let pages: Vec<(&str, &str, &str)> = runs[0]
        .pages
        .iter()
        .map(|p| (p.name.as_str(), p.page.method.as_str(), p.page.status.as_str()))
        .collect();
    assert_eq!(
        pages,
        [("primary@example.com", "chat", "sent"), ("primary@example.com", "email", "failed")]
    );

    // Page more: the leads, once; a viewer may not.
    let more = |policy: Option<i64>, target: Option<Target>| {
        let (svc, code, lead) = (&svc, inc.code.clone(), &lead);
        async move { svc.incidents().page_more(lead, &code, policy, target).await }
    };
    assert!(matches!(
        svc.incidents().page_more(&viewer, &inc.code, Some(leads), None).await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(more(Some(leads), None).await.expect("more"));
    assert!(!more(Some(leads), None).await.expect("once"));
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!(r.pages_sent, 1, "{r:?}");
    assert!(texts(&got)[1].contains("lead@example.com"), "{:?}", texts(&got));

    // Page more: one person, with the channels of the policy that pages the incident
    // ("P1 incidents"), once; a person who does not exist, or nothing, is named.
    let dba = common::signed_in(&svc, "dba@example.com", "responder").await;
    let dba_id = dba.user_id().expect("a person");
    let chat_only = vec![NotifyRule { method: Method::Chat, delay_min: 0 }];
    svc.oncall().save_contact(&dba, dba_id, "", "", chat_only).await.expect("contact");
    match more(None, Some(Target::User(9_999))).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("target").is_some(), "{e:?}"),
        other => panic!("expected a field error: {other:?}"),
    }
    match more(None, None).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("target").is_some(), "{e:?}"),
        other => panic!("expected a field error: {other:?}"),
    }
    assert!(more(None, Some(Target::User(dba_id))).await.expect("the DBA"));
    assert!(!more(None, Some(Target::User(dba_id))).await.expect("once"));
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.steps_fired, r.pages_sent), (1, 1), "{r:?}");
    let t = texts(&got);
    assert_eq!(t.len(), 3, "{t:?}");
    assert!(t[2].contains("Paging dba@example.com (escalation step 1)"), "{}", t[2]);
    // Unanswered, it repeats like its policy (wait 5 min, one repeat), as the two policy
    // runs do: three steps and three chat pages ten minutes later, then nothing more.
    clock.advance_ms(10 * MIN);
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.steps_fired, r.pages_sent), (3, 3), "{r:?}");
    assert!(texts(&got)[3..]
        .iter()
        .any(|t| t.contains("Paging dba@example.com (escalation step 2)")));
    clock.advance_ms(10 * MIN);
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.steps_fired, r.pages_sent), (0, 0), "{r:?}");
    let runs = svc.incidents().incident_paging(&viewer, &inc.code).await.expect("paging");
    let dba_run = runs.iter().find(|r| r.escalation.target.is_some()).expect("the DBA's run");
    assert_eq!(dba_run.policy_name, "P1 incidents");
    assert_eq!(dba_run.steps_total, 2, "one step, repeated once");
    let paged: Vec<&str> = dba_run.pages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(paged, ["dba@example.com", "dba@example.com"], "the page and its repeat");

    // Resolved (early, with a reason): both runs end; nobody is paged again.
    for to in [Status::Investigating, Status::Fixing, Status::Monitoring] {
        svc.incidents()
            .change_incident_status(&lead, &inc.code, to, None, None)
            .await
            .expect("status");
    }
    svc.incidents()
        .change_incident_status(
            &lead,
            &inc.code,
            Status::Resolved,
            None,
            Some("rolled back".into()),
        )
        .await
        .expect("resolved");
    let runs = svc.incidents().incident_paging(&viewer, &inc.code).await.expect("paging");
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.escalation.resolved_at_ms.is_some()), "{runs:?}");
    clock.advance_ms(30 * MIN);
    let r = svc.oncall().run_escalations().await.expect("escalate");
    assert_eq!((r.steps_fired, r.pages_sent), (0, 0), "{r:?}");
    let timeline =
        svc.incidents().incident_detail(&viewer, &inc.code).await.expect("detail").timeline;
    let paging: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == domain::incident::EntryKind::Paging)
        .map(|e| e.body.as_str())
        .collect();
    assert_eq!(
        paging,
        [
            "Paging through the escalation policy \"P1 incidents\"",
            "Paging through the escalation policy \"Engineering leads\"",
            "Paging dba@example.com through the channels of \"P1 incidents\"",
            "Paging ended"
        ]
    );
    // A P3 incident matches no paging route: nobody is paged, nobody made IC.
    let quiet = svc
        .incidents()
        .declare_incident(&lead, declare(Severity::P3, None))
        .await
        .expect("declared");
    assert!(quiet.roles.is_empty());
    assert!(svc
        .incidents()
        .incident_paging(&viewer, &quiet.code)
        .await
        .expect("paging")
        .is_empty());
}
