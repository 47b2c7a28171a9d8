//! The scheduler with a fake clock and real local receivers: P3 alerts wait for the 10:00
//! digest instead of going out at once, the digest is queued once however often the
//! scheduler runs (a restart or a second replica re-runs the same slot), a missed slot is
//! caught up within 12 hours and not after, and the weekly review goes out on Monday.

mod common;

use serde_json::{json, Value};
use services::notify::channels::ChannelConfig;
use services::{AuthSettings, Caller, FakeClock, Services};
use std::sync::{Arc, Mutex};

const HOUR: i64 = 3_600_000;
/// 2026-11-25T00:00:00Z, a Wednesday.
const WED: i64 = 1_795_564_800_000;

type Got = Arc<Mutex<Vec<Value>>>;

async fn setup(tag: &str) -> (Services, FakeClock, Got, Got) {
    let (store, _dir) = store::testing::sqlite_store(&format!("vigil-{tag}")).await;
    let clock = FakeClock::at(WED + 9 * HOUR);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_public_url("https://vigil.example");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let (email_url, email) = common::receiver().await;
    let (feishu_url, feishu) = common::receiver().await;
    for (name, url) in [("email", email_url), ("feishu", feishu_url)] {
        svc.notify()
            .create_channel(&admin, name, "webhook", ChannelConfig::webhook(&url, ""), true)
            .await
            .expect("channel");
    }
    (svc, clock, email, feishu)
}

fn texts(got: &Got) -> Vec<String> {
    got.lock().expect("lock").iter().map(|v| v["text"].as_str().unwrap_or("").to_owned()).collect()
}

/// Declares an incident with `ic` as its commander.
async fn declare(
    svc: &Services,
    ic: &Caller,
    title: &str,
    severity: domain::alerting::Severity,
) -> store::incidents::Incident {
    let fields =
        domain::incident::IncidentFields { title: title.into(), severity, ..Default::default() };
    let declare =
        services::incidents::Declare { fields, commander_id: ic.user_id(), ..Default::default() };
    svc.incidents().declare_incident(ic, declare).await.expect("declare")
}

async fn tick(svc: &Services) -> usize {
    svc.notify().dispatch_notifications().await.expect("dispatch");
    let r = svc.notify().run_schedule().await.expect("schedule");
    svc.notify().deliver_notifications().await.expect("deliver");
    r.enqueued
}

#[tokio::test]
async fn p3_waits_for_the_daily_digest_which_is_sent_once() {
    let (svc, clock, email, feishu) = setup("digest").await;
    let key = Caller::api_key(1, "alertmanager", domain::ApiScope::Ingest, "127.0.0.1");
    // 08:50Z: an `info` alert (P3) and a `warning` one (P2) begin firing.
    let body = json!({"version": "4", "status": "firing", "receiver": "vigil", "alerts": [
        {"status": "firing", "fingerprint": "p3", "labels": {"alertname": "CertExpiresSoon", "severity": "info"},
         "annotations": {"summary": "certificate expires in 20 days"}, "startsAt": "2026-11-25T08:50:00Z", "endsAt": "0001-01-01T00:00:00Z"},
        {"status": "firing", "fingerprint": "p2", "labels": {"alertname": "QueueBacklog", "severity": "warning"},
         "annotations": {}, "startsAt": "2026-11-25T08:50:00Z", "endsAt": "0001-01-01T00:00:00Z"}
    ]});
    svc.notify().receive_alertmanager(&key, body.to_string().as_bytes()).await.expect("received");
    // 09:00 → 09:50: the P2 goes to Feishu at once; the P3 to nobody yet; no slot is due
    // (yesterday's 10:00 is more than 12 hours ago).
    for _ in 0..50 {
        assert_eq!(tick(&svc).await, 0);
        clock.advance_ms(60_000);
    }
    // The P2 alert at once (after group_wait) and every 15 minutes (P2's repeat): 1, 16, 31, 46.
    assert_eq!(feishu.lock().expect("lock").len(), 4, "the P2 alert as it happens");
    assert!(email.lock().expect("lock").is_empty(), "the P3 alert waits for the digest");

    // 10:00 and every minute after: one digest, to the P3 route's channel.
    clock.set_ms(WED + 10 * HOUR);
    assert_eq!(tick(&svc).await, 1);
    for _ in 0..30 {
        clock.advance_ms(60_000);
        assert_eq!(tick(&svc).await, 0, "never twice");
    }
    let got = texts(&email);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("Vigil daily digest 2026-11-25: 1 alerts"), "{}", got[0]);
    assert!(got[0].contains("[P3] CertExpiresSoon"), "{}", got[0]);
    assert!(!got[0].contains("QueueBacklog"), "the P2 alert is not a digest alert");
    assert_eq!(email.lock().expect("lock")[0]["kind"], "digest");

    // A replica that starts at 21:00 does not send today's again; the next day's is sent
    // at 10:00 (still firing), and one missed for more than 12 hours is not sent late.
    clock.set_ms(WED + 21 * HOUR);
    assert_eq!(tick(&svc).await, 0);
    clock.set_ms(WED + 34 * HOUR);
    assert_eq!(tick(&svc).await, 1);
    clock.set_ms(WED + 2 * 24 * HOUR + 22 * HOUR + 60_000);
    assert_eq!(tick(&svc).await, 0, "more than 12 h after the slot");
    assert_eq!(texts(&email).len(), 2);
}

