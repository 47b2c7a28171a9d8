//! Displaying instants in a user's time zone. The time-zone database lives here, on the
//! server, so it never enters the WebAssembly bundle: pages receive formatted strings.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

/// True when `name` is an IANA time zone known to Vigil (e.g. `Asia/Shanghai`, `UTC`).
pub fn is_valid_time_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

/// `2026-11-25 17:35:12 CST` in `tz` (UTC when the zone is unknown).
pub fn format_ms(ms: i64, tz: &str) -> String {
    let tz: Tz = tz.parse().unwrap_or(Tz::UTC);
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        None => String::from("—"),
    }
}

/// `ms` in `tz` with a chrono `pattern` (`%Y-%m-%d %H:%M`, `%Y%m%d`, …); `None` for an
/// instant chrono cannot represent.
pub fn format_in(ms: i64, tz: Tz, pattern: &str) -> Option<String> {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.with_timezone(&tz).format(pattern).to_string())
}

/// A short list of common zones for pickers; any valid IANA name is accepted.
pub const COMMON_TIME_ZONES: &[&str] = &[
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Sydney",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_zone() {
        // 2026-11-25T09:35:12Z
        let ms = 1_795_599_312_000;
        assert_eq!(format_ms(ms, "UTC"), "2026-11-25 09:35:12 UTC");
        assert_eq!(format_ms(ms, "Asia/Shanghai"), "2026-11-25 17:35:12 CST");
        assert_eq!(format_ms(ms, "Not/AZone"), "2026-11-25 09:35:12 UTC");
    }

    #[test]
    fn dst_is_applied() {
        // 2026-07-01T12:00:00Z is summer time in Berlin (UTC+2).
        assert_eq!(format_ms(1_782_907_200_000, "Europe/Berlin"), "2026-07-01 14:00:00 CEST");
        assert!(is_valid_time_zone("America/New_York"));
        assert!(!is_valid_time_zone("Mars/Olympus"));
    }
}
