//! `vigil-bench kpi`: dashboard KPI query latency on ~10 M events / 1 M users, next to
//! DuckDB over the same raw events (Parquet), with a cross-check of the numbers.

use crate::{arg, flag, peak_rss_mib, reset_peak_rss, rss_mib};
use domain::events::Platform;
use domain::kpi::activity;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use services::events::{day_start_ms, ValidEvent};
use services::kpi::DayRange;
use services::Services;
use sqlx::Row;
use std::io::Write;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error>;

const DAYS: i32 = 90;
const TZ: &str = "Asia/Shanghai";
/// Asia/Shanghai has no DST: local day = (ts + 8 h) / 24 h (used on the DuckDB side).
const TZ_OFFSET_MS: i64 = 8 * 3_600_000;
const FUNNEL: [&str; 4] =
    ["user_login_success", "page_view_home", "ai_dialog_start", "ai_dialog_end"];
const FUNNEL_WINDOW_MS: i64 = 86_400_000;
const BATCH: usize = 20_000;

/// Generates the data set through the ingest path (rollups included); returns the events.
async fn generate(svc: &Services, users_total: usize) -> Result<u64, BoxError> {
    let mut rng = StdRng::seed_from_u64(2026);
    let today = svc.kpis().today();
    let first = today - DAYS + 1;
    let tz: chrono_tz::Tz = TZ.parse().map_err(|_| "tz")?;
    let now = svc.now_ms();
    // Registrations per day grow 2x over the window, with quieter weekends.
    let weight = |d: i32| {
        let age = f64::from(d - first) / f64::from(DAYS);
        let weekend = matches!((d + 3).rem_euclid(7), 5 | 6);
        (1.0 + age) * if weekend { 0.8 } else { 1.0 }
    };
    let total_weight: f64 = (first..=today).map(weight).sum();
    let mut users: Vec<(i32, f32)> = Vec::with_capacity(users_total);
    let mut batch: Vec<ValidEvent> = Vec::with_capacity(BATCH + 16);
    let mut stored = 0u64;
    let mut seq = 0u64;
    let started = Instant::now();
    let ev = |seq: &mut u64, user: usize, name: &str, ts: i64, props: Option<Value>| {
        *seq += 1;
        let properties = match props {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        ValidEvent {
            event_id: format!("k{seq}"),
            event_name: name.to_owned(),
            user_id: format!("u{user}"),
            session_id: None,
            ts_ms: ts,
            platform: Some(Platform::Web),
            version: None,
            properties_json: (!properties.is_empty())
                .then(|| Value::Object(properties.clone()).to_string()),
            properties,
        }
    };
    for day in first..=today {
        let new = if day == today {
            users_total - users.len()
        } else {
            ((users_total as f64) * weight(day) / total_weight) as usize
        };
        for _ in 0..new.min(users_total - users.len()) {
            users.push((day, rng.gen_range(0.3..1.7_f32)));
        }
        let start = day_start_ms(day, tz);
        for (u, &(reg, eng)) in users.iter().enumerate() {
            let age = day - reg;
            let p = if age == 0 {
                1.0
            } else {
                f64::from(eng) * (0.18 * (-f64::from(age) / 8.0).exp() + 0.013)
            };
            if !rng.gen_bool(p.min(1.0)) {
                continue;
            }
            // One session: distinct, increasing timestamps.
            let mut t = start + rng.gen_range(8 * 3_600_000..23 * 3_600_000);
            if t > now {
                continue;
            }
            if age == 0 {
                batch.push(ev(&mut seq, u, "user_register_success", t, None));
                t += rng.gen_range(1_000..30_000);
            }
            batch.push(ev(&mut seq, u, "user_login_success", t, None));
            for _ in 0..rng.gen_range(1..=3) {
                t += rng.gen_range(1_000..120_000);
                batch.push(ev(&mut seq, u, "page_view_home", t, None));
            }
            if rng.gen_bool(0.2) {
                t += rng.gen_range(1_000..120_000);
                batch.push(ev(&mut seq, u, "feature_use_export", t, None));
            }
            if rng.gen_bool(0.6) {
                t += rng.gen_range(1_000..120_000);
                batch.push(ev(&mut seq, u, "ai_dialog_start", t, None));
                if rng.gen_bool(0.9) {
                    t += rng.gen_range(1_000..60_000);
                    let ms = (900.0 * rng.gen_range(-1.0..1.5_f64).exp()).round();
                    let props = json!({"success": rng.gen_bool(0.88), "response_ms": ms,
                        "answer_source": if rng.gen_bool(0.6) { "knowledge_base" } else { "generated" }});
                    batch.push(ev(&mut seq, u, "ai_dialog_end", t, Some(props)));
                }
            }
            if batch.len() >= BATCH {
                stored += svc.events().store_valid_events(&batch).await?.0;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            stored += svc.events().store_valid_events(&batch).await?.0;
            batch.clear();
        }
        let done = day - first + 1;
        if done % 10 == 0 || day == today {
            println!(
                "  generated {done}/{DAYS} days: {stored} events, {} users ({:.0} s, {:.0} events/s)",
                users.len(),
                started.elapsed().as_secs_f64(),
                stored as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(stored)
}

/// Writes the raw events as CSV for DuckDB: user_idx, event_name, ts_ms, response_ms.
async fn export_csv(svc: &Services, path: &std::path::Path) -> Result<u64, BoxError> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "user_idx,event_name,ts_ms,response_ms")?;
    let mut after = 0i64;
    let mut n = 0u64;
    loop {
        let rows = sqlx::query(
            "SELECT rowid AS rid, user_idx, event_name, ts_ms, properties FROM events WHERE rowid > $1 ORDER BY rowid LIMIT 200000",
        )
        .bind(after)
        .fetch_all(svc.store().pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("rid")?;
        for r in &rows {
            let name: String = r.try_get("event_name")?;
            let props: Option<String> = r.try_get("properties")?;
            let response = props
                .filter(|_| name == "ai_dialog_end")
                .and_then(|p| serde_json::from_str::<Value>(&p).ok())
                .and_then(|v| v.get("response_ms").and_then(Value::as_f64))
                .map(|v| v.to_string())
                .unwrap_or_default();
            let user: i64 = r.try_get("user_idx")?;
            let ts: i64 = r.try_get("ts_ms")?;
            writeln!(out, "{user},{name},{ts},{response}")?;
            n += 1;
        }
    }
    out.flush()?;
    Ok(n)
}

struct Timing {
    name: &'static str,
    /// The first run (cold caches: funnel slices are loaded from raw events).
    first_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn time_it<T, F, Fut>(
    name: &'static str,
    runs: usize,
    mut f: F,
) -> Result<(Timing, T), BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BoxError>>,
{
    let t = Instant::now();
    let mut last = f().await?; // warm-up (page cache, statement cache, funnel slices)
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        last = f().await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((
        Timing { name, first_ms, p50_ms: percentile(&ms, 0.5), p95_ms: percentile(&ms, 0.95) },
        last,
    ))
}

/// Vigil's answers, for the cross-check with DuckDB.
#[derive(Debug, Default)]
struct Answers {
    dau: Vec<u64>,
    mau: u64,
    /// (cohort size, retained users at offsets 1..=30 (None: not reached)) per cohort day.
    cohorts: Vec<(u64, Vec<Option<f64>>)>,
    funnel7: Vec<u64>,
    funnel30: Vec<u64>,
    funnel90: Vec<u64>,
    p95: Option<f64>,
}

pub async fn run() -> Result<(), BoxError> {
    let users_total: usize = arg("--users", 1_000_000);
    let runs: usize = arg("--runs", 30);
    let default_dir = std::env::temp_dir().join("vigil-bench-kpi");
    let dir = std::path::PathBuf::from(arg("--dir", default_dir.display().to_string()));
    std::fs::create_dir_all(&dir)?;
    let vars = vec![
        ("VIGIL_DATA_DIR".to_owned(), dir.display().to_string()),
        ("VIGIL_REPORTING_TZ".to_owned(), TZ.to_owned()),
        // Keep all 90 days raw: funnels and DuckDB read raw events.
        ("VIGIL_RAW_RETENTION_DAYS".to_owned(), "400".to_owned()),
        ("VIGIL_ROLLUP_RETENTION_DAYS".to_owned(), "400".to_owned()),
        ("VIGIL_LOG".to_owned(), "warn".to_owned()),
    ];
    let config = server::Config::from_sources(None, &vars)?;
    let store = server::wiring::open_store(&config).await.map_err(|e| e.0)?;
    let svc = server::wiring::services_for(&config, store.clone());
    let marker = format!("users={users_total};days={DAYS};seed=2026");
    let have = store.setting("bench_kpi_dataset").await?;
    let events = if have.as_deref() == Some(marker.as_str()) {
        let n = store.count_events().await?;
        println!("kpi benchmark: reusing the data set in {} ({n} events)", dir.display());
        u64::try_from(n).unwrap_or(0)
    } else {
        if store.count_events().await? > 0 {
            return Err(format!(
                "{} holds another data set; remove it or pass --dir",
                dir.display()
            )
            .into());
        }
        println!(
            "kpi benchmark: generating {users_total} users over {DAYS} days into {}",
            dir.display()
        );
        let t = Instant::now();
        let n = generate(&svc, users_total).await?;
        store.set_setting("bench_kpi_dataset", &marker).await?;
        println!(
            "  generation + ingest: {n} events in {:.0} s ({:.0} events/s, rollups included), peak RSS {:.0} MiB",
            t.elapsed().as_secs_f64(),
            n as f64 / t.elapsed().as_secs_f64(),
            peak_rss_mib()
        );
        n
    };
    let db_bytes = std::fs::metadata(dir.join("vigil.db")).map_or(0, |m| m.len());

    // Queries, as the dashboards run them.
    let today = svc.kpis().today();
    let steps: Vec<String> = FUNNEL.iter().map(|s| (*s).to_owned()).collect();
    let rss_before = rss_mib();
    let reset = reset_peak_rss();
    // As `vigil serve` does at start-up: warm the funnel cache in the background. The
    // queries start once it has finished, so the "first run" figures below are what a user
    // meets after the warm-up, whose own time is printed (`--no-warm`: cold first runs).
    let warm_up = if flag("--no-warm") {
        None
    } else {
        let t = Instant::now();
        let warm = svc.clone();
        let task = tokio::spawn(async move { warm.kpis().warm_funnel_cache().await });
        let (slices, events) = task.await??;
        Some((slices, events, t.elapsed().as_secs_f64()))
    };
    let mut timings = Vec::new();
    let mut answers = Answers::default();
    let (t, v) = time_it("DAU series, 90 days", runs, || async {
        Ok(svc.events().dau_series(today - DAYS + 1, today).await?)
    })
    .await?;
    timings.push(t);
    answers.dau = v.into_iter().map(|(_, n)| n).collect();
    let (t, v) = time_it("MAU (30-day union)", runs, || async {
        let sets = svc.events().day_sets("active", today - 29, today).await?;
        Ok(activity::active_in_window(&sets, today, 30))
    })
    .await?;
    timings.push(t);
    answers.mau = v;
    let offsets: Vec<i32> = (1..=30).collect();
    let (t, v) = time_it("cohort table 30×30 (D1…D30)", runs, || async {
        let cohorts = svc.events().day_sets("registered", today - 29, today).await?;
        let active = svc.events().day_sets("active", today - 28, today).await?;
        Ok(activity::cohort_table(&cohorts, &active, today - 29, today, &offsets, today))
    })
    .await?;
    timings.push(t);
    answers.cohorts = v.into_iter().map(|r| (r.size, r.rates)).collect();
    for (label, days) in [
        ("4-step funnel, 7 days", 7),
        ("4-step funnel, 30 days", 30),
        ("4-step funnel, 90 days", 90),
    ] {
        let (t, v) = time_it(label, runs, || async {
            Ok(svc
                .kpis()
                .funnel(
                    &services::Caller::system("bench"),
                    DayRange { from: today - days + 1, to: today },
                    &steps,
                    FUNNEL_WINDOW_MS,
                )
                .await?)
        })
        .await?;
        timings.push(t);
        let counts = v.steps.iter().map(|s| s.users).collect();
        match days {
            7 => answers.funnel7 = counts,
            30 => answers.funnel30 = counts,
            _ => answers.funnel90 = counts,
        }
    }
    let (t, v) = time_it("P95 response, 30 days", runs, || async {
        Ok(svc
            .kpis()
            .response_quantile(
                &services::Caller::system("bench"),
                DayRange { from: today - 29, to: today },
                0.95,
            )
            .await?)
    })
    .await?;
    timings.push(t);
    answers.p95 = v;
    let query_peak = peak_rss_mib();

    // DuckDB over the same raw events.
    let csv = dir.join("events.csv");
    let parquet = dir.join("events.parquet");
    if !parquet.exists() {
        let t = Instant::now();
        let n = export_csv(&svc, &csv).await?;
        println!("  exported {n} raw events to CSV in {:.0} s", t.elapsed().as_secs_f64());
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/duckdb_kpi.py");
    let tz = chrono_tz::Asia::Shanghai;
    let params = json!({
        "csv": csv, "parquet": parquet, "today": today, "tz_offset_ms": TZ_OFFSET_MS,
        "runs": runs, "steps": FUNNEL, "window_ms": FUNNEL_WINDOW_MS,
        "funnels": [
            {"label": "7", "from_ms": day_start_ms(today - 6, tz), "end_ms": day_start_ms(today + 1, tz)},
            {"label": "30", "from_ms": day_start_ms(today - 29, tz), "end_ms": day_start_ms(today + 1, tz)},
            {"label": "90", "from_ms": day_start_ms(today - 89, tz), "end_ms": day_start_ms(today + 1, tz)}
        ],
        "p95_from_ms": day_start_ms(today - 29, tz), "p95_end_ms": day_start_ms(today + 1, tz),
    });
    let output =
        std::process::Command::new("python3").arg(&script).arg(params.to_string()).output()?;
    if !output.status.success() {
        return Err(format!(
            "DuckDB side failed (pip install duckdb?): {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let duck: Value = serde_json::from_slice(&output.stdout)?;
    if !flag("--keep") {
        let _ = std::fs::remove_file(&csv);
    }

    println!();
    println!(
        "KPI query benchmark: {events} events, {users_total} users, {DAYS} days, SQLite {:.1} GiB; {runs} runs after a warm-up",
        db_bytes as f64 / f64::from(1u32 << 30)
    );
    println!(
        "  DuckDB {} over Parquet ({} rows; CSV → Parquet {:.1} s, not counted)",
        duck["version"].as_str().unwrap_or("?"),
        duck["rows"],
        duck["load_s"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "  {:<30} {:>11} {:>10} {:>10} {:>12} {:>12} {:>12} {:>14} {:>6}",
        "query",
        "Vigil 1st",
        "Vigil p50",
        "Vigil p95",
        "DuckDB 1st",
        "DuckDB p50",
        "DuckDB p95",
        "DuckDB/Vigil",
        "same?"
    );
    let same = cross_check(&answers, &duck);
    let keys = ["dau", "mau", "cohort", "funnel7", "funnel30", "funnel90", "p95"];
    for (t, key) in timings.iter().zip(keys) {
        let d = &duck["queries"][key];
        let (dfirst, dp50, dp95) = (
            d["first_ms"].as_f64().unwrap_or(f64::NAN),
            d["p50_ms"].as_f64().unwrap_or(f64::NAN),
            d["p95_ms"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "  {:<30} {:>9.1}ms {:>8.2}ms {:>8.2}ms {:>10.1}ms {:>10.2}ms {:>10.2}ms {:>13.1}× {:>6}",
            t.name,
            t.first_ms,
            t.p50_ms,
            t.p95_ms,
            dfirst,
            dp50,
            dp95,
            dp50 / t.p50_ms,
            same.get(key)
                .map_or("?", |ok| if *ok { "yes" } else { "NO" })
        );
    }
    println!("  (goal: Vigil p95 < 50 ms per query; DuckDB/Vigil = DuckDB p50 / Vigil p50, > 1 means Vigil is faster)");
    match warm_up {
        Some((slices, events, s)) => println!(
            "  funnel warm-up at start-up (last 30 days, every event name): {slices} slices, {events} events in {s:.2} s, in the background; the queries started after it"
        ),
        None => println!("  no funnel warm-up (--no-warm): funnel first runs load their slices"),
    }
    let (hits, misses) = svc.kpis().funnel_cache_stats();
    println!("  funnel slice cache: {hits} hits, {misses} misses (misses = slices loaded from raw events on first use)");
    println!(
        "  peak RSS while querying: {:.0} MiB (RSS before the queries {:.0} MiB{})",
        query_peak,
        rss_before,
        if reset { "" } else { "; peak not reset, figure includes generation" }
    );
    if let Some(d) = duck["peak_rss_mib"].as_f64() {
        println!("  DuckDB process peak RSS: {d:.0} MiB");
    }
    store.close().await;
    if same.values().any(|ok| !ok) {
        return Err("Vigil and DuckDB disagree on some answers (see `same?`)".into());
    }
    Ok(())
}

fn cross_check(a: &Answers, duck: &Value) -> std::collections::HashMap<&'static str, bool> {
    let q = &duck["queries"];
    let ints = |v: &Value| -> Vec<u64> {
        v.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
    };
    let mut out = std::collections::HashMap::new();
    out.insert("dau", ints(&q["dau"]["result"]) == a.dau);
    out.insert("mau", q["mau"]["result"].as_u64() == Some(a.mau));
    // Cohorts: [[size, retained_1, …, retained_30]] per day; rates compared exactly.
    let cohorts_ok = q["cohort"]["result"].as_array().is_some_and(|rows| {
        rows.len() == a.cohorts.len()
            && rows.iter().zip(&a.cohorts).all(|(row, (size, rates))| {
                let r = ints(row);
                r.first() == Some(size)
                    && rates.iter().enumerate().all(|(i, rate)| match rate {
                        None => true,
                        Some(rate) => r
                            .get(i + 1)
                            .is_some_and(|k| (*k as f64 / *size as f64 - rate).abs() < 1e-12),
                    })
            })
    });
    out.insert("cohort", cohorts_ok);
    out.insert("funnel7", ints(&q["funnel7"]["result"]) == a.funnel7);
    out.insert("funnel30", ints(&q["funnel30"]["result"]) == a.funnel30);
    out.insert("funnel90", ints(&q["funnel90"]["result"]) == a.funnel90);
    // The sketch guarantees 1 % relative error against the exact quantile.
    let p95_ok = match (q["p95"]["result"].as_f64(), a.p95) {
        (Some(exact), Some(approx)) => ((approx - exact) / exact).abs() <= 0.01,
        _ => false,
    };
    out.insert("p95", p95_ok);
    out
}
