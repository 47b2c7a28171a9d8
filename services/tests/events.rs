//! Ingestion scenarios on a real SQLite store: validation naming fields, idempotency,
//! limits, and rollups that DAU/retention read.

mod common;

use common::NOW;
use serde_json::json;
use services::{ServiceError, Services};

const DAY: i64 = 86_400_000;

async fn setup(tz: chrono_tz::Tz) -> Services {
    common::services_at("ev", tz).await
}

fn ev(id: &str, name: &str, user: &str, ts: i64) -> serde_json::Value {
    json!({"event_id": id, "event_name": name, "user_id": user, "timestamp": ts, "platform": "web"})
}

fn body(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

#[tokio::test]
async fn bad_events_are_rejected_by_field_and_the_rest_is_kept() {
    let svc = setup(chrono_tz::Tz::UTC).await;
    let mut big = serde_json::Map::new();
    big.insert("blob".into(), json!("x".repeat(9 * 1024)));
    let batch = json!([
        ev("ok-1", "user_login_success", "u1", NOW - 1000),
        {"event_id": "big", "event_name": "user_login_success", "user_id": "u2", "timestamp": NOW, "properties": big},
        ev("future", "user_login_success", "u3", NOW + 6 * 60 * 1000),
        ev("badname", "Login", "u4", NOW),
        {"event_id": "nouser", "event_name": "user_login_success", "timestamp": NOW},
        {"event_id": "strts", "event_name": "user_login_success", "user_id": "u5", "timestamp": "yesterday"},
        {"event_id": "plat", "event_name": "user_login_success", "user_id": "u6", "timestamp": NOW, "platform": "ios"},
        {"event_id": "nps", "event_name": "nps_survey_submit", "user_id": "u7", "timestamp": NOW, "properties": {"score": 11}},
        ev("old", "user_login_success", "u8", NOW - 31 * DAY),
        ev("ok-2", "user_login_success", "u9", NOW - 2000),
    ]);
    let r = svc
        .events()
        .ingest_events(&services::Caller::system("test"), &body(&batch), false)
        .await
        .expect("ingest");
    assert_eq!((r.accepted, r.duplicates), (2, 0));
    let errors: Vec<(usize, &str)> =
        r.rejected.iter().map(|x| (x.index, x.error.as_str())).collect();
    let field_of = |i: usize| {
        errors
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, e)| e.split(':').next().unwrap_or_default())
            .unwrap_or_default()
    };
    assert_eq!(field_of(1), "properties");
    assert_eq!(field_of(2), "timestamp");
    assert_eq!(field_of(3), "event_name");
    assert_eq!(field_of(4), "user_id");
    assert_eq!(field_of(5), "timestamp");
    assert_eq!(field_of(6), "platform");
    assert_eq!(field_of(7), "properties.score");
    assert_eq!(field_of(8), "timestamp");
    assert_eq!(r.rejected.len(), 8);
    assert_eq!(r.rejected[0].event_id.as_deref(), Some("big"));
    assert_eq!(
        svc.store().count_events().await.expect("count"),
        2,
        "valid events stored, invalid ones not"
    );
}

#[tokio::test]
async fn duplicates_are_acknowledged_and_never_counted_twice() {
    let svc = setup(chrono_tz::Tz::UTC).await;
    let batch = json!([
        ev("e1", "user_login_success", "u1", NOW),
        ev("e1", "user_login_success", "u1", NOW)
    ]);
    let r = svc
        .events()
        .ingest_events(&services::Caller::system("test"), &body(&batch), false)
        .await
        .expect("first");
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    let r = svc
        .events()
        .ingest_events(
            &services::Caller::system("test"),
            &body(&json!([ev("e1", "user_login_success", "u1", NOW)])),
            false,
        )
        .await
        .expect("again");
    assert_eq!((r.accepted, r.duplicates), (0, 1));
    let today = services::events::local_day(NOW, chrono_tz::Tz::UTC);
    let sets = svc.events().day_sets("event:user_login_success", today, today).await.expect("sets");
    assert_eq!(svc.store().day_users("active", today, today).await.expect("rollup")[0].events, 1);
    assert_eq!(sets[&today].len(), 1);
}

