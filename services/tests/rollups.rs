//! Rollups on both backends: `vigil rollup rebuild` reproduces exactly what incremental
//! ingestion built (whole window and partial), refuses days whose raw events expired, and
//! two replicas ingesting at once into one database lose no rollup update.
//!
//! PostgreSQL comes from `VIGIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); unreachable fails under `CI=true`.

mod common;

use common::NOW;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;
use serde_json::{json, Value};
use services::events::{day_start_ms, local_day, EventSettings};
use services::{AuthSettings, FakeClock, ServiceError, Services};
use sqlx::Row;
use std::sync::Arc;
use store::{ConnectOptions, Store};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const HOUR: i64 = 3_600_000;
const SOURCES: [&str; 3] = ["knowledge_base", "generated", "human"];
const SUBS: [&str; 3] = ["subscription_start", "subscription_renew", "subscription_cancel"];

/// A fresh database: its URL, and how to drop it.
struct TestDb {
    url: String,
    postgres: Option<store::testing::PostgresDb>,
}

async fn sqlite_db() -> TestDb {
    let dir = store::testing::temp_dir("vigil-rollups");
    TestDb { url: format!("sqlite://{}/v.db", dir.display()), postgres: None }
}

async fn postgres_db() -> Option<TestDb> {
    let db = store::testing::postgres_db("vigil_rollups").await?;
    Some(TestDb { url: db.url.clone(), postgres: Some(db) })
}

impl TestDb {
    async fn services(&self) -> Services {
        let store = Store::connect(&self.url, &ConnectOptions::default()).await.expect("connect");
        store.migrate().await.expect("migrate");
        Services::new(store, Arc::new(FakeClock::at(NOW)), AuthSettings::default())
            .with_event_settings(EventSettings { reporting_tz: TZ, ..Default::default() })
    }

    async fn drop(self) {
        if let Some(db) = self.postgres {
            db.drop_db().await;
        }
    }
}

/// Everything derived from raw events, in a comparable form.
#[derive(Debug, PartialEq)]
struct Snapshot {
    sets: Vec<(i64, String, Vec<u32>, i64)>,
    hourly: Vec<(i64, String, Value)>,
    registered: Vec<(i64, Option<i64>)>,
    subscriptions: Vec<(String, i64, i64, String, f64)>,
}

async fn snapshot(svc: &Services) -> Snapshot {
    let pool = svc.store().pool();
    let sets = sqlx::query("SELECT day, key, users, events FROM rollup_users ORDER BY day, key")
        .fetch_all(pool)
        .await
        .expect("sets")
        .iter()
        .map(|r| {
            let bytes: Vec<u8> = r.get("users");
            let users = RoaringBitmap::deserialize_from(&bytes[..]).expect("bitmap");
            (r.get("day"), r.get("key"), users.iter().collect(), r.get("events"))
        })
        .collect();
    let hourly = sqlx::query("SELECT hour, key, data FROM rollup_hourly ORDER BY hour, key")
        .fetch_all(pool)
        .await
        .expect("hourly")
        .iter()
        .map(|r| {
            let data: String = r.get("data");
            (r.get("hour"), r.get("key"), serde_json::from_str(&data).expect("json"))
        })
        .collect();
    let registered = sqlx::query("SELECT idx, registered_ms FROM event_users ORDER BY idx")
        .fetch_all(pool)
        .await
        .expect("users")
        .iter()
        .map(|r| (r.get("idx"), r.get("registered_ms")))
        .collect();
    let subscriptions = sqlx::query(
        "SELECT event_id, user_idx, ts_ms, kind, amount FROM subscription_events ORDER BY event_id",
    )
    .fetch_all(pool)
    .await
    .expect("subscriptions")
    .iter()
    .map(|r| (r.get("event_id"), r.get("user_idx"), r.get("ts_ms"), r.get("kind"), r.get("amount")))
    .collect();
    Snapshot { sets, hourly, registered, subscriptions }
}

