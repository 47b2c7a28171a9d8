//! Notification scenarios with a fake clock and a real local HTTP receiver in Feishu's
//! format: a rule fires after `for`, the card arrives once, repeats per the severity's
//! repeat interval, stops while silenced, the resolved card is sent; with the receiver
//! down for 10 minutes every message is still delivered exactly once after it comes back.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use domain::alerting::{CompareOp, KpiMetric, RuleSpec, Severity};
use serde_json::{json, Value};
use services::notify::channels::{feishu_sign, ChannelConfig};
use services::notify::policy::Policy;
use services::{AuthSettings, Caller, FakeClock, Services};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const NOW: i64 = 1_795_599_312_000;
const MIN: i64 = 60_000;
const SECRET: &str = "feishu-secret";

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    down: Arc<AtomicBool>,
    bad_signatures: Arc<Mutex<usize>>,
}

async fn hook(
    State(r): State<Receiver>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if r.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"msg": "down"})));
    }
    // Check the signature as Feishu does.
    let ts: i64 = body["timestamp"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    if body["sign"].as_str() != Some(feishu_sign(ts, SECRET).as_str()) {
        *r.bad_signatures.lock().expect("lock") += 1;
        return (StatusCode::OK, Json(json!({"code": 19021, "msg": "sign match fail"})));
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    r.got.lock().expect("lock").push((key, body));
    (StatusCode::OK, Json(json!({"code": 0, "msg": "success"})))
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = Router::new().route("/hook", post(hook)).with_state(r.clone());
    let addr = common::serve(app).await;
    (r, format!("http://{addr}/hook"))
}

async fn dialogs(svc: &Services, tag: &str, ts: i64, n: usize, ok: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"event_id": format!("{tag}-{i}"), "event_name": "ai_dialog_end", "user_id": "u",
            "timestamp": ts, "properties": {"dialog_id": format!("{tag}-{i}"), "success": i < ok,
            "response_ms": 500, "answer_source": "generated"}})
        })
        .collect();
    common::ingest(svc, &events).await;
}

struct World {
    svc: Services,
    clock: FakeClock,
    ops: Caller,
    rx: Receiver,
}

async fn world() -> World {
    let (store, _dir) = store::testing::sqlite_store("vigil-notify").await;
    let clock = FakeClock::at(NOW);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_public_url("https://vigil.example");
    let admin = common::signed_in(&svc, "admin@example.com", "admin").await;
    let ops = common::signed_in(&svc, "ops@example.com", "editor").await;
    let (rx, url) = receiver().await;
    svc.notify()
        .create_channel(
            &admin,
            "feishu-oncall",
            "feishu",
            ChannelConfig::webhook(&url, SECRET),
            true,
        )
        .await
        .expect("channel");
    // Send at once, regroup every minute; P1 repeats every 5 min (the default).
    let mut p = Policy::default();
    p.route.group_wait_ms = Some(0);
    p.route.group_interval_ms = Some(MIN);
    svc.notify().set_notification_policy(&ops, &p, 0).await.expect("policy");
    dialogs(&svc, "bad", NOW - 5 * MIN, 10, 7).await; // success 0.7
    let mut spec = RuleSpec::kpi_threshold(
        "AI success low",
        Severity::P1,
        KpiMetric::AiSuccessRate,
        CompareOp::Lt,
        0.9,
    );
    spec.for_ms = 2 * MIN;
    spec.runbook_url = "https://wiki.example/ai".into();
    spec.summary = "success {{ $value }}".into();
    svc.alerting().create_rule(&ops, spec).await.expect("rule");
    World { svc, clock, ops, rx }
}

impl World {
    /// One engine tick: evaluate, dispatch, deliver; then a minute passes.
    async fn minute(&self) {
        self.svc.alerting().evaluate_due_rules().await.expect("evaluate");
        self.svc.notify().dispatch_notifications().await.expect("dispatch");
        self.svc.notify().deliver_notifications().await.expect("deliver");
        self.clock.advance_ms(MIN);
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.rx.got.lock().expect("lock").clone()
    }

