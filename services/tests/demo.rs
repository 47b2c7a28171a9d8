//! The demo data set is deterministic and fills every dashboard.

mod common;

use services::demo::DemoOptions;
use services::kpi::DayRange;
use services::Services;

async fn load(seed: u64) -> (Services, services::demo::DemoReport) {
    let svc = common::services_at(&format!("demo-{seed}"), chrono_tz::Asia::Shanghai).await;
    let mut calls = 0;
    let report = svc
        .load_demo(&DemoOptions { seed, days: 35, scale: 0.02 }, |_, _| calls += 1)
        .await
        .expect("demo");
    assert_eq!(calls, 35, "progress reported per day");
    (svc, report)
}

#[tokio::test]
async fn same_seed_same_data_and_every_dashboard_has_numbers() {
    let (a, ra) = load(7).await;
    let (_, rb) = load(7).await;
    let (_, rc) = load(8).await;
    assert_eq!(ra, rb, "deterministic");
    assert_ne!(ra.events, rc.events, "another seed, other data");
    assert!(ra.events > 5_000, "{ra:?}");

    let today = a.kpis().today();
    let r = DayRange { from: today - 29, to: today };
    let u = a
        .kpis()
        .user_behaviour(
            &services::Caller::system("test"),
            r,
            domain::kpi::calendar::Granularity::Day,
        )
        .await
        .expect("user");
    let value = |cards: &[services::kpi::Kpi], k: &str| {
        cards.iter().find(|c| c.key == k).and_then(|c| c.value)
    };
    assert!(value(&u.cards, "registrations").unwrap_or(0.0) > 0.0);
    assert!(value(&u.cards, "mau").unwrap_or(0.0) > 0.0);
    assert!(value(&u.cards, "retention_d1").is_some());
    assert!(u.features.len() >= 2, "export, share (and darkmode after launch)");
    let p = a.kpis().product_quality(&services::Caller::system("test"), r).await.expect("product");
    assert!(value(&p.cards, "ai_success_rate").is_some());
    assert!(value(&p.cards, "response_p95").is_some());
    assert!(value(&p.cards, "nps").is_some());
    let b = a.kpis().business(&services::Caller::system("test"), r).await.expect("business");
    assert!(value(&b.cards, "revenue").unwrap_or(0.0) > 0.0);
    assert!(value(&b.cards, "churn").is_some(), "pre-window subscribers give churn a base");
}

#[tokio::test]
async fn demo_probes_have_thirty_days_with_a_visible_outage() {
    let svc = common::services_at("demo-probes", chrono_tz::UTC).await;
    let n = svc.load_demo_probes(42).await.expect("probes");
    assert_eq!(n, 2 * 30 * 1440);
    assert_eq!(svc.load_demo_probes(42).await.expect("again"), 0, "once");
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let o = svc.probes().technical_overview(&viewer).await.expect("overview");
    assert_eq!(o.len(), 2);
    for p in &o {
        let b = p.budget.expect("budget");
        // 14 + 3 failures of 43 200 checks: 17 of 43.2 allowed.
        assert_eq!((b.runs, b.failures), (43_200, 17));
        assert!((0.5..0.7).contains(&b.remaining), "{}", b.remaining);
        assert_eq!(p.availability_24h, Some(1.0));
        assert!(p.burns.iter().all(|b| !b.firing), "{:?}", p.burns);
        assert!(p.p99_ms > p.p50_ms);
    }
}