#[tokio::test]
async fn the_weekly_review_goes_out_on_monday_once() {
    let (svc, clock, email, feishu) = setup("weekly").await;
    // Monday 2026-11-30 10:05Z (the daily slot is due too, with nothing to say).
    clock.set_ms(WED + 5 * 24 * HOUR + 10 * HOUR + 5 * 60_000);
    assert_eq!(tick(&svc).await, 1);
    assert_eq!(tick(&svc).await, 0);
    let got = texts(&feishu);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("Vigil weekly incident review, week to 2026-11-30"), "{}", got[0]);
    assert!(got[0].contains("0 incidents (P0 0, P1 0, P2 0, P3 0)"), "{}", got[0]);
    assert!(email.lock().expect("lock").is_empty(), "P2 reminders route to Feishu");
    // Tuesday: no review.
    clock.advance_ms(24 * HOUR);
    assert_eq!(tick(&svc).await, 0);
}

#[tokio::test]
async fn postmortems_coming_due_and_overdue_and_late_action_items_are_reminded_daily() {
    use domain::incident::postmortem::{ActionKind, ActionSpec, ActionStatus};
    use domain::incident::Status;
    let (svc, clock, _email, feishu) = setup("reminders").await;
    let ic = common::signed_in(&svc, "ic@example.com", "responder").await;
    // Wednesday 01:00Z a P1 is declared (the IC takes it), resolved at 02:00: its postmortem
    // is due 48 h later, Friday 02:00Z.
    clock.set_ms(WED + HOUR);
    let inc = declare(&svc, &ic, "Checkout answers 502", domain::alerting::Severity::P1).await;
    for s in [Status::Investigating, Status::Fixing, Status::Monitoring] {
        svc.incidents().change_incident_status(&ic, &inc.code, s, None, None).await.expect("step");
    }
    clock.set_ms(WED + 2 * HOUR);
    svc.incidents()
        .change_incident_status(
            &ic,
            &inc.code,
            Status::Resolved,
            None,
            Some("verified by synthetic checks".into()),
        )
        .await
        .expect("resolve");
    // An action item of the IC's that was due Tuesday.
    let item = ActionSpec {
        kind: ActionKind::Immediate,
        description: "Add a 502 alert on the checkout gateway".into(),
        owner_user_id: ic.user_id(),
        due_date: "2026-11-24".into(),
        status: ActionStatus::Todo,
    };
    svc.incidents().add_action_item(&ic, &inc.code, &item).await.expect("item");

    // Wednesday 10:00: the action item is overdue; the postmortem is 40 h away (no reminder).
    clock.set_ms(WED + 10 * HOUR);
    assert_eq!(tick(&svc).await, 1);
    assert_eq!(tick(&svc).await, 0);
    // Thursday 10:00: due in 16 h, and the item again (a new day).
    clock.set_ms(WED + 34 * HOUR);
    assert_eq!(tick(&svc).await, 2);
    // Friday 10:00: overdue by a day, and the item.
    clock.set_ms(WED + 58 * HOUR);
    assert_eq!(tick(&svc).await, 2);
    let got = texts(&feishu);
    let about =
        |needle: &str| got.iter().filter(|t| t.contains(needle)).cloned().collect::<Vec<_>>();
    assert_eq!(about("overdue action item").len(), 3, "{got:?}");
    assert!(about("overdue action item")[0].contains("for ic@example.com"), "{got:?}");
    assert!(about("overdue action item")[0]
        .contains("Add a 502 alert on the checkout gateway — due 2026-11-24"));
    let pm = about("Postmortem of");
    assert_eq!(pm.len(), 2, "{got:?}");
    assert!(
        pm[0].starts_with(&format!("[P1] Postmortem of {} due in 16 h", inc.code)),
        "{}",
        pm[0]
    );
    assert!(pm[0].contains("Owner: ic@example.com"), "{}", pm[0]);
    assert!(
        pm[1].starts_with(&format!("[P1] Postmortem of {} overdue by 1 day(s)", inc.code)),
        "{}",
        pm[1]
    );
}

