//! The composition root: the one place that knows the store. It connects and migrates
//! the database and hands the rest of the server a [`Services`]; everything else in
//! `server` (and all of `app`) reaches data only through the services.

use crate::cli::anyhow_like;
use crate::config::Config;
use services::{AuthSettings, Services, SystemClock};
use std::sync::Arc;
use store::{ConnectOptions, Store};

/// Connects and migrates.
pub async fn open_store(config: &Config) -> anyhow_like::Result<Store> {
    let store = Store::connect(
        &config.database_url,
        &ConnectOptions { max_connections: config.database_max_connections, ..Default::default() },
    )
    .await?;
    let applied = store.migrate().await?;
    tracing::info!(backend = store.backend().as_str(), applied, "database ready");
    Ok(store)
}

pub fn services_for(config: &Config, store: Store) -> Services {
    let events = services::events::EventSettings {
        reporting_tz: config.reporting_tz.parse().unwrap_or(chrono_tz::Tz::UTC),
        raw_retention_days: config.raw_retention_days,
        rollup_retention_days: config.rollup_retention_days,
        reporting_currency: config.reporting_currency.clone(),
    };
    Services::new(
        store,
        Arc::new(SystemClock),
        AuthSettings {
            session_ttl_ms: config.session_ttl_hours * 3_600_000,
            login_max_failures: config.login_max_failures,
            login_window_ms: 60_000,
        },
    )
    .with_event_settings(events)
    .with_public_url(&config.public_url)
    .with_prometheus(config.prometheus_url.as_deref())
    .with_traffic(config.traffic.clone())
}

/// Connects, migrates and wires the services: what every command starts with.
pub async fn open_services(config: &Config) -> anyhow_like::Result<Services> {
    let store = open_store(config).await?;
    Ok(services_for(config, store))
}
