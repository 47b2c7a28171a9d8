//! PromQL rules against a stand-in Prometheus HTTP API (the real one is exercised by
//! `scripts/prometheus-it.sh`): per-series instances, Prometheus' errors shown on the rule,
//! a missing data source named, and the backtest over `query_range`.

mod common;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use domain::alerting::{AlertState, CompareOp, KpiMetric, RuleQuery, RuleSpec, Severity};
use serde_json::{json, Value};
use services::accounts::CreateUser;
use services::{AuthSettings, Caller, FakeClock, Services};
use std::collections::HashMap;
use std::sync::Arc;

const NOW: i64 = 1_795_599_300_000; // a whole minute

async fn query(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let expr = q.get("query").cloned().unwrap_or_default();
    if expr.starts_with("bad(") {
        return Json(
            json!({"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected end of input"}),
        );
    }
    let t: f64 = q.get("time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
    Json(json!({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "cpu", "instance": "node-1"}, "value": [t, "95.5"]},
        {"metric": {"__name__": "cpu", "instance": "node-2"}, "value": [t, "40"]},
    ]}}))
}

async fn query_range(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let start: f64 = q["start"].parse().expect("start");
    let end: f64 = q["end"].parse().expect("end");
    let step: f64 = q["step"].trim_end_matches('s').parse().expect("step");
    // node-1 is above 90 in the second half of the range.
    let mut values = Vec::new();
    let mut t = start;
    while t <= end {
        let v = if t >= (start + end) / 2.0 { 95.0 } else { 50.0 };
        values.push(json!([t, v.to_string()]));
        t += step;
    }
    Json(json!({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"instance": "node-1"}, "values": values},
    ]}}))
}

async fn prometheus() -> String {
    let app = Router::new()
        .route("/api/v1/query", get(query))
        .route("/api/v1/query_range", get(query_range));
    let addr = common::serve(app).await;
    format!("http://{addr}")
}

async fn setup(prom: Option<&str>) -> (Services, Caller) {
    let (store, _dir) = store::testing::sqlite_store("vigil-promql").await;
    let svc = Services::new(store, Arc::new(FakeClock::at(NOW)), AuthSettings::default())
        .with_prometheus(prom);
    svc.accounts()
        .create_user(
            &services::Caller::system("test"),
            &CreateUser {
                email: "ops@example.com".into(),
                name: "ops".into(),
                role: "editor".into(),
                password: "correct horse battery".into(),
            },
        )
        .await
        .expect("user");
    let ok = svc
        .accounts()
        .login("ops@example.com", "correct horse battery", "1.1.1.1", "t")
        .await
        .expect("login");
    let actor =
        svc.accounts().session_actor(&ok.session_token, "1.1.1.1").await.expect("s").expect("a");
    (svc, actor)
}

fn cpu_rule(expr: &str) -> RuleSpec {
    let mut s =
        RuleSpec::kpi_threshold("CPU above 90%", Severity::P1, KpiMetric::Dau, CompareOp::Gt, 90.0);
    s.query = RuleQuery::Promql { expr: expr.into() };
    s.summary = "{{ $labels.instance }} at {{ $value }}%".into();
    s
}

#[tokio::test]
async fn every_series_above_the_threshold_is_an_instance() {
    let url = prometheus().await;
    let (svc, ops) = setup(Some(&url)).await;
    svc.alerting().create_rule(&ops, cpu_rule("cpu_busy_percent")).await.expect("rule");
    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!((r.rules, r.errors, r.queries), (1, 0, 1));
    let active = svc.alerting().active_alerts(&ops).await.expect("alerts");
    assert_eq!(active.len(), 1, "only node-1 is above 90");
    assert_eq!(active[0].state, AlertState::Firing);
    assert_eq!(active[0].labels.get("instance").map(String::as_str), Some("node-1"));
    assert!(!active[0].labels.contains_key("__name__"));
    assert_eq!(active[0].summary, "node-1 at 95.5%");
}

