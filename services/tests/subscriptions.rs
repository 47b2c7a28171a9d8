//! Subscription KPIs by the SPEC's definitions (§1), on a hand-made history across a
//! month boundary with two currencies and a yearly plan. Every expected number is worked
//! out by hand in the comments from the events below, never read off the code.
//!
//! Days are Asia/Shanghai calendar days. The clock is 2026-12-10 12:00 there.
//!
//! | user | events (local date, amount currency period) |
//! |------|---------------------------------------------|
//! | u1   | start 10-05 30 CNY month; renew 11-05 30 CNY; renew 12-05 30 CNY |
//! | u2   | start 10-10 30 CNY; cancel 11-15; start again 11-25 30 CNY |
//! | u3   | start 10-12 120 USD **year**; expire 12-02 |
//! | u4   | start 10-20 30 CNY; cancel 10-25 |
//! | u5   | start 11-03 30 CNY; cancel 11-20 |
//! | u6   | start 11-30 23:30 10 USD month (the last half hour of November) |
//! | u7   | start 12-01 00:10 30 CNY (the first minutes of December) |
//! | p1, p2 | a login on 11-10 (active, never subscribed) |

mod common;

use domain::kpi::calendar::parse_day;
use serde_json::{json, Value};
use services::events::{day_start_ms, EventSettings};
use services::kpi::{DayRange, Kpi};
use services::{AuthSettings, Caller, FakeClock, Services};
use std::sync::Arc;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const MIN: i64 = 60_000;

fn day(s: &str) -> i32 {
    parse_day(s).expect("date")
}

fn at(date: &str, hour: i64, minute: i64) -> i64 {
    day_start_ms(day(date), TZ) + hour * 60 * MIN + minute * MIN
}

/// Services on a new database, the clock at 2026-12-10 12:00 Shanghai.
async fn services_with(tag: &str, settings: EventSettings) -> Services {
    let (store, dir) = store::testing::sqlite_store(tag).await;
    std::mem::forget(dir);
    let clock = Arc::new(FakeClock::at(at("2026-12-10", 12, 0)));
    Services::new(store, clock, AuthSettings::default()).with_event_settings(settings)
}

async fn history() -> Services {
    let settings =
        EventSettings { reporting_tz: TZ, raw_retention_days: 120, ..Default::default() };
    let svc = services_with("vigil-subscriptions", settings).await;
    let mut events: Vec<Value> = Vec::new();
    let mut add = |user: &str, ts: i64, name: &str, props: Value| {
        let id = format!("s{}", events.len());
        events.push(json!({"event_id": id, "event_name": name, "user_id": user, "timestamp": ts, "properties": props}));
    };
    let pay = |amount: f64, currency: &str, period: &str| json!({"plan": "pro", "amount": amount, "currency": currency, "period": period});
    let none = json!({});
    add("u1", at("2026-10-05", 10, 0), "subscription_start", pay(30.0, "CNY", "month"));
    add("u1", at("2026-11-05", 10, 0), "subscription_renew", pay(30.0, "CNY", "month"));
    add("u1", at("2026-12-05", 10, 0), "subscription_renew", pay(30.0, "cny", "month"));
    add("u2", at("2026-10-10", 10, 0), "subscription_start", pay(30.0, "CNY", "month"));
    add("u2", at("2026-11-15", 10, 0), "subscription_cancel", none.clone());
    add("u2", at("2026-11-25", 10, 0), "subscription_start", pay(30.0, "CNY", "month"));
    add("u3", at("2026-10-12", 10, 0), "subscription_start", pay(120.0, "USD", "year"));
    add("u3", at("2026-12-02", 10, 0), "subscription_expire", none.clone());
    add("u4", at("2026-10-20", 10, 0), "subscription_start", pay(30.0, "CNY", "month"));
    add("u4", at("2026-10-25", 10, 0), "subscription_cancel", none.clone());
    add("u5", at("2026-11-03", 10, 0), "subscription_start", pay(30.0, "CNY", "month"));
    add("u5", at("2026-11-20", 10, 0), "subscription_cancel", none.clone());
    add("u6", at("2026-11-30", 23, 30), "subscription_start", pay(10.0, "USD", "month"));
    add("u7", at("2026-12-01", 0, 10), "subscription_start", pay(30.0, "CNY", "month"));
    add("p1", at("2026-11-10", 9, 0), "user_login_success", none.clone());
    add("p2", at("2026-11-10", 9, 0), "user_login_success", none);
    let report = common::ingest(&svc, &events).await;
    assert_eq!(report.accepted, 16, "{:?}", report.rejected);
    svc
}

