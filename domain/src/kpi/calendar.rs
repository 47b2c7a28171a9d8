//! Calendar arithmetic on day numbers (days since 1970-01-01 in the reporting time zone):
//! weeks start on Monday, months are civil months. Converting instants to day numbers needs
//! the time-zone database and happens in `services`.

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

/// Monday of the week containing `day` (1970-01-01, day 0, was a Thursday).
pub fn week_start(day: i32) -> i32 {
    day - (day + 3).rem_euclid(7)
}

/// (year, month 1–12, day 1–31) of a day number. Howard Hinnant's algorithm.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day number of a civil date.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<i32> {
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    // Reject 2026-02-31 and friends.
    (civil_from_days(day) == (y, m, d)).then_some(day)
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
        assert_eq!(
            parse_day("2024-02-29").map(format_day).as_deref(),
            Some("2024-02-29")
        );
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
        assert_eq!(
            week_start(days_from_civil(2026, 11, 23)),
            days_from_civil(2026, 11, 23)
        );
        assert_eq!(
            format_day(week_start(days_from_civil(2026, 11, 29))),
            "2026-11-23",
            "Sunday"
        );
        assert_eq!(
            format_day(Granularity::Month.period_start(wed)),
            "2026-11-01"
        );
        assert_eq!(Granularity::Day.period_start(wed), wed);
        // Before the epoch too.
        assert_eq!(
            format_day(week_start(days_from_civil(1969, 12, 31))),
            "1969-12-29"
        );
    }

    #[test]
    fn change_percent() {
        assert_eq!(change_pct(120.0, 100.0), Some(20.0));
        assert_eq!(change_pct(50.0, 100.0), Some(-50.0));
        assert_eq!(change_pct(5.0, 0.0), None);
    }
}