#[tokio::test]
async fn prometheus_errors_and_a_missing_data_source_are_shown_on_the_rule() {
    let url = prometheus().await;
    let (svc, ops) = setup(Some(&url)).await;
    svc.alerting().create_rule(&ops, cpu_rule("bad(")).await.expect("rule");
    let r = svc.alerting().evaluate_due_rules().await.expect("cycle");
    assert_eq!(r.errors, 1);
    let rules = svc.alerting().list_rules(&ops).await.expect("list");
    let err = rules[0].last_error.clone().expect("error stored");
    assert!(err.contains("bad_data") && err.contains("parse error"), "{err}");

    let (svc, ops) = setup(None).await;
    svc.alerting().create_rule(&ops, cpu_rule("up")).await.expect("rule");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let rules = svc.alerting().list_rules(&ops).await.expect("list");
    assert!(rules[0].last_error.as_deref().unwrap_or("").contains("VIGIL_PROMETHEUS_URL"));
    // The backtest says the same, on the expression field.
    match svc.alerting().backtest(&ops, cpu_rule("up"), NOW - 3_600_000, NOW).await {
        Err(services::ServiceError::Invalid(f)) => {
            assert!(f.get("expr").unwrap_or("").contains("VIGIL_PROMETHEUS_URL"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn backtest_over_query_range() {
    let url = prometheus().await;
    let (svc, ops) = setup(Some(&url)).await;
    let mut spec = cpu_rule("cpu_busy_percent");
    spec.for_ms = 5 * 60_000;
    // 10 hours at a 1-minute step; above 90 for the second half → pending 5 min, then firing.
    let b = svc.alerting().backtest(&ops, spec, NOW - 10 * 3_600_000, NOW).await.expect("backtest");
    assert_eq!(b.evaluations, 601);
    assert_eq!(b.points.len(), 601);
    assert_eq!(b.spans.len(), 2, "{:?}", b.spans);
    assert!(!b.spans[0].firing && b.spans[1].firing);
    assert_eq!(b.spans[1].to_ms, NOW);
    assert!(b.svg.is_some());
}

/// Prometheus answering the traffic panel's queries: two services, by what is asked.
async fn traffic_query(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let expr = q.get("query").cloned().unwrap_or_default();
    let t: f64 = q.get("time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
    let (checkout, search) = if expr.contains("histogram_quantile(0.5,") {
        ("120", "35")
    } else if expr.contains("histogram_quantile(0.95,") {
        ("480", "90")
    } else if expr.contains("histogram_quantile(0.99,") {
        ("1900", "NaN")
    } else if expr.contains("=~\"5..\"") {
        ("0.025", "0")
    } else {
        ("12.5", "3")
    };
    Json(json!({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"service": "checkout"}, "value": [t, checkout]},
        {"metric": {"service": "search"}, "value": [t, search]},
    ]}}))
}

#[tokio::test]
async fn api_traffic_per_service_from_prometheus() {
    let app = Router::new().route("/api/v1/query", get(traffic_query));
    let url = format!("http://{}", common::serve(app).await);
    let (svc, actor) = setup(Some(&url)).await;
    let t = svc.alerting().api_traffic(&actor).await.expect("traffic");
    assert!(t.configured && t.error.is_none(), "{t:?}");
    let names: Vec<&str> = t.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, ["checkout", "search"]);
    let c = &t.services[0];
    assert_eq!(
        (c.rate_rps, c.error_rate, c.p50_ms, c.p95_ms, c.p99_ms),
        (Some(12.5), Some(0.025), Some(120.0), Some(480.0), Some(1900.0))
    );
    assert_eq!(t.services[1].p99_ms, None, "NaN (no requests in the bucket) is no value");
    // The figures are alertable as PromQL rules, every service an instance.
    let mut rule = cpu_rule(&t.queries.p95_ms);
    rule.name = "API P95 above 300 ms".into();
    rule.condition = domain::alerting::Condition::Threshold { op: CompareOp::Gt, threshold: 300.0 };
    svc.alerting().create_rule(&actor, rule).await.expect("a traffic rule");

    // Without a Prometheus the panel says so instead of failing; with one that does not
    // answer, the error is shown.
    let (none, actor) = setup(None).await;
    let t = none.alerting().api_traffic(&actor).await.expect("traffic");
    assert!(!t.configured && t.services.is_empty());
    let (down, actor) = setup(Some("http://127.0.0.1:9")).await;
    let t = down.alerting().api_traffic(&actor).await.expect("traffic");
    assert!(t.error.as_deref().is_some_and(|e| e.contains("did not answer")), "{t:?}");
}