/// ~2 500 events of 150 users over 20 days: registrations (some twice, some arriving
/// late with an earlier time), features, AI dialogs, feedback, NPS and subscriptions.
fn scenario() -> Vec<Value> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let today = local_day(NOW, TZ);
    let mut out = Vec::new();
    let names =
        ["user_login_success", "feature_use_export", "feature_open_search", "page_view_home"];
    for u in 0..150 {
        let user = format!("u{u}");
        let reg_day = today - rng.gen_range(0..20);
        let reg_ts = day_start_ms(reg_day, TZ) + rng.gen_range(0..24) * HOUR + u;
        out.push(json!({"event_id": format!("reg-{u}"), "event_name": "user_register_success",
            "user_id": user, "timestamp": reg_ts}));
        if u % 10 == 0 {
            // A repeated (later) registration: ignored by the cohort.
            out.push(
                json!({"event_id": format!("reg2-{u}"), "event_name": "user_register_success",
                "user_id": user, "timestamp": reg_ts + 2 * 86_400_000}),
            );
        }
        if u % 17 == 0 && reg_day > today - 19 {
            // An earlier registration that is ingested last: the user moves cohort.
            out.push(
                json!({"event_id": format!("late-{u}"), "event_name": "user_register_success",
                "user_id": user, "timestamp": reg_ts - 86_400_000, "late": true}),
            );
        }
        for i in 0..rng.gen_range(3..25) {
            let ts = day_start_ms(today - rng.gen_range(0..20), TZ) + rng.gen_range(0..86_000_000);
            if ts > NOW {
                continue;
            }
            let id = format!("e-{u}-{i}");
            let ev = match rng.gen_range(0..10) {
                0..=4 => json!({"event_id": id, "event_name": names[rng.gen_range(0..names.len())],
                    "user_id": user, "timestamp": ts}),
                5 | 6 => json!({"event_id": id, "event_name": "ai_dialog_end", "user_id": user,
                    "timestamp": ts, "properties": {"success": rng.gen_bool(0.9),
                    "response_ms": rng.gen_range(80..9_000),
                    "answer_source": SOURCES[rng.gen_range(0..3)]}}),
                7 => json!({"event_id": id, "event_name": "ai_dialog_feedback", "user_id": user,
                    "timestamp": ts, "properties": {"resolved": rng.gen_bool(0.7),
                    "rating": rng.gen_range(1..=5)}}),
                8 => json!({"event_id": id, "event_name": "nps_survey_submit", "user_id": user,
                    "timestamp": ts, "properties": {"score": rng.gen_range(0..=10)}}),
                _ => {
                    json!({"event_id": id, "event_name": SUBS[rng.gen_range(0..3)], "user_id": user, "timestamp": ts,
                    "properties": {"plan": "pro", "amount": 99}})
                }
            };
            out.push(ev);
        }
    }
    out.retain(|e| e["timestamp"].as_i64().is_some_and(|t| t <= NOW));
    out
}

/// Ingests the scenario in shuffled batches (late registrations last, one batch twice).
async fn ingest_scenario(svc: &Services) -> u64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (mut late, mut events): (Vec<Value>, Vec<Value>) =
        scenario().into_iter().partition(|e| e.get("late").is_some());
    events.shuffle(&mut rng);
    for l in &mut late {
        l.as_object_mut().expect("object").remove("late");
    }
    let mut accepted = 0;
    for chunk in events.chunks(300).chain(std::iter::once(&late[..])) {
        let r = common::ingest(svc, chunk).await;
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        accepted += r.accepted;
    }
    let again = common::ingest(svc, &events[..300]).await;
    assert_eq!((again.accepted, again.duplicates), (0, 300));
    accepted
}

