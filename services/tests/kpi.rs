//! KPI queries on a small hand-made data set; every expected number is computed by hand in
//! the comments.

mod common;

use serde_json::{json, Value};
use services::events::{day_start_ms, local_day};
use services::kpi::DayRange;
use services::Services;

const H: i64 = 3_600_000;

async fn setup() -> (Services, i32) {
    let svc = common::services_at("kpi", chrono_tz::Asia::Shanghai).await;
    (svc, local_day(common::NOW, chrono_tz::Asia::Shanghai))
}

struct Batch(Vec<Value>, i32);

impl Batch {
    /// An event on day `today + offset`, `hour` hours after local midnight.
    fn add(&mut self, day_offset: i32, hour: i64, name: &str, user: &str, props: Value) {
        let ts = day_start_ms(self.1 + day_offset, chrono_tz::Asia::Shanghai) + hour * H;
        let id = format!("e{}", self.0.len());
        self.0.push(json!({"event_id": id, "event_name": name, "user_id": user, "timestamp": ts, "properties": props}));
    }
}

#[tokio::test]
async fn user_behaviour_by_hand() {
    let (svc, today) = setup().await;
    let mut b = Batch(Vec::new(), today);
    let none = json!({});
    // Previous period = days -5..=-3, current = days -2..=0.
    // Day -5: a registers. Day -2: b, c register; a active. Day -1: b active, uses export.
    // Day 0: a, b, c active; a uses export.
    b.add(-5, 9, "user_register_success", "a", none.clone());
    b.add(-2, 9, "user_register_success", "b", none.clone());
    b.add(-2, 10, "user_register_success", "c", none.clone());
    b.add(-2, 11, "user_login_success", "a", none.clone());
    b.add(-1, 9, "feature_use_export", "b", none.clone());
    b.add(0, 1, "user_login_success", "a", none.clone());
    b.add(0, 2, "user_login_success", "b", none.clone());
    b.add(0, 3, "feature_use_export", "a", none.clone());
    b.add(0, 4, "user_login_success", "c", none.clone());
    let r = common::ingest(&svc, &b.0).await;
    assert_eq!(r.accepted, 9, "{:?}", r.rejected);

    let range = DayRange { from: today - 2, to: today };
    let u = svc
        .kpis()
        .user_behaviour(
            &services::Caller::system("test"),
            range,
            domain::kpi::calendar::Granularity::Day,
        )
        .await
        .expect("kpis");
    let card = |k: &str| u.cards.iter().find(|c| c.key == k).cloned().expect(k);
    // Registrations: current b, c = 2; previous a = 1 → +100 %.
    assert_eq!(card("registrations").value, Some(2.0));
    assert_eq!(card("registrations").previous, Some(1.0));
    assert_eq!(card("registrations").change_pct, Some(100.0));
    // DAU: day -2 {a,b,c}=3, day -1 {b}=1, day 0 {a,b,c}=3 → avg 7/3. Previous: day -5 {a} → 1/3.
    assert!((card("dau_avg").value.expect("dau") - 7.0 / 3.0).abs() < 1e-9);
    assert!((card("dau_avg").previous.expect("prev") - 1.0 / 3.0).abs() < 1e-9);
    // WAU and MAU at day 0: {a,b,c} = 3; stickiness 3/3.
    assert_eq!(card("wau").value, Some(3.0));
    assert_eq!(card("mau").value, Some(3.0));
    assert_eq!(card("stickiness").value, Some(1.0));
    // D1: cohort day -2 {b,c}, active day -1 {b} → 1/2; cohort day -1, 0: none. Previous:
    // cohort day -5 {a}, day -4 active {} → 0.
    assert_eq!(card("retention_d1").value, Some(0.5));
    assert_eq!(card("retention_d1").previous, Some(0.0));
    // D7 not reached for any current cohort.
    assert_eq!(card("retention_d7").value, None);
    // Series and cohort table.
    assert_eq!(
        u.activity[0].points,
        vec![(today - 2, Some(3.0)), (today - 1, Some(1.0)), (today, Some(3.0))]
    );
    assert_eq!(u.registrations, vec![(today - 2, 2), (today - 1, 0), (today, 0)]);
    let row = u.cohorts.iter().find(|c| c.day == today - 2).expect("cohort row");
    assert_eq!(row.size, 2);
    assert_eq!(row.rates[0], Some(0.5), "D1");
    assert_eq!(row.rates[1], Some(1.0), "D2: b and c active on day 0");
    assert_eq!(row.rates[2], None, "D3 not reached");
    // Feature export: users {a,b} of 3 active in range; first use day -1: users of the feature
    // in days -1..=5 are {b (day -1), a (day 0)}, active in those days {a,b,c} → 2/3.
    let f = &u.features[0];
    assert_eq!((f.feature.as_str(), f.users, f.events), ("export", 2, 2));
    assert!((f.penetration.expect("pen") - 2.0 / 3.0).abs() < 1e-9);
    assert!((f.new_feature_penetration.expect("new") - 2.0 / 3.0).abs() < 1e-9);

    // Funnel register → login within 1 day: b (day -2 09:00 → no login), c (no login that
    // day; day 0 is > 1 day later), a registered before the range. → [2, 0].
    let steps = vec!["user_register_success".to_owned(), "user_login_success".to_owned()];
    let fr = svc
        .kpis()
        .funnel(&services::Caller::system("test"), range, &steps, 86_400_000)
        .await
        .expect("funnel");
    assert_eq!(fr.steps.iter().map(|s| s.users).collect::<Vec<_>>(), [2, 0]);
    assert_eq!(fr.drop_off_step, Some(1));
    // A 3-day window lets c (day -2 10:00 → day 0 04:00) and b (→ day 0 02:00) convert.
    let fr = svc
        .kpis()
        .funnel(&services::Caller::system("test"), range, &steps, 3 * 86_400_000)
        .await
        .expect("funnel");
    assert_eq!(fr.steps.iter().map(|s| s.users).collect::<Vec<_>>(), [2, 2]);
    // Late events for days the funnel has already read (and cached): d registers on day -2
    // at 20:00 and logs in at 21:00 → the 1-day funnel becomes [3, 1].
    let mut late = Batch(Vec::new(), today);
    late.add(-2, 20, "user_register_success", "d", none.clone());
    late.add(-2, 21, "user_login_success", "d", none.clone());
    for e in &mut late.0 {
        let id = format!("late-{}", e["event_id"].as_str().unwrap_or_default());
        e["event_id"] = json!(id);
    }
    common::ingest(&svc, &late.0).await;
    let fr = svc
        .kpis()
        .funnel(&services::Caller::system("test"), range, &steps, 86_400_000)
        .await
        .expect("funnel");
    assert_eq!(fr.steps.iter().map(|s| s.users).collect::<Vec<_>>(), [3, 1]);
    let (hits, misses) = svc.kpis().funnel_cache_stats();
    assert!(hits > 0 && misses > 0, "cache used: {hits} hits, {misses} misses");
    // The same step twice: logins in range by a (day -2 11:00, day 0 01:00: 38 h apart),
    // b, c (day 0, once) and d (day -2, once) → 4 start, nobody logs in twice within a day.
    let twice = vec!["user_login_success".to_owned(), "user_login_success".to_owned()];
    let fr = svc
        .kpis()
        .funnel(&services::Caller::system("test"), range, &twice, 86_400_000)
        .await
        .expect("funnel");
    assert_eq!(fr.steps.iter().map(|s| s.users).collect::<Vec<_>>(), [4, 0]);
    let bad = svc
        .kpis()
        .funnel(&services::Caller::system("test"), range, &steps[..1], 86_400_000)
        .await
        .expect_err("one step");
    assert!(matches!(bad, services::ServiceError::Invalid(e) if e.get("steps").is_some()));
}

