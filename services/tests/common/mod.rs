//! Shared setup of the services scenario tests: a fresh SQLite store and a fake clock.

use services::events::EventSettings;
use services::{AuthSettings, FakeClock, Services};
use std::sync::Arc;

/// 2026-11-25T09:35:12Z.
pub const NOW: i64 = 1_795_599_312_000;

/// Services on a new SQLite database (migrated), the clock at [`NOW`], days in `tz`.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn services_at(tag: &str, tz: chrono_tz::Tz) -> Services {
    let (store, _dir) = store::testing::sqlite_store(&format!("vigil-{tag}")).await;
    Services::new(store, Arc::new(FakeClock::at(NOW)), AuthSettings::default()).with_event_settings(
        EventSettings {
            reporting_tz: tz,
            ..Default::default()
        },
    )
}