fn card<'a>(cards: &'a [Kpi], key: &str) -> &'a Kpi {
    cards.iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no card {key}"))
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 1e-9)
}

#[tokio::test]
async fn november_by_the_definitions() {
    let svc = history().await;
    let nov = DayRange { from: day("2026-11-01"), to: day("2026-11-30") };
    let b = svc.kpis().business(&Caller::system("test"), nov).await.expect("business");
    let c = |k: &str| card(&b.cards, k);

    // Counts of November: new = u5, u6, u2 (again) = 3; renewals = u1 = 1; cancelled =
    // u2, u5 = 2; net = 1. Renewal rate = 1 / (1 + 0 expirations).
    assert_eq!(c("subs_new").value, Some(3.0));
    assert_eq!(c("subs_cancelled").value, Some(2.0));
    assert_eq!(c("subs_net").value, Some(1.0));
    assert_eq!(c("renewal_rate").value, Some(1.0));
    // Active at the end of November: u1, u2 (resubscribed), u3 (yearly), u6 = 4.
    assert_eq!(c("active_subscribers").value, Some(4.0));

    // Churn(Nov) = of the 3 active on 11-01 (u1, u2, u3; u4 left in October), u2 ended
    // in November → 1/3. u5 started and cancelled inside November: a cancellation, not
    // churn of the month's base. October (the month before): nobody was active on 10-01
    // → undefined, so no change either.
    assert!(close(c("churn").value, 1.0 / 3.0), "{:?}", c("churn"));
    assert_eq!(c("churn").month, Some(("2026-11".to_owned(), false)));
    assert_eq!(c("churn").previous, None);
    assert_eq!(c("churn").change_pct, None);

    // Money per currency, CNY leading (6 of the 8 payments are in CNY).
    assert_eq!(b.currency, "CNY");
    // Revenue(Nov): CNY 30 (u1) + 30 (u5) + 30 (u2) = 90; USD 10 (u6, 23:30 on the 30th).
    // The range before (10-02..10-31): CNY 30 + 30 + 30 = 90 (u1, u2, u4); USD 120.
    assert_eq!(c("revenue").value, Some(90.0));
    assert_eq!(c("revenue").currency.as_deref(), Some("CNY"));
    assert_eq!(c("revenue").others, vec![("USD".to_owned(), 10.0)]);
    assert_eq!(c("revenue").previous, Some(90.0));
    // MRR at the end of November: CNY u1 30 + u2 30 = 60; USD u3 120/12 + u6 10 = 20.
    assert_eq!(c("mrr").value, Some(60.0));
    assert_eq!(c("mrr").others, vec![("USD".to_owned(), 20.0)]);
    // MAU on 11-30 (11-01..11-30): u1, u2, u5, u6, p1, p2 = 6 (u3 did nothing in November).
    // ARPA(Nov) = revenue / MAU: CNY 90/6 = 15; USD 10/6.
    assert!(close(c("arpa").value, 15.0));
    assert_eq!(c("arpa").others.len(), 1);
    assert!(close(Some(c("arpa").others[0].1), 10.0 / 6.0));
    assert_eq!(c("arpa").month, Some(("2026-11".to_owned(), false)));
    // LTV = ARPA / churn: CNY 15 / (1/3) = 45; USD (10/6) / (1/3) = 5.
    assert!(close(c("ltv").value, 45.0));
    assert!(close(Some(c("ltv").others[0].1), 5.0));
    // The month before has no churn: its LTV is undefined, not 0.
    assert_eq!(c("ltv").previous, None);

    assert_eq!(b.months.len(), 1);
    let m = &b.months[0];
    assert_eq!((m.month.as_str(), m.to_date), ("2026-11", false));
    assert_eq!((m.active_at_start, m.churned_users, m.mau_at_end), (3, 1, 6));
}

