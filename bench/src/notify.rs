//! `vigil-bench notify [--groups 2000] [--latency-ms 20] [--concurrency 16]`: notification
//! throughput from firing alerts to messages received.
//!
//! A fresh SQLite database gets N rules that all fire at the first evaluation (one alert
//! group each, `group_wait` 0) and a JSON-webhook channel pointing at a local receiver that
//! answers after `--latency-ms` (a real chat webhook takes tens of milliseconds). The run
//! measures dispatch (deciding and queueing N messages in the outbox) and delivery (until
//! the receiver has all N), once with one message at a time (the sequential reference)
//! and once with the configured concurrency, and prints both with their ratio.

use domain::alerting::{CompareOp, KpiMetric, RuleSpec, Severity};
use serde_json::json;
use services::notify::channels::ChannelConfig;
use services::notify::policy::Policy;
use services::{AuthSettings, FakeClock, Services};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

async fn receiver(latency: Duration) -> (Arc<AtomicUsize>, String) {
    use axum::routing::post;
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let g = g.clone();
            async move {
                tokio::time::sleep(latency).await;
                g.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (got, format!("http://{addr}/hook"))
}

struct Run {
    dispatch_s: f64,
    deliver_s: f64,
    sent: usize,
}

async fn one_run(groups: usize, latency: Duration, concurrency: usize) -> Result<Run, BoxError> {
    let (store, dir) = store::testing::sqlite_store("vigil-bench-notify").await;
    let now = 1_795_599_312_000_i64;
    let clock = FakeClock::at(now);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default())
        .with_delivery_concurrency(concurrency);
    let (got, url) = receiver(latency).await;
    let ctx = store::AuditCtx::system("bench", now);
    svc.store()
        .create_channel(
            "bench",
            "webhook",
            &serde_json::to_string(&ChannelConfig::webhook(&url, ""))?,
            true,
            &ctx,
        )
        .await?;
    let mut policy = Policy::default();
    policy.route.group_wait_ms = Some(0);
    svc.store().put_policy(&serde_json::to_string(&policy)?, 0, &ctx).await?;
    // Success rate 0.5 in the current hour: every "< 0.9" rule fires at once.
    let events: Vec<_> = (0..10)
        .map(|i| json!({"event_id": format!("e{i}"), "event_name": "ai_dialog_end", "user_id": "u",
            "timestamp": now - 60_000, "properties": {"dialog_id": format!("d{i}"), "success": i % 2 == 0,
            "response_ms": 100, "answer_source": "generated"}}))
        .collect();
    svc.events()
        .ingest_events(&services::Caller::system("bench"), &serde_json::to_vec(&events)?, false)
        .await?;
    for i in 0..groups {
        let spec = RuleSpec::kpi_threshold(
            &format!("rule {i}"),
            // P0/P1 only: the default inhibition mutes P2/P3 while a P0 fires.
            Severity::ALL[i % 2],
            KpiMetric::AiSuccessRate,
            CompareOp::Lt,
            0.9,
        );
        svc.store().create_rule(&spec, &ctx).await?;
    }
    let r = svc.alerting().evaluate_due_rules().await?;
    if r.transitions != groups * 2 {
        return Err(format!("{} transitions, expected {}", r.transitions, groups * 2).into());
    }
    let t = Instant::now();
    let d = svc.notify().dispatch_notifications().await?;
    let dispatch_s = t.elapsed().as_secs_f64();
    if d.enqueued != groups {
        return Err(format!("{} messages queued, expected {groups}", d.enqueued).into());
    }
    let t = Instant::now();
    let mut sent = 0;
    while sent < groups {
        let r = svc.notify().deliver_notifications().await?;
        if r.sent == 0 {
            return Err(format!("delivery stalled at {sent} of {groups}").into());
        }
        sent += r.sent;
    }
    let deliver_s = t.elapsed().as_secs_f64();
    let received = got.load(Ordering::SeqCst);
    if received != groups {
        return Err(format!("receiver got {received}, expected {groups}").into());
    }
    svc.store().close().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(Run { dispatch_s, deliver_s, sent })
}

pub async fn run() -> Result<(), BoxError> {
    let groups: usize = super::arg("--groups", 2_000);
    let latency = Duration::from_millis(super::arg("--latency-ms", 20));
    let concurrency: usize = super::arg("--concurrency", 16);
    println!(
        "notify: {groups} firing alert groups → one webhook answering in {} ms",
        latency.as_millis()
    );
    let seq = one_run(groups, latency, 1).await?;
    let par = one_run(groups, latency, concurrency).await?;
    println!();
    println!("| delivery | messages | dispatch (queue) | delivery | messages/s | vs sequential |");
    println!("|---|---|---|---|---|---|");
    for (name, r) in [
        ("sequential (reference)".to_owned(), &seq),
        (format!("{concurrency} groups at once"), &par),
    ] {
        println!(
            "| {name} | {} | {:.0} ms | {:.2} s | {:.0} | {:.1}× |",
            r.sent,
            r.dispatch_s * 1000.0,
            r.deliver_s,
            r.sent as f64 / r.deliver_s,
            seq.deliver_s / r.deliver_s
        );
    }
    println!();
    println!(
        "ideal at {} ms per message: {:.0} messages/s sequential, {:.0} with {concurrency} at once; peak RSS {:.0} MiB",
        latency.as_millis(),
        1000.0 / latency.as_millis().max(1) as f64,
        1000.0 * concurrency as f64 / latency.as_millis().max(1) as f64,
        super::peak_rss_mib()
    );
    Ok(())
}
