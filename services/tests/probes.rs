//! Probe scenarios: real HTTP checks against a local server the test controls, a fake
//! clock for the schedule, probe rules through the engine's cycle, and the Technical
//! dashboard's figures.

mod common;

use domain::alerting::{AlertState, CompareOp, Condition, RuleQuery, RuleSpec, Severity};
use domain::probe::{ProbeMetric, ProbeSpec};
use services::{AuthSettings, FakeClock, ServiceError, Services};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

const NOW: i64 = 1_795_599_312_000;
const MIN: i64 = 60_000;

/// A server answering `/health` with the status in `status`, `/slow` after 2 s.
async fn target(status: Arc<AtomicU16>) -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/health",
            get(move || {
                let s = status.load(Ordering::SeqCst);
                async move { (axum::http::StatusCode::from_u16(s).expect("status"), "ok") }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                "late"
            }),
        );
    let addr = common::serve(app).await;
    format!("http://{addr}")
}

async fn setup() -> (Services, FakeClock) {
    let (store, _dir) = store::testing::sqlite_store("vigil-probes").await;
    let clock = FakeClock::at(NOW);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default());
    (svc, clock)
}

#[tokio::test]
async fn probes_check_store_and_explain_failures() {
    let (svc, clock) = setup().await;
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let status = Arc::new(AtomicU16::new(200));
    let base = target(status.clone()).await;

    // Roles and field errors.
    let spec = ProbeSpec::new("API", &format!("{base}/health"));
    assert!(matches!(
        svc.probes().create_probe(&viewer, spec.clone()).await,
        Err(ServiceError::Forbidden(_))
    ));
    let mut bad = spec.clone();
    bad.url = "localhost/health".into();
    match svc.probes().create_probe(&editor, bad).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("url").is_some(), "{e}"),
        other => panic!("expected a url error, got {other:?}"),
    }
    let api = svc.probes().create_probe(&editor, spec.clone()).await.expect("create");
    match svc.probes().create_probe(&editor, spec.clone()).await {
        Err(ServiceError::Invalid(e)) => assert!(e.get("name").is_some(), "{e}"),
        other => panic!("expected a name error, got {other:?}"),
    }
    let mut slow = ProbeSpec::new("Slow", &format!("{base}/slow"));
    slow.timeout_ms = 200;
    svc.probes().create_probe(&editor, slow).await.expect("slow");
    let closed = ProbeSpec::new("Closed port", "http://127.0.0.1:9/");
    svc.probes().create_probe(&editor, closed).await.expect("closed");

    // First round: all three run; second round in the same minute: none is due.
    let r = svc.probes().run_due_probes().await.expect("round");
    assert_eq!((r.checked, r.failed), (3, 2));
    assert_eq!(svc.probes().run_due_probes().await.expect("again").checked, 0);
    let results = svc.store().probe_results(None, 0, i64::MAX).await.expect("results");
    assert_eq!(results.len(), 3);
    let all = svc.probes().list_probes(&viewer).await.expect("list");
    let err_of = |name: &str| -> String {
        let id = all.iter().find(|p| p.spec.name == name).expect("probe").id;
        results[&id][0].error.clone().unwrap_or_default()
    };
    assert!(err_of("Slow").starts_with("timed out after 200ms"), "{}", err_of("Slow"));
    assert!(err_of("Closed port").starts_with("could not connect"), "{}", err_of("Closed port"));
    assert!(results[&api.id][0].ok && results[&api.id][0].status == Some(200));

    // A 503 is a failure with the status named.
    status.store(503, Ordering::SeqCst);
    clock.advance_ms(MIN);
    svc.probes().run_due_probes().await.expect("round 2");
    let rs = svc.store().probe_results(Some(&[api.id]), 0, i64::MAX).await.expect("api results");
    let last = rs[&api.id].last().expect("last");
    assert_eq!(
        (last.ok, last.status, last.error.as_deref()),
        (false, Some(503), Some("unexpected status 503 (expected 2xx)"))
    );

    // "Test" runs a spec without storing it; editor only.
    let tested = svc.probes().test_probe(&editor, spec.clone()).await.expect("test");
    assert_eq!(tested.status, Some(503));
    assert!(matches!(
        svc.probes().test_probe(&viewer, spec).await,
        Err(ServiceError::Forbidden(_))
    ));

    // Every write is audited.
    let audit = svc
        .store()
        .audit_entries(&store::AuditQuery { limit: 50, ..Default::default() })
        .await
        .expect("audit");
    assert_eq!(audit.iter().filter(|a| a.action == "probe.create").count(), 3);
}