#[tokio::test]
async fn a_missed_response_deadline_is_told_to_the_commander_once() {
    use domain::incident::Status;
    let (svc, clock, _email, feishu) = setup("deadline").await;
    let ic = common::signed_in(&svc, "ic@example.com", "responder").await;
    let uid = ic.user_id().expect("user");
    svc.oncall().save_contact(&ic, uid, "", "ou_ic", vec![]).await.expect("contact");
    clock.set_ms(WED + 3 * HOUR);
    let inc = declare(&svc, &ic, "Payments fail", domain::alerting::Severity::P0).await;
    // P0: respond within 30 minutes. At 29 nothing; at 31 the IC is told, once.
    clock.advance_ms(29 * 60_000);
    assert_eq!(tick(&svc).await, 0);
    clock.advance_ms(2 * 60_000);
    assert_eq!(tick(&svc).await, 1);
    for _ in 0..5 {
        clock.advance_ms(60_000);
        assert_eq!(tick(&svc).await, 0, "once");
    }
    let got = texts(&feishu);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]
            .starts_with(&format!("[P0] {} has had no response for 30m: Payments fail", inc.code)),
        "{}",
        got[0]
    );
    assert!(got[0].contains("Incident commander: ic@example.com"), "{}", got[0]);
    // Addressed to the commander: a webhook receives who it is for.
    let person = feishu.lock().expect("lock")[0]["person"].clone();
    assert_eq!(person["email"], "ic@example.com", "{person}");
    assert_eq!(person["feishu_id"], "ou_ic", "{person}");
    let detail = svc.incidents().incident_detail(&ic, &inc.code).await.expect("detail");
    let notes: Vec<&str> = detail
        .timeline
        .iter()
        .map(|e| e.body.as_str())
        .filter(|b| b.starts_with("Response deadline"))
        .collect();
    assert_eq!(
        notes,
        vec!["Response deadline (30m) passed with no response: nobody is being paged"]
    );
    // A second incident that is answered in time is not reminded.
    let answered = declare(&svc, &ic, "Search slow", domain::alerting::Severity::P2).await;
    svc.incidents()
        .change_incident_status(&ic, &answered.code, Status::Investigating, None, None)
        .await
        .expect("respond");
    clock.advance_ms(5 * HOUR);
    assert_eq!(tick(&svc).await, 0);
}