async fn rebuild_reproduces_incremental_rollups(db: &TestDb) {
    let svc = db.services().await;
    let accepted = ingest_scenario(&svc).await;
    let incremental = snapshot(&svc).await;
    assert!(incremental.sets.len() > 100 && incremental.hourly.len() > 100);
    assert!(incremental.sets.iter().any(|(_, k, _, _)| k == "registered"));

    // Whole window: every event replayed, same rows.
    let report = svc.events().rebuild_rollups(None, "test", |_| {}).await.expect("rebuild");
    assert_eq!(report.events, accepted);
    assert_eq!(report.from_day, local_day(NOW, TZ) - 29);
    assert_eq!(snapshot(&svc).await, incremental);

    // Lost rollups (and registrations): rebuilt from raw events.
    let pool = svc.store().pool();
    for sql in [
        "DELETE FROM rollup_users",
        "DELETE FROM rollup_hourly",
        "DELETE FROM subscription_events",
        "UPDATE event_users SET registered_ms = NULL",
    ] {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
    assert_ne!(snapshot(&svc).await, incremental);
    svc.events().rebuild_rollups(None, "test", |_| {}).await.expect("rebuild after loss");
    assert_eq!(snapshot(&svc).await, incremental);

    // A partial rebuild keeps earlier days and registrations (including cohorts moved by
    // late events across the boundary).
    let from = local_day(NOW, TZ) - 6;
    let mut seen = Vec::new();
    let partial =
        svc.events().rebuild_rollups(Some(from), "test", |n| seen.push(n)).await.expect("partial");
    assert!(partial.events > 0 && partial.events < accepted);
    assert_eq!(seen.last(), Some(&partial.events), "progress reaches the total");
    assert_eq!(snapshot(&svc).await, incremental);

    // Every rebuild is in the audit log.
    let audit = svc
        .store()
        .audit_entries(&store::AuditQuery { limit: 10, ..Default::default() })
        .await
        .expect("audit");
    assert_eq!(audit.iter().filter(|e| e.action == "rollups.rebuild").count(), 3);

    // Days whose raw events may be gone are refused, naming the field.
    match svc.events().rebuild_rollups(Some(local_day(NOW, TZ) - 40), "test", |_| {}).await {
        Err(ServiceError::Invalid(errs)) => {
            assert!(errs.to_string().contains("from"), "{errs}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    svc.store().close().await;
}

/// Two `Services` on separate pools (two replicas) ingest overlapping days and hours at
/// the same time; every user and every AI dialog must be in the rollups.
async fn concurrent_replicas_lose_no_rollup_update(db: &TestDb) {
    let a = db.services().await;
    let b = db.services().await;
    let day_start = day_start_ms(local_day(NOW, TZ), TZ);
    let batches = |tag: &'static str| -> Vec<Vec<u8>> {
        (0..25)
            .map(|i| {
                let batch: Vec<Value> = (0..40)
                    .map(|j| {
                        json!({"event_id": format!("{tag}-{i}-{j}"), "event_name": "ai_dialog_end",
                            "user_id": format!("{tag}-user-{i}-{j}"), "timestamp": day_start + HOUR + j,
                            "properties": {"success": true, "response_ms": 100, "answer_source": "generated"}})
                    })
                    .collect();
                serde_json::to_vec(&batch).expect("json")
            })
            .collect()
    };
    let run = |svc: Services, bodies: Vec<Vec<u8>>| {
        tokio::spawn(async move {
            for body in bodies {
                let r = svc
                    .events()
                    .ingest_events(&services::Caller::system("test"), &body, false)
                    .await
                    .expect("ingest");
                assert_eq!(r.accepted, 40);
            }
        })
    };
    let (ra, rb) = tokio::join!(run(a.clone(), batches("a")), run(b.clone(), batches("b")));
    ra.expect("replica a");
    rb.expect("replica b");
    let today = local_day(NOW, TZ);
    assert_eq!(a.events().dau_series(today, today).await.expect("dau"), vec![(today, 2_000)]);
    let snap = snapshot(&b).await;
    let ai: Vec<&Value> =
        snap.hourly.iter().filter(|(_, k, _)| k == "ai").map(|(_, _, v)| v).collect();
    assert_eq!(ai.len(), 1, "one hour of AI dialogs");
    assert_eq!(ai[0]["counts"]["ended"], json!(2_000), "{}", ai[0]);
    assert_eq!(ai[0]["response_ms"]["count"], json!(2_000));
    let active_events = snap.sets.iter().find(|(_, k, _, _)| k == "active").map(|s| s.3);
    assert_eq!(active_events, Some(2_000));
    a.store().close().await;
    b.store().close().await;
}

#[tokio::test]
async fn sqlite_rebuild_reproduces_incremental_rollups() {
    let db = sqlite_db().await;
    rebuild_reproduces_incremental_rollups(&db).await;
    db.drop().await;
}

#[tokio::test]
async fn postgres_rebuild_reproduces_incremental_rollups() {
    if let Some(db) = postgres_db().await {
        rebuild_reproduces_incremental_rollups(&db).await;
        db.drop().await;
    }
}

#[tokio::test]
async fn sqlite_concurrent_replicas_lose_no_rollup_update() {
    let db = sqlite_db().await;
    concurrent_replicas_lose_no_rollup_update(&db).await;
    db.drop().await;
}

#[tokio::test]
async fn postgres_concurrent_replicas_lose_no_rollup_update() {
    if let Some(db) = postgres_db().await {
        concurrent_replicas_lose_no_rollup_update(&db).await;
        db.drop().await;
    }
}

/// The funnel by brute force: each user's events (step-1 events in `[from_ms, end_ms)`,
/// the others until `end_ms + window_ms`), sorted by (time, step order).
fn brute_funnel(
    events: &[(u32, &'static str, i64)],
    steps: &[&str],
    from_ms: i64,
    end_ms: i64,
    window_ms: i64,
) -> Vec<u64> {
    let mut names: Vec<&str> = Vec::new();
    for s in steps {
        if !names.contains(s) {
            names.push(s);
        }
    }
    let ids: Vec<u8> =
        steps.iter().map(|s| names.iter().position(|n| n == s).expect("name") as u8).collect();
    let mut by_user: std::collections::BTreeMap<u32, Vec<(i64, u8)>> = Default::default();
    for (user, name, ts) in events {
        let Some(id) = names.iter().position(|n| n == name) else { continue };
        let id = id as u8;
        let end = if id == ids[0] { end_ms } else { end_ms + window_ms };
        if *ts >= from_ms && *ts < end {
            by_user.entry(*user).or_default().push((*ts, id));
        }
    }
    let depths = by_user.into_values().map(|mut e| {
        e.sort_unstable();
        domain::kpi::funnel::depth_reached(&e, &ids, window_ms)
    });
    let steps: Vec<String> = steps.iter().map(|s| (*s).to_owned()).collect();
    domain::kpi::funnel::funnel(&steps, depths).steps.iter().map(|s| s.users).collect()
}

/// Funnels through the slice cache on both backends: after the start-up warm-up no query
/// loads a slice, and the answers are the brute-force ones, also after more events arrive.
async fn funnels_match_a_brute_force_count(db: &TestDb) {
    let svc = db.services().await;
    let today = local_day(NOW, TZ);
    let names =
        ["user_login_success", "page_view_home", "feature_use_export", "feature_open_search"];
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let mut all: Vec<(u32, &'static str, i64)> = Vec::new();
    let funnels: [&[&str]; 3] = [
        &names,
        &["page_view_home", "page_view_home", "feature_use_export"],
        &["feature_open_search", "user_login_success"],
    ];
    for round in 0..2 {
        let mut batch = Vec::new();
        for s in 0..400 {
            let user = rng.gen_range(0..40u32);
            let mut ts =
                day_start_ms(today - rng.gen_range(0..10), TZ) + rng.gen_range(0..20 * HOUR);
            for i in 0..rng.gen_range(1..6) {
                let name = names[rng.gen_range(0..names.len())];
                if ts > NOW {
                    break;
                }
                batch.push(json!({"event_id": format!("f{round}-{s}-{i}"), "event_name": name,
                    "user_id": format!("u{user}"), "timestamp": ts}));
                ts += rng.gen_range(0..3 * HOUR);
            }
        }
        let report = common::ingest(&svc, &batch).await;
        assert_eq!(report.accepted as usize, batch.len(), "{:?}", report.rejected);
        // User indexes are given in order of first sight; the brute force only needs them
        // distinct, so it keys by the user id's number.
        for e in &batch {
            let user: u32 = e["user_id"].as_str().expect("user")[1..].parse().expect("n");
            let name = names.iter().find(|n| **n == e["event_name"]).expect("name");
            all.push((user, name, e["timestamp"].as_i64().expect("ts")));
        }
        if round == 0 {
            let (slices, events) = svc.kpis().warm_funnel_cache().await.expect("warm-up");
            assert_eq!(events, all.len(), "every event of the last 10 days is warm");
            assert!(slices >= names.len(), "{slices} slices");
        }
        for steps in funnels {
            let steps_owned: Vec<String> = steps.iter().map(|s| (*s).to_owned()).collect();
            for (from, window_ms) in
                [(today - 9, 86_400_000), (today - 2, HOUR), (today, 2 * 86_400_000)]
            {
                let got = svc
                    .kpis()
                    .funnel(
                        &services::Caller::system("test"),
                        services::kpi::DayRange { from, to: today },
                        &steps_owned,
                        window_ms,
                    )
                    .await
                    .expect("funnel");
                let want = brute_funnel(
                    &all,
                    steps,
                    day_start_ms(from, TZ),
                    day_start_ms(today + 1, TZ),
                    window_ms,
                );
                assert_eq!(
                    got.steps.iter().map(|s| s.users).collect::<Vec<_>>(),
                    want,
                    "round {round}, {steps:?} from day {from}, window {window_ms} ms"
                );
                assert!(want[0] > 0, "the scenario has starts");
            }
        }
        if round == 0 {
            assert_eq!(svc.kpis().funnel_cache_stats().1, 0, "after the warm-up, no slice loaded");
        }
    }
    svc.close().await;
}

#[tokio::test]
async fn sqlite_funnels_match_a_brute_force_count() {
    let db = sqlite_db().await;
    funnels_match_a_brute_force_count(&db).await;
    db.drop().await;
}

#[tokio::test]
async fn postgres_funnels_match_a_brute_force_count() {
    if let Some(db) = postgres_db().await {
        funnels_match_a_brute_force_count(&db).await;
        db.drop().await;
    }
}
