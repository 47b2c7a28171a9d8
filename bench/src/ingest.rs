//! `vigil-bench ingest`: HTTP ingest throughput vs a raw SQLite bulk insert.

use crate::peak_rss_mib;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One minimal HTTP/1.1 POST; returns the status code.
async fn post(addr: std::net::SocketAddr, key: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let status = String::from_utf8_lossy(&out[..out.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

const NAMES: [&str; 3] = ["user_login_success", "page_view_home", "feature_use_export"];

fn batch(start: usize, n: usize, now_ms: i64) -> Vec<u8> {
    let events: Vec<serde_json::Value> = (start..start + n)
        .map(|i| {
            let name = NAMES[i % 3];
            serde_json::json!({
                "event_id": format!("bench-{i}"),
                "event_name": name,
                "user_id": format!("user-{}", i % 50_000),
                "timestamp": now_ms - (i as i64 % 86_400_000),
                "platform": "web",
                "properties": {"source": "bench"}
            })
        })
        .collect();
    serde_json::to_vec(&events).unwrap_or_default()
}

pub async fn run(total: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("vigil-bench-{}", std::process::id()));
    let vars = vec![
        ("VIGIL_DATA_DIR".to_owned(), dir.join("http").display().to_string()),
        ("VIGIL_LOG".to_owned(), "warn".to_owned()),
    ];
    let config = server::Config::from_sources(None, &vars)?;
    let store = server::wiring::open_store(&config).await.map_err(|e| e.0)?;
    let services = server::wiring::services_for(&config, store.clone());
    let admin = services
        .accounts()
        .create_user(
            &services::Caller::system("bench"),
            &services::accounts::CreateUser {
                email: "bench@example.com".into(),
                name: "bench".into(),
                role: "admin".into(),
                password: "bench-password".into(),
            },
        )
        .await?;
    let login =
        services.accounts().login(&admin.email, "bench-password", "127.0.0.1", "bench").await?;
    let actor = services
        .accounts()
        .session_actor(&login.session_token, "127.0.0.1")
        .await?
        .ok_or("no session")?;
    let key = services.accounts().create_api_key(&actor, "bench", "ingest").await?.secret;
    let state = server::AppState {
        services: services.clone(),
        leptos: server::cli::leptos_options(&config),
        metrics: server::metrics::Metrics::default(),
        cookie_policy: app::session::cookies::CookiePolicy::default(),
        max_body_bytes: config.max_body_bytes,
        edge: config.edge_policy(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = server::build_router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });

    let now_ms = services.now_ms();
    let per_batch = 1_000;
    let batches: Vec<Vec<u8>> =
        (0..total / per_batch).map(|b| batch(b * per_batch, per_batch, now_ms)).collect();
    let batches = Arc::new(batches);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (batches, next, key) = (batches.clone(), next.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(body) = batches.get(i) else { break };
                match post(addr, &key, body).await {
                    Ok(200) => {}
                    other => eprintln!("batch {i}: {other:?}"),
                }
            }
        }));
    }
    for c in clients {
        c.await?;
    }
    let http_secs = started.elapsed().as_secs_f64();
    let stored = store.count_events().await?;
    let http_rate = stored as f64 / http_secs;

    // The same batches straight into the service (no HTTP, one caller), on a fresh database:
    // separates the HTTP/JSON cost from the storage cost.
    let vars = vec![("VIGIL_DATA_DIR".to_owned(), dir.join("direct").display().to_string())];
    let direct_config = server::Config::from_sources(None, &vars)?;
    let direct_store = server::wiring::open_store(&direct_config).await.map_err(|e| e.0)?;
    let direct = server::wiring::services_for(&direct_config, direct_store.clone());
    let bench = services::Caller::system("bench");
    let started = Instant::now();
    for body in batches.iter() {
        direct.events().ingest_events(&bench, body, false).await?;
    }
    let direct_secs = started.elapsed().as_secs_f64();
    let direct_rate = direct_store.count_events().await? as f64 / direct_secs;

    // Raw SQLite: the same rows, one transaction, one prepared statement, typed sqlx pool.
    let raw_path = dir.join("raw.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&raw_path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal),
        )
        .await?;
    sqlx::query(
        "CREATE TABLE events (event_id TEXT PRIMARY KEY, user_idx INTEGER NOT NULL, event_name TEXT NOT NULL,
         ts_ms INTEGER NOT NULL, session_id TEXT, platform TEXT, version TEXT, properties TEXT, received_at_ms INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query("CREATE INDEX events_ts ON events (ts_ms)").execute(&pool).await?;
    sqlx::query("CREATE INDEX events_name_ts_user ON events (event_name, ts_ms, user_idx)")
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    for i in 0..(total / per_batch * per_batch) {
        sqlx::query("INSERT INTO events VALUES (?, ?, ?, ?, NULL, 'web', NULL, ?, ?)")
            .bind(format!("bench-{i}"))
            .bind((i % 50_000) as i64)
            .bind(NAMES[i % 3])
            .bind(now_ms - (i as i64 % 86_400_000))
            .bind(r#"{"source":"bench"}"#)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let raw_secs = started.elapsed().as_secs_f64();
    let raw_rate = (total / per_batch * per_batch) as f64 / raw_secs;

    println!(
        "ingest benchmark ({} events, batches of {per_batch}, 4 clients, loopback, SQLite)",
        stored
    );
    println!(
        "  vigil HTTP ingest : {http_rate:>10.0} events/s  ({http_secs:.2} s, rollups included)"
    );
    println!("  service, no HTTP  : {direct_rate:>10.0} events/s  ({direct_secs:.2} s, one caller, rollups included)");
    println!(
        "  raw SQLite insert : {raw_rate:>10.0} rows/s    ({raw_secs:.2} s, same rows, no rollups)"
    );
    println!("  ratio             : {:.2}  (goal ≥ 0.5)", http_rate / raw_rate);
    println!(
        "  peak RSS          : {:.0} MiB (whole process: server + clients + raw insert)",
        peak_rss_mib()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