#[tokio::test]
async fn a_range_across_the_month_boundary_shows_the_months_it_covers() {
    let svc = history().await;
    // 11-16..12-10: November (whole) and December to the 10th.
    let r = DayRange { from: day("2026-11-16"), to: day("2026-12-10") };
    let b = svc.kpis().business(&Caller::system("test"), r).await.expect("business");
    let months: Vec<(&str, bool)> =
        b.months.iter().map(|m| (m.month.as_str(), m.to_date)).collect();
    assert_eq!(months, [("2026-11", false), ("2026-12", true)]);
    assert!(close(b.months[0].churn, 1.0 / 3.0), "November as a whole month");

    // December to the 10th: active on 12-01: u1, u2, u3, u6 = 4 (u7 started 10 minutes
    // after midnight); u3's yearly plan expired on 12-02 → churn 1/4.
    let dec = &b.months[1];
    assert_eq!((dec.active_at_start, dec.churned_users), (4, 1));
    let churn = card(&b.cards, "churn");
    assert!(close(churn.value, 0.25), "{churn:?}");
    assert_eq!(churn.month, Some(("2026-12".to_owned(), true)));
    assert!(close(churn.previous, 1.0 / 3.0), "the month before: November");
    // Revenue(12-01..12-10): CNY u7 30 + u1 30 = 60. MAU on 12-10 (11-11..12-10): u2, u5,
    // u6, u7, u3, u1 = 6 (p1 and p2 were active on 11-10 only). ARPA 60/6 = 10 CNY; no
    // USD paid in December, so no USD ARPA. LTV = 10 / (1/4) = 40.
    assert_eq!(dec.revenue.get("CNY"), Some(&60.0));
    assert_eq!(dec.mau_at_end, 6);
    let arpa = card(&b.cards, "arpa");
    assert!(close(arpa.value, 10.0));
    assert!(arpa.others.is_empty(), "{arpa:?}");
    assert!(close(arpa.previous, 15.0), "November's ARPA");
    assert!(close(card(&b.cards, "ltv").value, 40.0));
    // Revenue of the whole range 11-16..12-10: CNY u2 30 + u7 30 + u1 30 = 90; USD u6 10.
    let revenue = card(&b.cards, "revenue");
    assert_eq!(revenue.value, Some(90.0));
    assert_eq!(revenue.others, vec![("USD".to_owned(), 10.0)]);
}

#[tokio::test]
async fn churn_of_a_single_day_is_never_rescaled() {
    let svc = history().await;
    // One day, 11-15 (u2's cancellation): the card shows November to that day, 1/3 —
    // the old linear rescale would have shown 1/3 × 30 = 1000 %.
    let r = DayRange { from: day("2026-11-15"), to: day("2026-11-15") };
    let b = svc.kpis().business(&Caller::system("test"), r).await.expect("business");
    let churn = card(&b.cards, "churn");
    assert!(close(churn.value, 1.0 / 3.0), "{churn:?}");
    assert_eq!(churn.month, Some(("2026-11".to_owned(), true)));
    for c in &b.cards {
        if c.unit == services::kpi::Unit::Ratio {
            assert!(c.value.is_none_or(|v| (0.0..=1.0).contains(&v)), "{c:?}");
        }
    }
}

