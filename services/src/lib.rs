//! Vigil's use cases: the only API that server functions, REST handlers and background
//! loops call. Each call checks the caller's role, validates input (naming the field), and
//! orchestrates `store` + `domain` with an injected [`Clock`].

pub mod accounts;
pub mod alerting;
pub mod caller;
pub mod changes;
pub mod charts;
pub mod clock;
pub mod demo;
pub mod error;
pub mod events;
mod funnel;
pub mod incidents;
pub mod kpi;
pub mod notify;
pub mod oncall;
pub mod probes;
pub mod prometheus;
pub mod rollups;
pub mod rulefile;
pub mod timefmt;
pub mod traffic;

use std::sync::{Arc, Mutex};

pub use accounts::{CreatedApiKey, LoginOk};
pub use caller::{Caller, Principal};
pub use clock::{Clock, FakeClock, SystemClock};
use domain::ratelimit::FailureWindow;
pub use error::{Result, ServiceError};
use store::Store;

/// Tunables of the account rules (from the server's `Config`).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session lives this long after its last use.
    pub session_ttl_ms: i64,
    /// Failed sign-ins allowed per account and IP inside `login_window_ms`.
    pub login_max_failures: usize,
    pub login_window_ms: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl_ms: 7 * 24 * 3600 * 1000,
            login_max_failures: 5,
            login_window_ms: 60_000,
        }
    }
}

/// The service facade. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    store: Store,
    clock: Arc<dyn Clock>,
    auth: AuthSettings,
    login_failures: Arc<Mutex<FailureWindow>>,
    events: events::EventSettings,
    ingest_lock: Arc<tokio::sync::Mutex<()>>,
    funnel_cache: funnel::SharedFunnelCache,
    /// Client for notification webhooks (10 s timeout, connection pool shared).
    http: reqwest::Client,
    /// Where users reach Vigil, for links in notifications.
    public_url: String,
    /// The Prometheus data source for PromQL rules, if configured.
    prometheus_url: Option<String>,
    /// Metric and label names of the API traffic panel's queries.
    traffic: traffic::TrafficSettings,
    /// How many alert groups' notifications are sent at once.
    delivery_concurrency: usize,
    /// When firing alerts were last checked for incidents to open (epoch ms).
    incident_scan_at_ms: Arc<std::sync::atomic::AtomicI64>,
    /// One permit per core: argon2 runs (sign-in, password changes) at most this many at
    /// a time.
    hash_permits: Arc<tokio::sync::Semaphore>,
}

/// Declares the per-aggregate handles of [`Services`]: `svc.incidents()`, `svc.oncall()`,
/// … Each is a borrowed view whose methods are that aggregate's use cases; shared
/// machinery (store, clock, settings) is reached through `Deref`.
macro_rules! handles {
    ($($(#[$doc:meta])* $method:ident => $handle:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy)]
            pub struct $handle<'a>(&'a Services);

            impl std::ops::Deref for $handle<'_> {
                type Target = Services;
                fn deref(&self) -> &Services {
                    self.0
                }
            }
        )*

        impl Services {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> $handle<'_> {
                    $handle(self)
                }
            )*
        }
    };
}

handles! {
    /// Users, sessions, sign-in, API keys, the audit log, one's own account.
    accounts => Accounts;
    /// Alert rules: editing, evaluation, backtests, rule files, PromQL.
    alerting => Alerting;
    /// Notification channels, routing policy, silences, deliveries, Alertmanager alerts.
    notify => Notify;
    /// Incidents, their timeline and roles, postmortems, action items, reports.
    incidents => Incidents;
    /// Schedules, overrides, contacts, escalation policies and pages, links and feeds.
    oncall => Oncall;
    /// KPI dashboards and funnels.
    kpis => Kpis;
    /// Event ingestion, rollups and retention.
    events => Events;
    /// Synthetic probes and their SLOs.
    probes => Probes;
    /// The change log: deploys, configuration changes, feature flags.
    changes => Changes;
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("backend", &self.store.backend())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Services {
    pub fn new(store: Store, clock: Arc<dyn Clock>, auth: AuthSettings) -> Self {
        let window = FailureWindow::new(auth.login_max_failures, auth.login_window_ms);
        Self {
            store,
            clock,
            auth,
            login_failures: Arc::new(Mutex::new(window)),
            events: events::EventSettings::default(),
            ingest_lock: Arc::new(tokio::sync::Mutex::new(())),
            funnel_cache: Arc::new(Mutex::new(funnel::FunnelCache::new(
                funnel::FUNNEL_CACHE_BYTES,
            ))),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .user_agent(concat!("Vigil/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
            public_url: "http://127.0.0.1:3000".into(),
            prometheus_url: None,
            traffic: traffic::TrafficSettings::default(),
            delivery_concurrency: 16,
            incident_scan_at_ms: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            hash_permits: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// How many password hashes may run at once (default: the number of cores).
    pub fn with_hash_concurrency(mut self, n: usize) -> Self {
        self.hash_permits = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// The Prometheus base URL PromQL rules query (`None`: PromQL rules report an error).
    pub fn with_prometheus(mut self, url: Option<&str>) -> Self {
        self.prometheus_url = url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// Metric and label names of the API traffic panel (checked by the caller).
    pub fn with_traffic(mut self, settings: traffic::TrafficSettings) -> Self {
        self.traffic = settings;
        self
    }

    /// How many alert groups' notifications are delivered at once (at least 1; 16 by
    /// default). Messages of one group are always sent in order.
    pub fn with_delivery_concurrency(mut self, n: usize) -> Self {
        self.delivery_concurrency = n.max(1);
        self
    }

    /// The address users reach Vigil at, for links in notifications.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.trim_end_matches('/').to_owned();
        self
    }

    /// Replaces the event pipeline settings (reporting time zone, retention).
    pub fn with_event_settings(mut self, settings: events::EventSettings) -> Self {
        self.events = settings;
        self
    }

    /// Where users reach Vigil (no trailing slash), for links.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Who acts, and when (now): what every audited write is stamped with.
    pub(crate) fn audit_ctx(&self, actor: &Caller) -> store::AuditCtx {
        actor.audit(self.now_ms())
    }

    /// Readiness: the database answers.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await.map_err(ServiceError::from)
    }

    // ---------------------------------------------------------------- machinery
    // What the engine and the command line run for no one: leases, sweeps, shutdown.

    /// Takes or renews the lease `name` for `holder` until `ttl_ms` from now; `false`
    /// while another replica holds it.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool> {
        Ok(self.store.try_lease(name, holder, self.now_ms(), ttl_ms).await?)
    }

    /// Hands the lease `name` over (another replica may take it at once).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        Ok(self.store.release_lease(name, holder).await?)
    }

    /// Deletes the sessions past their expiry; returns how many.
    pub async fn sweep_sessions(&self) -> Result<u64> {
        Ok(self.store.delete_expired_sessions(self.now_ms()).await?)
    }

    /// How many raw events are stored (the demo loader and benchmarks).
    pub async fn stored_event_count(&self) -> Result<i64> {
        Ok(self.store.count_events().await?)
    }

    /// Closes the database connections (end of a command).
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// Checks a database URL (`sqlite://…` or `postgres://…`) without connecting; the
/// message names what is wrong.
pub fn check_database_url(url: &str) -> Result<(), String> {
    store::Backend::from_url(url).map(|_| ()).map_err(|e| e.to_string())
}