#[tokio::test]
async fn a_down_probe_fires_its_rule_after_for_and_resolves() {
    let (svc, clock) = setup().await;
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let status = Arc::new(AtomicU16::new(200));
    let base = target(status.clone()).await;
    let mut spec = ProbeSpec::new("checkout", &format!("{base}/health"));
    spec.labels.insert("service".into(), "shop".into());
    svc.probes().create_probe(&editor, spec).await.expect("probe");
    let mut rule = RuleSpec::kpi_threshold(
        "Service down",
        Severity::P0,
        domain::alerting::KpiMetric::Dau,
        CompareOp::Eq,
        0.0,
    );
    rule.query = RuleQuery::Probe {
        probe: String::new(),
        metric: ProbeMetric::Up,
        window_minutes: 5,
        short_window_minutes: 0,
    };
    rule.for_ms = 2 * MIN;
    rule.summary = "{{ $labels.probe }} is down".into();
    svc.alerting().create_rule(&editor, rule).await.expect("rule");

    // Minute by minute: up, then down for 4 minutes, then up again.
    let mut states = Vec::new();
    for minute in 0..8 {
        status.store(if (1..5).contains(&minute) { 503 } else { 200 }, Ordering::SeqCst);
        svc.probes().run_due_probes().await.expect("probes");
        svc.alerting().evaluate_due_rules().await.expect("cycle");
        let active = svc.alerting().active_alerts(&viewer).await.expect("active");
        states.push(active.first().map(|a| a.state));
        if let Some(a) = active.first() {
            assert_eq!(a.labels.get("probe").map(String::as_str), Some("checkout"));
            assert_eq!(a.labels.get("service").map(String::as_str), Some("shop"));
            assert_eq!(a.summary, "checkout is down");
        }
        clock.advance_ms(MIN);
    }
    use AlertState::{Firing, Pending};
    assert_eq!(
        states,
        vec![None, Some(Pending), Some(Pending), Some(Firing), Some(Firing), None, None, None]
    );
}

#[tokio::test]
async fn technical_overview_and_burn_rates_from_stored_runs() {
    let (svc, _clock) = setup().await;
    let editor = common::signed_in(&svc, "ops@example.com", "editor").await;
    let viewer = common::signed_in(&svc, "pm@example.com", "viewer").await;
    let p = svc
        .probes()
        .create_probe(&editor, ProbeSpec::new("API", "http://127.0.0.1:9/"))
        .await
        .expect("probe");
    // Two days of one-a-minute runs; the last 10 minutes fail; latency 100 ms, 1 s on
    // every 10th run.
    let runs: Vec<(i64, domain::probe::ProbeResult)> = (0..2 * 1440)
        .map(|i| {
            let at = NOW - (2 * 1440 - 1 - i) * MIN;
            let ok = i < 2 * 1440 - 10;
            (
                p.id,
                domain::probe::ProbeResult {
                    at_ms: at,
                    ok,
                    status: Some(if ok { 200 } else { 502 }),
                    latency_ms: if i % 10 == 0 { 1000.0 } else { 100.0 },
                    error: (!ok).then(|| "unexpected status 502".into()),
                },
            )
        })
        .collect();
    svc.store().record_probe_results(&runs).await.expect("runs");
    let o = svc.probes().technical_overview(&viewer).await.expect("overview");
    assert_eq!(o.len(), 1);
    let s = &o[0];
    assert_eq!(s.availability_1h, Some(50.0 / 60.0));
    assert_eq!(s.availability_24h, Some(1.0 - 10.0 / 1440.0));
    assert_eq!(s.availability_30d, Some(1.0 - 10.0 / 2880.0));
    assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (Some(100.0), Some(1000.0), Some(1000.0)));
    assert_eq!(s.downtime_24h_ms, 10 * MIN);
    let b = s.budget.expect("budget");
    assert_eq!((b.runs, b.failures), (2880, 10));
    assert!(b.remaining < 0.0, "10 failures in 2880 runs overspend 0.1%");
    // 14.4× 1h/5m: 10/60 and 5/5 burn far above → firing; 1× 3d/6h too.
    assert!(s.burns[0].firing && s.burns[3].firing);
    assert!(s.chart_svg.as_deref().is_some_and(|svg| svg.contains("<svg")));

    // The same figures drive a burn-rate rule (the default page rule fires at once).
    let mut rule = services::alerting::technical_default_rules()
        .into_iter()
        .find(|r| r.name.starts_with("SLO burn rate 14.4"))
        .expect("default burn rule");
    rule.name = "burn".into();
    svc.alerting().create_rule(&editor, rule).await.expect("rule");
    svc.alerting().evaluate_due_rules().await.expect("cycle");
    let active = svc.alerting().active_alerts(&viewer).await.expect("active");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].state, AlertState::Firing);
    assert!(active[0].value > 14.4, "{}", active[0].value);

    // Backtest over the two days: the rule would have fired only at the end.
    let mut spec = services::alerting::technical_default_rules()
        .into_iter()
        .find(|r| r.name.starts_with("SLO burn rate 14.4"))
        .expect("rule");
    spec.condition = Condition::Threshold { op: CompareOp::Gt, threshold: 14.4 };
    let bt = svc.alerting().backtest(&viewer, spec, NOW - 86_400_000, NOW).await.expect("backtest");
    assert!(!bt.points.is_empty());
    assert_eq!(bt.spans.len(), 1, "{:?}", bt.spans);
    assert!(bt.spans[0].to_ms == NOW && bt.spans[0].firing);
}
