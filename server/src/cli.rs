//! The commands: `vigil serve | migrate | demo | rollup rebuild | user add | apikey add |
//! rules import | rules export`.

use crate::config::{Config, LogFormat};
use crate::metrics::Metrics;
use crate::router::{build_router, AppState};
use crate::wiring::open_services;
use app::session::cookies::CookiePolicy;
use clap::{Parser, Subcommand};
use leptos::prelude::LeptosOptions;
use services::accounts::CreateUser;
use services::Caller;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "vigil", version, about = "Product monitoring and incident response console")]
pub struct Cli {
    /// TOML configuration file (also VIGIL_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web console and API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the 90-day demo data set (skipped when events already exist, unless --force).
    Demo {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// 1.0 ≈ 50 000 users and 3 M events (also VIGIL_DEMO_SCALE).
        #[arg(long, env = "VIGIL_DEMO_SCALE", default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 90)]
        days: i32,
        #[arg(long)]
        force: bool,
    },
    /// Rollup maintenance.
    Rollup {
        #[command(subcommand)]
        command: RollupCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API keys for machines.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Alert rules in Prometheus' rule-file format (PromQL rules).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// The notification routing tree in Alertmanager's configuration format.
    Routing {
        #[command(subcommand)]
        command: RoutingCommand,
    },
    /// The change log (deploys, configuration changes, feature flags).
    Changes {
        #[command(subcommand)]
        command: ChangesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChangesCommand {
    /// Record a change, e.g. from a deploy script. With --server (or VIGIL_SERVER) it is
    /// sent to that Vigil with an API key of scope `changes` (VIGIL_API_KEY); without, it
    /// is written to this installation's database.
    Add(ChangeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// The service that changed, as its `service` label says (e.g. checkout).
    #[arg(long)]
    pub service: String,
    /// deploy, config or flag.
    #[arg(long, default_value = "deploy")]
    pub kind: String,
    #[arg(long, default_value = "")]
    pub version: String,
    #[arg(long, default_value = "")]
    pub author: String,
    #[arg(long, default_value = "")]
    pub description: String,
    /// A link to the pipeline run, pull request or flag.
    #[arg(long, default_value = "")]
    pub link: String,
    /// When it happened, RFC 3339 (e.g. 2026-12-07T10:00:00Z); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// Your id for it: sending the same id again records nothing new (safe to retry).
    #[arg(long)]
    pub id: Option<String>,
    /// A Vigil to send it to (e.g. https://vigil.example.com).
    #[arg(long, env = "VIGIL_SERVER")]
    pub server: Option<String>,
    /// An API key of scope `changes`, for --server.
    #[arg(long, env = "VIGIL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// Replace the routing tree with an Alertmanager configuration's `route` and
    /// `inhibit_rules` (`-` reads standard input); prints what the file had that Vigil does
    /// not use.
    Import { file: PathBuf },
    /// Print the routing tree as an Alertmanager configuration (`amtool check-config`
    /// accepts it).
    Export,
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key and print it (shown once).
    Add {
        #[arg(long)]
        name: String,
        /// ingest (events, integrations), read, or changes (recording deploys).
        #[arg(long, default_value = "ingest")]
        scope: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Import a Prometheus rule file (`-` reads standard input): alerts are created, or
    /// updated by name; rules the file describes exactly as stored are left alone.
    Import { file: PathBuf },
    /// Print the PromQL rules as a Prometheus rule file.
    Export,
}

#[derive(Debug, Subcommand)]
pub enum RollupCommand {
    /// Recompute the rollups of a day and every later day from the raw events, in one
    /// transaction (ingestion waits meanwhile). Without --from: every day whose raw events
    /// are all still kept (the raw retention window).
    Rebuild {
        /// First day to rebuild, YYYY-MM-DD in the reporting time zone.
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// viewer, responder, editor or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Password (at least 10 characters); also VIGIL_NEW_USER_PASSWORD. Generated and
        /// printed when absent.
        #[arg(long, env = "VIGIL_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

/// Logs go to standard error, for every subcommand: standard output carries only what
/// the command prints (a rule file, an API key, the first-start admin), so that
/// `vigil rules export > rules.yml` is a rule file. Colour only when stderr is a terminal.
pub fn init_tracing(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Leptos options: cargo-leptos' environment when present, our config for paths.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    // Under `cargo leptos watch|serve` the LEPTOS_* variables are set; a plain run of the
    // binary uses Vigil's own settings (and avoids leptos' warning about the missing name).
    let mut options = if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        leptos::prelude::get_configuration(None)
            .map(|c| c.leptos_options)
            .unwrap_or_else(|_| LeptosOptions::builder().output_name("vigil").build())
    } else {
        LeptosOptions::builder().output_name("vigil").build()
    };
    if options.output_name.is_empty() {
        options.output_name = "vigil".into();
    }
    options.site_root = config.site_root.to_string_lossy().into_owned().into();
    options.site_addr = config.addr;
    options
}

pub async fn serve(config: Config) -> anyhow_like::Result<()> {
    let services = open_services(&config).await?;
    let bootstrap = match services
        .accounts()
        .bootstrap_admin(&config.admin_email, config.admin_password.as_deref())
        .await
    {
        Ok(created) => created,
        // Serve anyway (the API and links still work), and say loudly what to do.
        Err(services::ServiceError::Invalid(e)) => {
            tracing::error!(problem = %e, "no admin account can sign in");
            None
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(password) = bootstrap {
        let shown = if config.admin_password.is_some() {
            "(from VIGIL_ADMIN_PASSWORD)"
        } else {
            password.as_str()
        };
        println!();
        println!("  ┌─ Vigil first start ───────────────────────────────────────");
        println!("  │ Admin account created. Sign in at {}", config.public_url);
        println!("  │   email:    {}", config.admin_email);
        println!("  │   password: {shown}");
        println!("  │ Change it under Settings after signing in.");
        println!("  └────────────────────────────────────────────────────────────");
        println!();
    }
    match services.alerting().seed_default_rules().await {
        Ok(n) if n > 0 => tracing::info!(rules = n, "default alert rules added"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not add the default alert rules"),
    }
    let metrics = Metrics::default();
    let state = AppState {
        services: services.clone(),
        leptos: leptos_options(&config),
        metrics: metrics.clone(),
        cookie_policy: CookiePolicy { secure: config.secure_cookies() },
        max_body_bytes: config.max_body_bytes,
        edge: config.edge_policy(),
    };
    let router = build_router(state);
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow_like::Error(format!("cannot listen on {}: {e}", config.addr)))?;
    tracing::info!(addr = %config.addr, public_url = %config.public_url, "Vigil listening");

    // Housekeeping, hourly: expired sessions, and events/rollups past their retention.
    let gc = services.clone();
    let gc_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = gc.sweep_sessions().await {
                tracing::warn!(error = %e, "session cleanup failed");
            }
            match gc.events().run_retention().await {
                Ok((raw, rollups)) if raw + rollups > 0 => {
                    tracing::info!(raw, rollups, "retention: deleted old events and rollups");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention job failed"),
            }
        }
    });

    let engine = crate::engine::spawn(services.clone(), config.engine_tick_secs, metrics);

    // Funnel slices of the recent days, loaded in the background so that the first funnels
    // after a start find them (ADR 0004); from then on ingests keep them fresh.
    let warm = services.clone();
    let warm_task = tokio::spawn(async move {
        let t = std::time::Instant::now();
        match warm.kpis().warm_funnel_cache().await {
            Ok((slices, events)) => tracing::info!(
                slices,
                events,
                ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX),
                "funnel cache warmed"
            ),
            Err(e) => tracing::warn!(error = %e, "funnel cache warm-up failed"),
        }
    });

    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| anyhow_like::Error(e.to_string()))?;
    gc_task.abort();
    warm_task.abort();
    if let Some(engine) = engine {
        engine.stop().await;
    }
    services.close().await;
    tracing::info!("Vigil stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

pub async fn user_add(
    config: Config,
    email: String,
    name: Option<String>,
    role: String,
    password: Option<String>,
) -> anyhow_like::Result<()> {
    let services = open_services(&config).await?;
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| {
        use rand::Rng;
        let n: u128 = rand::thread_rng().gen();
        format!("{n:032x}")[..18].to_owned()
    });
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
    let input = CreateUser { email, name, role, password: password.clone() };
    match services.accounts().create_user(&Caller::system("cli"), &input).await {
        Ok(u) => {
            println!("created user {} ({}) with role {}", u.email, u.id, u.role);
            if generated {
                println!("password: {password}");
            }
            services.close().await;
            Ok(())
        }
        Err(services::ServiceError::Invalid(errs)) => {
            services.close().await;
            Err(anyhow_like::Error(format!("invalid user: {errs}")))
        }
        Err(e) => {
            services.close().await;
            Err(e.into())
        }
    }
}

/// A tiny error type for the binary: a message, printed by `main`.
pub mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl<E: std::error::Error> From<E> for Error {
        fn from(e: E) -> Self {
            Error(e.to_string())
        }
    }

    pub type Result<T> = std::result::Result<T, Error>;
}

pub async fn demo(
    config: Config,
    seed: u64,
    scale: f64,
    days: i32,
    force: bool,
) -> anyhow_like::Result<()> {
    if !(0.001..=10.0).contains(&scale) {
        return Err(anyhow_like::Error("--scale must be between 0.001 and 10".into()));
    }
    if !(1..=365).contains(&days) {
        return Err(anyhow_like::Error("--days must be between 1 and 365".into()));
    }
    let services = open_services(&config).await?;
    let existing = services.stored_event_count().await?;
    if existing > 0 && !force {
        println!("demo: {existing} events already stored; no events added (use --force to add the demo set anyway)");
        demo_probes(&services, seed).await?;
        services.close().await;
        return Ok(());
    }
    let started = std::time::Instant::now();
    println!(
        "demo: generating {days} days (seed {seed}, scale {scale}) in time zone {}",
        config.reporting_tz
    );
    let opts = services::demo::DemoOptions { seed, days, scale };
    let report = services
        .load_demo(&opts, |done, of| {
            if done % 10 == 0 || done == of {
                println!("demo: {done}/{of} days");
            }
        })
        .await?;
    println!(
        "demo: loaded {} events for {} users over {} days in {:.1} s",
        report.events,
        report.users,
        report.days,
        started.elapsed().as_secs_f64()
    );
    demo_probes(&services, seed).await?;
    services.close().await;
    Ok(())
}

async fn demo_probes(services: &services::Services, seed: u64) -> anyhow_like::Result<()> {
    let runs = services.load_demo_probes(seed).await?;
    if runs > 0 {
        println!("demo: added 2 probes of Vigil's own health endpoints with {runs} past checks");
    }
    let schedules = services.oncall().load_demo_oncall().await?;
    if schedules > 0 {
        println!("demo: added the on-call roster (Primary on-call, Weekend backup), its team and a P0/P1 paging policy");
    }
    let channels = services.notify().load_demo_routing().await?;
    if channels > 0 {
        println!("demo: added the default routing tree's channels (phone, feishu, email; disabled until you point them somewhere) and paging for P0/P1");
    }
    let incidents = services.incidents().load_demo_incidents(seed).await?;
    if incidents > 0 {
        println!("demo: added {incidents} incidents over the last 80 days, with postmortems and action items");
    }
    let changes = services.changes().load_demo_changes(seed).await?;
    if changes > 0 {
        println!(
            "demo: added {changes} changes (deploys, configuration, flags) over the last 30 days"
        );
    }
    Ok(())
}

pub async fn rollup_rebuild(config: Config, from: Option<String>) -> anyhow_like::Result<()> {
    let from_day = match from.as_deref() {
        None => None,
        Some(s) => Some(domain::kpi::calendar::parse_day(s).ok_or_else(|| {
            anyhow_like::Error(format!("--from: `{s}` is not a date (YYYY-MM-DD)"))
        })?),
    };
    let services = open_services(&config).await?;
    let first = from_day.unwrap_or_else(|| services.events().first_rebuildable_day());
    println!(
        "rollup rebuild: from {} ({}), replaying raw events",
        domain::kpi::calendar::format_day(first),
        config.reporting_tz
    );
    let started = std::time::Instant::now();
    let mut last_print = 0u64;
    let result = services
        .events()
        .rebuild_rollups(from_day, "cli", |n| {
            if n >= last_print + 500_000 {
                println!("rollup rebuild: {n} events replayed");
                last_print = n;
            }
        })
        .await;
    services.close().await;
    let report = result.map_err(|e| match e {
        services::ServiceError::Invalid(errs) => {
            anyhow_like::Error(format!("rollup rebuild: {errs}"))
        }
        e => anyhow_like::Error(e.to_string()),
    })?;
    println!(
        "rollup rebuild: done in {:.1} s: {} events replayed, {} old rows replaced, {} registrations",
        started.elapsed().as_secs_f64(),
        report.events,
        report.rows_deleted,
        report.registrations
    );
    Ok(())
}

pub async fn apikey_add(config: Config, name: String, scope: String) -> anyhow_like::Result<()> {
    let services = open_services(&config).await?;
    let created = services.accounts().create_api_key(&Caller::system("cli"), &name, &scope).await;
    services.close().await;
    let created = created?;
    println!("{}", created.secret);
    Ok(())
}

/// A file's text, or standard input's for `-`.
fn read_input(file: &PathBuf) -> anyhow_like::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow_like::Error(format!("cannot read standard input: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| anyhow_like::Error(format!("cannot read {}: {e}", file.display())))
    }
}

pub async fn routing_import(config: Config, file: PathBuf) -> anyhow_like::Result<()> {
    let yaml = read_input(&file)?;
    let services = open_services(&config).await?;
    let cli = Caller::system("cli");
    let done = match services.notify().routing(&cli).await {
        Ok(view) => services.notify().import_routing(&cli, &yaml, view.version).await,
        Err(e) => Err(e),
    };
    services.close().await;
    let done = done?;
    println!("routing: replaced (version {})", done.version);
    for s in done.skipped {
        println!("skipped: {s}");
    }
    Ok(())
}

pub async fn routing_export(config: Config) -> anyhow_like::Result<()> {
    let services = open_services(&config).await?;
    let yaml = services.notify().export_routing(&Caller::system("cli")).await;
    services.close().await;
    print!("{}", yaml?);
    Ok(())
}

pub async fn rules_import(config: Config, file: PathBuf) -> anyhow_like::Result<()> {
    let yaml = read_input(&file)?;
    let services = open_services(&config).await?;
    let report = services.alerting().import_prometheus_rules(&Caller::system("cli"), &yaml).await;
    services.close().await;
    let report = report?;
    println!(
        "rules: {} created, {} updated, {} unchanged, {} recording rules skipped",
        report.created, report.updated, report.unchanged, report.skipped_recording
    );
    Ok(())
}

pub async fn rules_export(config: Config) -> anyhow_like::Result<()> {
    let services = open_services(&config).await?;
    let yaml = services.alerting().export_prometheus_rules(&Caller::system("cli")).await;
    services.close().await;
    print!("{}", yaml?);
    Ok(())
}

/// `vigil changes add`: over HTTP to `--server`, or into the local database.
pub async fn changes_add(config: Config, a: ChangeArgs) -> anyhow_like::Result<()> {
    let at_ms = match a.at.as_deref() {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t.trim())
                .map_err(|e| {
                    anyhow_like::Error(format!("--at: {t:?} is not an RFC 3339 time ({e})"))
                })?
                .timestamp_millis(),
        ),
    };
    let spec = domain::changes::ChangeSpec {
        service: a.service,
        kind: a.kind,
        version: a.version,
        author: a.author,
        description: a.description,
        url: a.link,
        at_ms,
        id: a.id,
    };
    let (change, new) = match a.server.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(server) => {
            post_change(server, a.api_key.as_deref().unwrap_or_default(), &spec).await?
        }
        None => {
            let services = open_services(&config).await?;
            let done = services.changes().record_change(&Caller::system("cli"), &spec).await;
            services.close().await;
            done?
        }
    };
    println!(
        "change #{} {}: {} {} {}",
        change.id,
        if new { "recorded" } else { "was recorded before (same --id)" },
        change.kind.as_str(),
        change.service,
        change.version
    );
    Ok(())
}

async fn post_change(
    server: &str,
    key: &str,
    spec: &domain::changes::ChangeSpec,
) -> anyhow_like::Result<(domain::changes::Change, bool)> {
    if key.trim().is_empty() {
        return Err(anyhow_like::Error(
            "--server needs an API key of scope `changes` (--api-key or VIGIL_API_KEY)".into(),
        ));
    }
    let url = format!("{}/api/v1/changes", server.trim_end_matches('/'));
    let res = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| anyhow_like::Error(e.to_string()))?
        .post(&url)
        .bearer_auth(key.trim())
        .json(spec)
        .send()
        .await
        .map_err(|e| anyhow_like::Error(format!("cannot reach {url}: {e}")))?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(anyhow_like::Error(format!("{url} answered {status}: {body}")));
    }
    let change = serde_json::from_str(&body)
        .map_err(|e| anyhow_like::Error(format!("{url} answered {body:?}: {e}")))?;
    Ok((change, status == reqwest::StatusCode::CREATED))
}