#[tokio::test]
async fn product_and_business_by_hand() {
    let (svc, today) = setup().await;
    let mut b = Batch(Vec::new(), today);
    let end = |ok: bool, ms: u32, src: &str| json!({"dialog_id": "d", "success": ok, "response_ms": ms, "answer_source": src});
    // Current day 0: 4 dialogs: 3 ok; sources kb, kb, generated, human; 100,200,300,400 ms.
    b.add(0, 1, "ai_dialog_end", "a", end(true, 100, "knowledge_base"));
    b.add(0, 2, "ai_dialog_end", "b", end(true, 200, "knowledge_base"));
    b.add(0, 3, "ai_dialog_end", "c", end(true, 300, "generated"));
    b.add(0, 4, "ai_dialog_end", "d", end(false, 400, "human"));
    // Previous day -1: 1 dialog, failed.
    b.add(-1, 1, "ai_dialog_end", "a", end(false, 1000, "generated"));
    // Feedback: ratings 5 (resolved), 2 (not), 1 (not) → resolution 1/3, mean 8/3, bad 2/3.
    b.add(
        0,
        5,
        "ai_dialog_feedback",
        "a",
        json!({"dialog_id": "d", "resolved": true, "rating": 5}),
    );
    b.add(
        0,
        6,
        "ai_dialog_feedback",
        "b",
        json!({"dialog_id": "d", "resolved": false, "rating": 2}),
    );
    b.add(
        0,
        7,
        "ai_dialog_feedback",
        "c",
        json!({"dialog_id": "d", "resolved": false, "rating": 1}),
    );
    // NPS: 10, 9, 3 → (2 − 1)/3 × 100.
    for (u, s) in [("a", 10), ("b", 9), ("c", 3)] {
        b.add(0, 8, "nps_survey_submit", u, json!({"score": s}));
    }
    // Subscriptions: previous period (day -1): x and y start (50 each). Current (day 0):
    // x renews (50), y cancels, z starts (30).
    b.add(-1, 9, "subscription_start", "x", json!({"amount": 50}));
    b.add(-1, 9, "subscription_start", "y", json!({"amount": 50}));
    b.add(0, 9, "subscription_renew", "x", json!({"amount": 50}));
    b.add(0, 10, "subscription_cancel", "y", json!({}));
    b.add(0, 11, "subscription_start", "z", json!({"amount": 30}));
    let r = common::ingest(&svc, &b.0).await;
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);

    let range = DayRange { from: today, to: today };
    let p = svc
        .kpis()
        .product_quality(&services::Caller::system("test"), range)
        .await
        .expect("product");
    let card = |cards: &[services::kpi::Kpi], k: &str| {
        cards.iter().find(|c| c.key == k).cloned().expect(k)
    };
    assert_eq!(card(&p.cards, "ai_dialogs").value, Some(4.0));
    assert_eq!(card(&p.cards, "ai_success_rate").value, Some(0.75));
    assert_eq!(card(&p.cards, "ai_success_rate").previous, Some(0.0));
    assert_eq!(card(&p.cards, "kb_coverage").value, Some(0.5));
    assert_eq!(card(&p.cards, "transfer_to_human").value, Some(0.25));
    let p50 = card(&p.cards, "response_p50").value.expect("p50");
    assert!((p50 - 200.0).abs() / 200.0 <= 0.01, "P50 {p50} within 1 % of 200");
    let p99 = card(&p.cards, "response_p99").value.expect("p99");
    assert!((p99 - 300.0).abs() / 300.0 <= 0.01, "P99 (rank 2 of 0..3) {p99} within 1 % of 300");
    assert!((card(&p.cards, "resolution_rate").value.expect("res") - 1.0 / 3.0).abs() < 1e-9);
    assert!((card(&p.cards, "satisfaction").value.expect("sat") - 8.0 / 3.0).abs() < 1e-9);
    assert!((card(&p.cards, "bad_review_rate").value.expect("bad") - 2.0 / 3.0).abs() < 1e-9);
    assert!((card(&p.cards, "nps").value.expect("nps") - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(p.ratings, [1, 1, 0, 0, 1]);

    let biz =
        svc.kpis().business(&services::Caller::system("test"), range).await.expect("business");
    assert_eq!(card(&biz.cards, "subs_new").value, Some(1.0));
    assert_eq!(card(&biz.cards, "subs_new").previous, Some(2.0));
    assert_eq!(card(&biz.cards, "subs_cancelled").value, Some(1.0));
    assert_eq!(card(&biz.cards, "subs_net").value, Some(0.0));
    assert_eq!(card(&biz.cards, "active_subscribers").value, Some(2.0), "x and z");
    assert_eq!(card(&biz.cards, "revenue").value, Some(80.0));
    assert_eq!(card(&biz.cards, "revenue").previous, Some(100.0));
    assert_eq!(card(&biz.cards, "revenue").change_pct, Some(-20.0));
    // Renewals 1 / (1 + 0 expirations).
    assert_eq!(card(&biz.cards, "renewal_rate").value, Some(1.0));
    // Churn is monthly (SPEC §1): November to this day. Nobody was a subscriber on 11-01
    // (x and y started yesterday), so it is undefined — the old linear rescale of one day
    // showed y's cancellation as 0.5 × 30 = 1500 %.
    assert_eq!(card(&biz.cards, "churn").value, None);
    assert_eq!(card(&biz.cards, "churn").month, Some(("2026-11".to_owned(), true)));
    // ARPA of November to this day: revenue 50 + 50 (yesterday) + 50 + 30 = 180 over the
    // MAU of today, {a,b,c,d,x,y,z} = 7. The payments name no currency: they count in the
    // reporting currency (USD when no payment names one).
    assert_eq!(biz.currency, "USD");
    assert!((card(&biz.cards, "arpa").value.expect("arpa") - 180.0 / 7.0).abs() < 1e-9);
    assert!(card(&biz.cards, "arpa").others.is_empty());
}