#[tokio::test]
async fn limits_and_malformed_bodies_fail_the_whole_request_and_store_nothing() {
    let svc = setup(chrono_tz::Tz::UTC).await;
    let many: Vec<_> =
        (0..10_001).map(|i| ev(&format!("e{i}"), "user_login_success", "u", NOW)).collect();
    assert!(matches!(
        svc.events()
            .ingest_events(&services::Caller::system("test"), &body(&json!(many)), false)
            .await,
        Err(ServiceError::TooLarge(_))
    ));
    let err = svc
        .events()
        .ingest_events(&services::Caller::system("test"), b"[{\"event_id\": \"a\"", false)
        .await
        .expect_err("truncated");
    assert!(matches!(&err, ServiceError::Malformed(m) if m.contains("line 1")), "{err:?}");
    assert_eq!(svc.store().count_events().await.expect("count"), 0);
}

#[tokio::test]
async fn ndjson_and_rollups_feed_dau_and_retention() {
    let tz = chrono_tz::Asia::Shanghai;
    let svc = setup(tz).await;
    let today = services::events::local_day(NOW, tz);
    let d0 = services::events::day_start_ms(today - 7, tz);
    // Day -7: u1, u2, u3 register. Day -6: u1, u2 active. Day 0: u1 active.
    let lines = [
        ev("r1", "user_register_success", "u1", d0 + 1_000),
        ev("r2", "user_register_success", "u2", d0 + 2_000),
        ev("r3", "user_register_success", "u3", d0 + 3_000),
        ev("a1", "feature_use_export", "u1", d0 + DAY + 1_000),
        ev("a2", "user_login_success", "u2", d0 + DAY + 2_000),
        ev("a3", "user_login_success", "u1", d0 + 7 * DAY + 5_000),
        // A second registration does not change the cohort.
        ev("r1b", "user_register_success", "u1", d0 + DAY + 9_000),
    ];
    let nd: Vec<u8> = lines
        .iter()
        .flat_map(|l| {
            let mut v = serde_json::to_vec(l).expect("json");
            v.push(b'\n');
            v
        })
        .collect();
    let r = svc
        .events()
        .ingest_events(&services::Caller::system("test"), &nd, true)
        .await
        .expect("ndjson");
    assert_eq!(r.accepted, 7, "{:?}", r.rejected);

    let dau = svc.events().dau_series(today - 7, today).await.expect("dau");
    assert_eq!(dau[0], (today - 7, 3));
    assert_eq!(dau[1], (today - 6, 2));
    assert_eq!(dau[7], (today, 1));
    let cohorts = svc.events().day_sets("registered", today - 7, today).await.expect("cohorts");
    let active = svc.events().day_sets("active", today - 7, today).await.expect("active");
    assert_eq!(cohorts[&(today - 7)].len(), 3);
    assert!(
        !cohorts.contains_key(&(today - 6)) || cohorts[&(today - 6)].is_empty(),
        "re-registration ignored"
    );
    use domain::kpi::activity::retention;
    assert_eq!(retention(&cohorts, &active, today - 7, 1, today), Some(2.0 / 3.0));
    assert_eq!(retention(&cohorts, &active, today - 7, 7, today), Some(1.0 / 3.0));
    let feature = svc.events().day_sets("feature:export", today - 7, today).await.expect("feature");
    assert_eq!(domain::kpi::activity::penetration(&feature, &active, today - 6), Some(0.5));
}

#[tokio::test]
async fn a_late_earlier_registration_moves_the_cohort() {
    let tz = chrono_tz::Tz::UTC;
    let svc = setup(tz).await;
    let today = services::events::local_day(NOW, tz);
    let d = services::events::day_start_ms(today - 3, tz);
    svc.events()
        .ingest_events(
            &services::Caller::system("test"),
            &body(&json!([ev("late", "user_register_success", "u1", d + 2 * DAY)])),
            false,
        )
        .await
        .expect("1");
    svc.events()
        .ingest_events(
            &services::Caller::system("test"),
            &body(&json!([ev("early", "user_register_success", "u1", d)])),
            false,
        )
        .await
        .expect("2");
    let cohorts = svc.events().day_sets("registered", today - 3, today).await.expect("cohorts");
    assert_eq!(cohorts.get(&(today - 3)).map(|b| b.len()), Some(1));
    assert_eq!(cohorts.get(&(today - 1)).map(|b| b.len()), Some(0));
}

