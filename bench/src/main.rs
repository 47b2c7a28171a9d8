//! Benchmarks that print figures and ratios (not timed tests). See docs/performance.md.
//!
//! `vigil-bench ingest [--events 200000]`
//!   Ingest throughput through the real HTTP stack (batches of 1 000 events, 4 concurrent
//!   clients, loopback, embedded SQLite) next to a raw SQLite bulk insert of the same rows
//!   (one transaction, one prepared statement), and the ratio between the two; plus the
//!   process's peak RSS.
//!
//! `vigil-bench kpi [--users 1000000] [--runs 30] [--dir PATH] [--keep] [--no-warm]`
//!   Generates ~10 events per user over 90 days through the ingest path (rollups included),
//!   then times the dashboard KPI queries (DAU series 90 d, MAU, 30×30 cohort table, a
//!   4-step funnel over 7, 30 and 90 days, P95 response time): p50/p95 per query, peak RSS
//!   while querying, and the same queries in DuckDB over the same raw events exported to
//!   Parquet (needs `python3` with `duckdb`; `scripts/bench.sh` installs it), side by side
//!   with the ratio and a check that both engines computed the same numbers. The funnel
//!   cache is warmed first, as `vigil serve` does at start-up (`--no-warm`: not).
//!
//! `vigil-bench rules [--rules 10000] [--cycles 5]`
//!   Alert evaluation: N rules over every KPI metric, window and condition kind, all due in
//!   each cycle; time per cycle, rules/s, distinct queries, ratio to the 1 s goal.
//!
//! `vigil-bench notify [--groups 2000] [--latency-ms 20] [--concurrency 16]`
//!   Notification throughput: N firing alert groups dispatched into the outbox and
//!   delivered to a local webhook with the given answer latency, sequentially (reference)
//!   and with the configured concurrency; messages/s and the ratio.

mod ingest;
mod kpi;
mod notify;
mod rules;

pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .unwrap_or(0.0)
}

/// Peak resident set size of this process so far (or since [`reset_peak_rss`]).
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

/// Current resident set size.
pub fn rss_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

/// Resets the peak RSS to the current RSS (Linux: `5` into /proc/self/clear_refs).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::main]
async fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "ingest".into());
    let result = match what.as_str() {
        "ingest" => ingest::run(arg("--events", 200_000)).await,
        "kpi" => kpi::run().await,
        "rules" => rules::run().await,
        "notify" => notify::run().await,
        other => {
            Err(format!("unknown benchmark `{other}` (known: ingest, kpi, rules, notify)").into())
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