#[tokio::test]
async fn settings_turn_reminders_off_move_their_time_and_choose_the_weekly_channel() {
    use domain::alerting::routing::ScheduleSettings;
    let (svc, clock, email, feishu) = setup("schedule-settings").await;
    let ops = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let n = svc.notify();
    assert_eq!(n.schedule_settings(&viewer).await.expect("read"), ScheduleSettings::default());
    let mut s = ScheduleSettings::default();
    s.weekly.at = "08:30".into();
    s.weekly_channel = "email".into();
    s.deadlines = false;
    assert!(matches!(
        n.set_schedule_settings(&viewer, &s).await,
        Err(services::ServiceError::Forbidden(_))
    ));
    let mut bad = s.clone();
    bad.digest.at = "10am".into();
    bad.weekly_channel = "nowhere".into();
    match n.set_schedule_settings(&ops, &bad).await {
        Err(services::ServiceError::Invalid(e)) => {
            let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(fields, ["digest.at"], "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    bad.digest.at = "10:00".into();
    assert!(n.set_schedule_settings(&ops, &bad).await.is_err(), "unknown channel");
    n.set_schedule_settings(&ops, &s).await.expect("saved");
    assert_eq!(n.schedule_settings(&viewer).await.expect("read"), s);

    // Monday 08:31Z: the weekly review, to the chosen channel instead of the routed one.
    clock.set_ms(WED + 5 * 24 * HOUR + 8 * HOUR + 31 * 60_000);
    assert_eq!(tick(&svc).await, 1);
    assert!(texts(&email)[0].starts_with("Vigil weekly incident review"), "{:?}", texts(&email));
    assert!(feishu.lock().expect("lock").is_empty());
    // The response deadline is off: a P0 nobody answers is not reminded.
    let ic = common::signed_in(&svc, "ic@example.com", "responder").await;
    declare(&svc, &ic, "Payments fail", domain::alerting::Severity::P0).await;
    clock.advance_ms(HOUR);
    assert_eq!(tick(&svc).await, 0);
    // The change is in the audit log.
    let admin = Caller::system("test");
    let audit =
        svc.accounts().audit_log(&admin, Some("setting.".into()), None, 10).await.expect("audit");
    assert!(audit
        .iter()
        .any(|a| a.entry.action == "setting.update" && a.entry.target == "setting:schedule"));
}

/// A Feishu channel mentions the person a reminder is for, with their Feishu id.
#[tokio::test]
async fn a_feishu_reminder_mentions_its_person() {
    let (store, _dir) = store::testing::sqlite_store("vigil-feishu-mention").await;
    let clock = FakeClock::at(WED + 3 * HOUR);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_public_url("https://vigil.example");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let (url, got) = common::receiver().await;
    svc.notify()
        .create_channel(&admin, "feishu", "feishu", ChannelConfig::webhook(&url, ""), true)
        .await
        .expect("channel");
    let ic = common::signed_in(&svc, "ic@example.com", "responder").await;
    let uid = ic.user_id().expect("user");
    // A hostile id is refused by field; a plain one is kept.
    let bad = svc.oncall().save_contact(&ic, uid, "", "all", vec![]).await;
    assert!(
        matches!(bad, Err(services::ServiceError::Invalid(ref e)) if e.get("feishu_id").is_some())
    );
    svc.oncall().save_contact(&ic, uid, "", "ou_ic", vec![]).await.expect("contact");
    declare(&svc, &ic, "Payments fail", domain::alerting::Severity::P0).await;
    clock.advance_ms(31 * 60_000);
    assert_eq!(tick(&svc).await, 1);
    let got = got.lock().expect("lock").clone();
    let text = got[0]["content"]["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.starts_with("<at user_id=\"ou_ic\">ic@example.com</at> [P0]"), "{text}");
}
