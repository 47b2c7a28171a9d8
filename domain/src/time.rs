//! Calendar arithmetic, in one place: civil dates (proleptic Gregorian) ↔ day numbers
//! (days since 1970-01-01), weekdays and weeks (Monday first), `YYYY-MM-DD` and local
//! wall-clock times as milliseconds. No time-zone database here (`domain` is in the WASM
//! bundle): converting instants to local time goes through `oncall::Zone` or, in
//! `services`, chrono-tz.

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Weekday of a day number, 0 = Monday … 6 = Sunday.
pub fn weekday(day: i64) -> u8 {
    // 1970-01-01 was a Thursday (3).
    (day + 3).rem_euclid(7) as u8
}

/// `YYYY-MM-DDTHH:MM` (also `YYYY-MM-DD HH:MM`) → local ms.
pub fn parse_local(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00"));
    let mut p = date.splitn(3, '-');
    let y: i64 = p.next()?.parse().ok()?;
    let m: u32 = p.next()?.parse().ok()?;
    let d: u32 = p.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(1970..=9999).contains(&y) {
        return None;
    }
    let min = parse_hhmm(time)?;
    Some(days_from_civil(y, m, d) * DAY_MS + i64::from(min) * MINUTE_MS)
}

/// Local ms → `YYYY-MM-DDTHH:MM`.
pub fn format_local(local_ms: i64) -> String {
    let day = local_ms.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(day);
    let min = local_ms.rem_euclid(DAY_MS) / MINUTE_MS;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", min / 60, min % 60)
}

/// `HH:MM` → minutes of the day (`24:00` allowed as the end of a day).
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

pub fn format_hhmm(min: u16) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Monday of the week containing `day` (1970-01-01, day 0, was a Thursday).
pub fn week_start(day: i64) -> i64 {
    day - i64::from(weekday(day))
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` into a day number; `None` for anything else, 2026-02-31 included.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_weeks_start_on_monday() {
        for day in [-800_000, -1, 0, 1, 59, 60, 10_000, 20_454, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{day}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday(0), 3, "a Thursday");
        let dec2 = parse_day("2026-12-02").expect("date");
        assert_eq!(format_day(dec2), "2026-12-02");
        assert_eq!(weekday(dec2), 2, "a Wednesday");
        assert_eq!(format_day(week_start(dec2)), "2026-11-30");
        assert_eq!(parse_day("2026-02-29"), None);
        assert_eq!(parse_day("2024-02-29").map(format_day).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("tomorrow"), None);
    }
}
