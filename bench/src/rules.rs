//! `vigil-bench rules [--rules 10000] [--cycles 5]`: one evaluation cycle of N rules.
//!
//! A fresh SQLite database gets 48 hours of AI dialogs and feedback and 30 days of logins
//! through the ingest path, then N rules spread over every KPI metric, windows of 1–24 h
//! and all five condition kinds. Each cycle evaluates all rules (they are all due: the
//! clock moves by their interval) and stores states and transitions. Prints the time per
//! cycle (p50, max), rules per second, the distinct queries computed, the ratio to the
//! 1 s goal, and peak RSS.

use domain::alerting::{CompareOp, Condition, KpiMetric, RuleQuery, RuleSpec, Severity};
use serde_json::json;
use services::{AuthSettings, FakeClock, Services};
use std::sync::Arc;
use std::time::Instant;

const H: i64 = 3_600_000;

pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = super::arg("--rules", 10_000);
    let cycles: usize = super::arg("--cycles", 5);
    let (store, dir) = store::testing::sqlite_store("vigil-bench-rules").await;
    let now = 1_795_599_312_000_i64;
    let clock = FakeClock::at(now);
    let svc = Services::new(store, Arc::new(clock.clone()), AuthSettings::default());

    // Data: every hour of the last 48, 40 dialogs (success varying) and 10 ratings; 200
    // logins a day for 30 days.
    let mut events = Vec::new();
    for h in 0..48 {
        let ts = now - (48 - h) * H + 60_000;
        for i in 0..40 {
            events.push(json!({"event_id": format!("ai-{h}-{i}"), "event_name": "ai_dialog_end",
                "user_id": format!("u{i}"), "timestamp": ts + i * 1000,
                "properties": {"dialog_id": format!("d-{h}-{i}"), "success": (i + h) % 10 != 0,
                    "response_ms": 200 + (i * 37 + h * 11) % 4000,
                    "answer_source": if i % 3 == 0 { "knowledge_base" } else { "generated" }}}));
        }
        for i in 0..10 {
            events.push(json!({"event_id": format!("fb-{h}-{i}"), "event_name": "ai_dialog_feedback",
                "user_id": format!("u{i}"), "timestamp": ts + i * 1000,
                "properties": {"dialog_id": format!("d-{h}-{i}"), "resolved": i % 4 != 0, "rating": 1 + (i + h) % 5}}));
        }
    }
    for d in 0..29 {
        for u in 0..200 {
            events.push(json!({"event_id": format!("login-{d}-{u}"), "event_name": "user_login_success",
                "user_id": format!("user{}", u + d * 7), "timestamp": now - (d + 1) * 24 * H + u * 1000}));
        }
    }
    for chunk in events.chunks(5_000) {
        svc.events()
            .ingest_events(&services::Caller::system("bench"), &serde_json::to_vec(chunk)?, false)
            .await?;
    }

    let t0 = Instant::now();
    let ctx = store::AuditCtx::system("bench", now);
    for i in 0..n {
        let metric = KpiMetric::ALL[i % KpiMetric::ALL.len()];
        let window_h = 1 + (i / KpiMetric::ALL.len()) % 24;
        let condition = match i % 5 {
            0 => {
                Condition::Threshold { op: CompareOp::Lt, threshold: 0.85 + (i % 10) as f64 * 0.01 }
            }
            1 => Condition::DropPct { pct: 5.0 + (i % 20) as f64 },
            2 => Condition::RisePct { pct: 5.0 + (i % 20) as f64 },
            3 => Condition::NoData { for_ms: 2 * H },
            _ => Condition::ZScore { k: 2.0 + (i % 3) as f64 * 0.5, window: 12 },
        };
        let mut spec = RuleSpec::kpi_threshold(
            &format!("rule {i}"),
            Severity::ALL[i % 4],
            metric,
            CompareOp::Gt,
            0.0,
        );
        spec.query = RuleQuery::Kpi {
            metric,
            window_minutes: (window_h * 60) as u32,
            segment: String::new(),
        };
        spec.condition = condition;
        spec.for_ms = (i % 3) as i64 * 60_000;
        svc.store().create_rule(&spec, &ctx).await?;
    }
    println!(
        "rules: {n} created in {:.1} s; data: {} events",
        t0.elapsed().as_secs_f64(),
        events.len()
    );

    let mut times = Vec::new();
    for c in 0..cycles {
        let t = Instant::now();
        let r = svc.alerting().evaluate_due_rules().await?;
        let secs = t.elapsed().as_secs_f64();
        if r.rules != n {
            return Err(format!("cycle {c}: {} rules due, expected {n}", r.rules).into());
        }
        println!(
            "cycle {c}: {secs:.3} s  ({} rules, {} queries, {} transitions, {} errors)",
            r.rules, r.queries, r.transitions, r.errors
        );
        times.push(secs);
        clock.advance_ms(60_000);
    }
    times.sort_by(f64::total_cmp);
    let p50 = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!();
    println!("| rules | cycle p50 | cycle max | rules/s (p50) | goal | p50 / goal | peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {:.0} ms | {:.0} ms | {:.0} | 1 000 ms | {:.2} | {:.0} MiB |",
        p50 * 1000.0,
        max * 1000.0,
        n as f64 / p50,
        p50,
        super::peak_rss_mib()
    );
    svc.store().close().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
