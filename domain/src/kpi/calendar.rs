//! Calendar arithmetic on day numbers (days since 1970-01-01 in the reporting time zone):
//! weeks start on Monday, months are civil months. Converting instants to day numbers needs
//! the time-zone database and happens in `services`.

use crate::time;
use serde::{Deserialize, Serialize};

/// How KPI series are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    #[default]
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "day" => Some(Granularity::Day),
            "week" => Some(Granularity::Week),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }

    /// The first day of the period that contains `day`.
    pub fn period_start(self, day: i32) -> i32 {
        match self {
            Granularity::Day => day,
            Granularity::Week => week_start(day),
            Granularity::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        }
    }
}

// Day numbers here are `i32` (they index rollups); the arithmetic is `crate::time`'s.

/// Monday of the week containing `day`.
pub fn week_start(day: i32) -> i32 {
    time::week_start(i64::from(day)) as i32
}

/// (year, month 1–12, day 1–31) of a day number.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let (y, m, d) = time::civil_from_days(i64::from(z));
    (y as i32, m, d)
}

/// Day number of a civil date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    time::days_from_civil(i64::from(y), m, d) as i32
}

/// The first day of the month after the one containing `day`.
pub fn next_month_start(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    }
}

/// The calendar months the days `from..=to` touch, oldest first, each as its whole
/// `(first day, last day)`.
pub fn months_covering(from: i32, to: i32) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let mut first = Granularity::Month.period_start(from);
    while first <= to {
        let next = next_month_start(first);
        out.push((first, next - 1));
        first = next;
    }
    out
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i32) -> String {
    time::format_day(i64::from(day))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<i32> {
    time::parse_day(s).and_then(|d| i32::try_from(d).ok())
}

/// Change in percent from `previous` to `current`; `None` when there is no previous value.
pub fn change_pct(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0 && previous.is_finite() && current.is_finite())
        .then(|| (current - previous) / previous * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(format_day(days_from_civil(2026, 11, 25)), "2026-11-25");
        assert_eq!(parse_day("2024-02-29").map(format_day).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_day("2026-02-29"), None);
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("junk"), None);
        for d in -1000..1000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-11-25 is a Wednesday; its Monday is 2026-11-23.
        let wed = days_from_civil(2026, 11, 25);
        assert_eq!(format_day(week_start(wed)), "2026-11-23");
        assert_eq!(week_start(days_from_civil(2026, 11, 23)), days_from_civil(2026, 11, 23));
        assert_eq!(format_day(week_start(days_from_civil(2026, 11, 29))), "2026-11-23", "Sunday");
        assert_eq!(format_day(Granularity::Month.period_start(wed)), "2026-11-01");
        assert_eq!(Granularity::Day.period_start(wed), wed);
        // Before the epoch too.
        assert_eq!(format_day(week_start(days_from_civil(1969, 12, 31))), "1969-12-29");
    }

    #[test]
    fn months_a_range_covers() {
        let d = days_from_civil;
        assert_eq!(
            months_covering(d(2026, 11, 8), d(2026, 12, 7)),
            vec![(d(2026, 11, 1), d(2026, 11, 30)), (d(2026, 12, 1), d(2026, 12, 31))]
        );
        assert_eq!(months_covering(d(2026, 12, 1), d(2027, 1, 1)).len(), 2, "across a year");
        assert_eq!(
            months_covering(d(2024, 2, 10), d(2024, 2, 10)),
            vec![(d(2024, 2, 1), d(2024, 2, 29))]
        );
        assert_eq!(next_month_start(d(2026, 12, 31)), d(2027, 1, 1));
    }

    #[test]
    fn change_percent() {
        assert_eq!(change_pct(120.0, 100.0), Some(20.0));
        assert_eq!(change_pct(50.0, 100.0), Some(-50.0));
        assert_eq!(change_pct(5.0, 0.0), None);
    }
}