#[tokio::test]
async fn ai_feedback_nps_and_subscriptions_are_rolled_up() {
    let svc = setup(chrono_tz::Tz::UTC).await;
    let batch = json!([
        {"event_id": "d1", "event_name": "ai_dialog_end", "user_id": "u1", "timestamp": NOW, "properties": {"dialog_id": "x", "success": true, "response_ms": 120, "answer_source": "knowledge_base"}},
        {"event_id": "d2", "event_name": "ai_dialog_end", "user_id": "u2", "timestamp": NOW, "properties": {"dialog_id": "y", "success": false, "response_ms": 900, "answer_source": "human"}},
        {"event_id": "f1", "event_name": "ai_dialog_feedback", "user_id": "u1", "timestamp": NOW, "properties": {"dialog_id": "x", "resolved": true, "rating": 5}},
        {"event_id": "n1", "event_name": "nps_survey_submit", "user_id": "u1", "timestamp": NOW, "properties": {"score": 10}},
        {"event_id": "s1", "event_name": "subscription_start", "user_id": "u1", "timestamp": NOW, "properties": {"plan": "pro", "amount": 99.0, "currency": "CNY", "period": "month"}},
        {"event_id": "bad", "event_name": "ai_dialog_end", "user_id": "u3", "timestamp": NOW, "properties": {"success": "yes", "response_ms": 1, "answer_source": "generated"}},
    ]);
    let r = svc
        .events()
        .ingest_events(&services::Caller::system("test"), &body(&batch), false)
        .await
        .expect("ingest");
    assert_eq!(r.accepted, 5, "{:?}", r.rejected);
    assert_eq!(r.rejected[0].error, "properties.success: must be true or false");
    let hour = NOW / 3_600_000;
    let ai = svc.store().hourly("ai", hour, hour).await.expect("ai");
    let ai: services::events::AiHour = serde_json::from_str(&ai[0].1).expect("json");
    assert_eq!(ai.counts.success_rate(), Some(0.5));
    assert_eq!(ai.counts.transfer_to_human(), Some(0.5));
    assert_eq!(ai.response_ms.count(), 2);
    let subs = svc.store().subscription_events(NOW + 1).await.expect("subs");
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].amount, 99.0);
}

#[tokio::test]
async fn ingestion_health_counts_by_key_hour_and_reason() {
    let svc = common::services_at("ingest-health", chrono_tz::UTC).await;
    let admin = services::Caller::system("test");
    let key = svc.accounts().create_api_key(&admin, "checkout-svc", "ingest").await.expect("key");
    let caller = services::Caller::api_key(
        key.key.id,
        "checkout-svc",
        domain::ApiScope::Ingest,
        "127.0.0.1",
    );
    let ev = |id: &str, name: &str| serde_json::json!({"event_id": id, "event_name": name, "user_id": "u", "timestamp": NOW - 1000});
    let batch = serde_json::json!([
        ev("h1", "user_login_success"),
        ev("h2", "user_login_success"),
        ev("h1", "user_login_success"),
        ev("h3", "Login"),
        {"event_id": "h4", "event_name": "user_login_success", "user_id": "u"},
        {"event_id": "h5", "event_name": "user_login_success", "user_id": "u", "timestamp": NOW + 3_600_000},
    ]);
    let body = serde_json::to_vec(&batch).expect("json");
    let r = svc.events().ingest_events(&caller, &body, false).await.expect("ingest");
    assert_eq!((r.accepted, r.duplicates, r.rejected.len()), (2, 1, 3));
    // A batch with nothing valid is counted too.
    let body = serde_json::to_vec(&serde_json::json!([ev("h6", "Bad")])).expect("json");
    svc.events().ingest_events(&caller, &body, false).await.expect("ingest");

    let h = svc.events().ingestion_health(&admin, 24).await.expect("health");
    assert_eq!(h.last_event_ms, Some(NOW), "when it arrived, not the event's own time");
    assert_eq!(h.by_key.len(), 1);
    let (name, c) = &h.by_key[0];
    assert_eq!(name, "checkout-svc");
    assert_eq!((c.accepted, c.duplicates, c.rejected), (2, 1, 4));
    assert_eq!(h.by_hour.len(), 1);
    assert_eq!(h.by_hour[0].0, NOW / 3_600_000 * 3_600_000);
    let reasons: Vec<(&str, i64)> = h.rejected.iter().map(|(r, _, n)| (r.as_str(), *n)).collect();
    assert_eq!(reasons, [("event_name", 2), ("timestamp", 2)]);
    // A viewer may read it; nobody signed in may not.
    assert!(svc
        .events()
        .ingestion_health(&services::Caller::anonymous("1.2.3.4"), 24)
        .await
        .is_err());
}