#[tokio::test]
async fn the_reporting_currency_setting_leads() {
    let settings =
        EventSettings { reporting_tz: TZ, reporting_currency: "USD".into(), ..Default::default() };
    let svc = services_with("vigil-subscriptions-usd", settings).await;
    let pay = |id: &str, user: &str, amount: f64, currency: &str| {
        json!({"event_id": id, "event_name": "subscription_start", "user_id": user,
               "timestamp": at("2026-12-03", 9, 0),
               "properties": {"amount": amount, "currency": currency, "period": "month", "plan": "pro"}})
    };
    let report = common::ingest(
        &svc,
        &[pay("a", "a", 30.0, "CNY"), pay("b", "b", 5.0, "USD"), pay("c", "c", 7.0, "EUR")],
    )
    .await;
    assert_eq!(report.accepted, 3, "{:?}", report.rejected);
    let r = DayRange { from: day("2026-12-01"), to: day("2026-12-10") };
    let b = svc.kpis().business(&Caller::system("test"), r).await.expect("business");
    let revenue = card(&b.cards, "revenue");
    assert_eq!((revenue.value, revenue.currency.as_deref()), (Some(5.0), Some("USD")));
    assert_eq!(revenue.others, vec![("CNY".to_owned(), 30.0), ("EUR".to_owned(), 7.0)]);
}

#[tokio::test]
async fn bad_money_fields_are_refused_by_name() {
    let svc = history().await;
    let ev = |id: &str, props: Value| {
        json!({"event_id": id, "event_name": "subscription_start", "user_id": "x",
               "timestamp": at("2026-12-09", 9, 0), "properties": props})
    };
    let report = common::ingest(
        &svc,
        &[
            ev("bad-currency", json!({"amount": 10, "currency": "US$"})),
            ev("bad-period", json!({"amount": 10, "currency": "USD", "period": "week"})),
            ev("bad-plan", json!({"amount": 10, "plan": 3})),
            ev("bad-amount", json!({"amount": -1, "currency": "USD"})),
        ],
    )
    .await;
    assert_eq!(report.accepted, 0);
    let errors: Vec<&str> = report.rejected.iter().map(|r| r.error.as_str()).collect();
    for (i, field) in
        ["properties.currency", "properties.period", "properties.plan", "properties.amount"]
            .iter()
            .enumerate()
    {
        assert!(errors[i].starts_with(field), "{i}: {errors:?}");
    }
}

#[tokio::test]
async fn every_catalogue_kpi_answers_with_its_cards_figure() {
    use services::kpi::catalogue::{Segment, CATALOGUE};
    let svc = history().await;
    let caller = Caller::system("test");
    let nov = DayRange { from: day("2026-11-01"), to: day("2026-11-30") };
    for def in CATALOGUE {
        let segment = match def.segment {
            None => None,
            Some(Segment::Feature) => Some("export"),
            Some(Segment::FunnelSteps) => Some("subscription_start,subscription_cancel"),
        };
        let g = domain::kpi::calendar::Granularity::Week;
        let report = svc
            .kpis()
            .kpi_report(&caller, def.key, nov, g, segment)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", def.key));
        // Weeks starting on Monday: 11-01 (a Sunday) alone, then four Mondays, then 11-30.
        assert_eq!(report.series.len(), 6, "{}", def.key);
        assert_eq!(report.series[0].from, "2026-11-01");
        assert_eq!(report.series[0].to, "2026-11-01");
        assert_eq!(report.series[5].from, "2026-11-30");
    }
    // The report's value is the card's: churn of November, and its weekly points are
    // November to each week's end (u2 left on the 15th, in the week of 11-09..11-15).
    let churn = svc
        .kpis()
        .kpi_report(&caller, "churn", nov, domain::kpi::calendar::Granularity::Week, None)
        .await
        .expect("churn");
    assert!(close(churn.value, 1.0 / 3.0));
    let points: Vec<Option<f64>> = churn.series.iter().map(|p| p.value).collect();
    assert_eq!(points[..2], [Some(0.0), Some(0.0)]);
    assert!(points[2..].iter().all(|p| close(*p, 1.0 / 3.0)), "{points:?}");
    // The funnel u5 walked: start (11-03) then cancel (11-20) is beyond one day; u4's
    // were in October. Nobody converts in November: 0 of the 3 who started.
    let funnel = svc
        .kpis()
        .kpi_report(
            &caller,
            "funnel_conversion",
            nov,
            domain::kpi::calendar::Granularity::Month,
            Some("subscription_start,subscription_cancel"),
        )
        .await
        .expect("funnel");
    assert_eq!(funnel.value, Some(0.0));
}