    fn titles(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|(_, b)| b["card"]["header"]["title"]["content"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

#[tokio::test]
async fn fires_once_repeats_stops_while_silenced_and_resolves() {
    let w = world().await;
    // Minutes 0, 1: pending; 2: firing → card.
    for _ in 0..3 {
        w.minute().await;
    }
    let got = w.received();
    assert_eq!(got.len(), 1, "{:?}", w.titles());
    let card = &got[0].1;
    assert_eq!(card["msg_type"], "interactive");
    assert_eq!(card["card"]["header"]["template"], "orange", "P1 is orange");
    assert_eq!(card["card"]["header"]["title"]["content"], "[P1] FIRING: AI success low");
    let text = card["card"]["elements"][0]["text"]["content"].as_str().expect("text");
    for part in [
        "success 0.7",
        "70.0%",
        "< 90.0%",
        "https://wiki.example/ai",
        "https://vigil.example/alerts/rules/",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert!(!got[0].0.is_empty(), "idempotency key header");

    // Minutes 3..=6: nothing new; minute 7 = 5 min after the first: a repeat.
    for _ in 3..8 {
        w.minute().await;
    }
    assert_eq!(w.received().len(), 2, "one repeat after 5 min: {:?}", w.titles());

    // Silence it for 10 minutes from minute 8: nothing is sent meanwhile.
    let now = w.svc.now_ms();
    w.svc
        .notify()
        .create_silence(
            &w.ops,
            "alertname=\"AI success low\"",
            now,
            now + 10 * MIN,
            "known issue, fix deploying",
        )
        .await
        .expect("silence");
    for _ in 8..18 {
        w.minute().await;
    }
    assert_eq!(w.received().len(), 2, "silenced: {:?}", w.titles());
    let silences = w.svc.notify().list_silences(&w.ops).await.expect("silences");
    assert_eq!(silences[0].created_by, "ops@example.com");
    assert_eq!(silences[0].comment, "known issue, fix deploying");

    // Silence over (minute 18): firing again, sent as new.
    w.minute().await;
    assert_eq!(w.received().len(), 3, "{:?}", w.titles());

    // Fixed: 100 successful dialogs → 107/110 ≥ 0.9 → resolved card (green).
    dialogs(&w.svc, "good", w.svc.now_ms() - MIN, 100, 100).await;
    w.minute().await;
    w.minute().await;
    let titles = w.titles();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert_eq!(titles[3], "[P1] RESOLVED: AI success low");
    assert_eq!(w.received()[3].1["card"]["header"]["template"], "green");
    // Nothing more once resolved.
    for _ in 0..10 {
        w.minute().await;
    }
    assert_eq!(w.received().len(), 4);
    assert_eq!(*w.rx.bad_signatures.lock().expect("lock"), 0);
    // Each message had its own key; the log shows them sent.
    let keys: std::collections::BTreeSet<String> =
        w.received().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 4);
    let log = w.svc.notify().delivery_log(&w.ops, None).await.expect("log");
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|d| d.status == "sent" && d.attempts == 1));
}

#[tokio::test]
async fn receiver_down_for_ten_minutes_then_every_message_arrives_once() {
    let w = world().await;
    w.rx.down.store(true, Ordering::SeqCst);
    // Firing at minute 2, repeats at 7 and 12 (P1, 5 min) — all while the receiver is down.
    for _ in 0..13 {
        w.minute().await;
    }
    assert!(w.received().is_empty());
    let log = w.svc.notify().delivery_log(&w.ops, None).await.expect("log");
    assert_eq!(log.len(), 3, "three messages queued");
    assert!(log.iter().all(|d| d.status == "pending" && d.attempts >= 1));
    assert!(log.iter().any(|d| d.last_error.as_deref().is_some_and(|e| e.contains("503"))));

    // Up again: retries (30 s, 1 min, 2 min, … at most 10 min apart) deliver everything.
    w.rx.down.store(false, Ordering::SeqCst);
    for _ in 0..12 {
        w.minute().await;
    }
    let got = w.received();
    let keys: std::collections::BTreeSet<&String> = got.iter().map(|(k, _)| k).collect();
    let log = w.svc.notify().delivery_log(&w.ops, None).await.expect("log");
    let sent = log.iter().filter(|d| d.status == "sent").count();
    assert_eq!(got.len(), keys.len(), "no message twice");
    assert_eq!(sent, log.len(), "every queued message sent: {log:#?}");
    assert!(got.len() >= 3);
    assert_eq!(
        *w.rx.bad_signatures.lock().expect("lock"),
        0,
        "signed at send time, not when queued"
    );
}

#[tokio::test]
async fn channel_and_silence_inputs_are_checked_by_role_and_field() {
    let w = world().await;
    let err = w
        .svc
        .notify()
        .create_channel(&w.ops, "x", "slack", ChannelConfig::webhook("https://h", ""), true)
        .await
        .expect_err("editor cannot add channels");
    assert!(matches!(err, services::ServiceError::Forbidden(domain::Permission::ManageChannels)));
    let now = w.svc.now_ms();
    match w.svc.notify().create_silence(&w.ops, "alertname=~\"(\"", now, now - 1, " ").await {
        Err(services::ServiceError::Invalid(f)) => {
            for field in ["matchers", "ends_at", "comment"] {
                assert!(f.get(field).is_some(), "{field}: {f}");
            }
        }
        other => panic!("{other:?}"),
    }
    // The test button sends straight away.
    let ch = w.svc.notify().list_channels(&w.ops).await.expect("channels");
    assert!(ch[0].signed);
    w.svc.notify().test_channel(&w.ops, ch[0].id).await.expect("test message");
    assert_eq!(w.titles(), vec!["[P3] FIRING: Vigil test notification".to_owned()]);
    w.rx.down.store(true, Ordering::SeqCst);
    match w.svc.notify().test_channel(&w.ops, ch[0].id).await {
        Err(services::ServiceError::Invalid(f)) => {
            assert!(f.get("channel").unwrap_or("").contains("503"))
        }
        other => panic!("{other:?}"),
    }
}