#[tokio::test]
async fn churn_and_retention_are_alertable_with_backtest_spans() {
    use domain::alerting::{CompareOp, KpiMetric, RuleQuery, RuleSpec, Severity};
    let svc = history().await;
    let editor = Caller::system("test");
    // Churn > 5 %: each day's sample is the churn of its month to that day. November:
    // 0 until u2 left on 11-15, then 1/3; December: 0 on 12-01, 1/4 from 12-02 (u3's
    // expiry). Firing from the end of 11-15 to the end of 11-30, and from the end of 12-02.
    let mut rule = RuleSpec::kpi_threshold(
        "Churn above 5%",
        Severity::P2,
        KpiMetric::Churn,
        CompareOp::Gt,
        0.05,
    );
    rule.interval_ms = 3_600_000;
    let from = at("2026-11-10", 0, 0);
    let to = at("2026-12-10", 12, 0);
    let bt = svc.alerting().backtest(&editor, rule.clone(), from, to).await.expect("backtest");
    let day_of = |ms: i64| services::events::local_day(ms, TZ);
    let values: Vec<(i32, f64)> = bt.points.iter().map(|p| (p.bucket as i32, p.value)).collect();
    assert_eq!(values.first(), Some(&(day("2026-11-10"), 0.0)), "{values:?}");
    assert!(values.iter().any(|&(d, v)| d == day("2026-11-15") && (v - 1.0 / 3.0).abs() < 1e-9));
    assert!(values.iter().any(|&(d, v)| d == day("2026-12-01") && v == 0.0));
    assert!(values.iter().any(|&(d, v)| d == day("2026-12-09") && (v - 0.25).abs() < 1e-9));
    let firing: Vec<_> = bt.spans.iter().filter(|s| s.firing).collect();
    assert_eq!(firing.len(), 2, "{:?}", bt.spans);
    // Spans are drawn over the days whose samples fire.
    assert_eq!(day_of(firing[0].from_ms), day("2026-11-15"), "{firing:?}");
    assert!(day_of(firing[0].to_ms) <= day("2026-12-01"), "ends with November: {firing:?}");
    assert_eq!(day_of(firing[1].from_ms), day("2026-12-02"), "{firing:?}");
    // The rule saves and the engine's series agree.
    svc.alerting().create_rule(&editor, rule).await.expect("a churn rule saves");

    // D1 retention: no cohorts in this history (nobody registered) → no samples, no span.
    let mut d1 = RuleSpec::kpi_threshold(
        "D1 retention below 30%",
        Severity::P2,
        KpiMetric::RetentionD1,
        CompareOp::Lt,
        0.3,
    );
    d1.interval_ms = 3_600_000;
    let bt = svc.alerting().backtest(&editor, d1, from, to).await.expect("backtest");
    assert!(bt.points.is_empty() && bt.spans.is_empty(), "{:?}", bt.points);

    // A metric that needs a segment names the field when it is missing.
    let mut pen = RuleSpec::kpi_threshold(
        "Export used by under 10%",
        Severity::P3,
        KpiMetric::FeaturePenetration,
        CompareOp::Lt,
        0.1,
    );
    let err = svc.alerting().create_rule(&editor, pen.clone()).await.expect_err("no segment");
    assert!(
        matches!(&err, services::ServiceError::Invalid(e) if e.get("segment").is_some()),
        "{err:?}"
    );
    pen.query = RuleQuery::Kpi {
        metric: KpiMetric::FeaturePenetration,
        window_minutes: 60,
        segment: "export".into(),
    };
    svc.alerting().create_rule(&editor, pen).await.expect("with its feature");
}
