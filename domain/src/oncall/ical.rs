//! iCalendar (RFC 5545) feeds of shifts: one VEVENT per shift, times in UTC, lines folded at
//! 75 octets, text escaped. Calendar clients subscribe to the feed's secret URL.

use super::{civil_from_days, Shift, DAY_MS};

/// One event of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Stable across fetches so clients update instead of duplicating.
    pub uid: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub summary: String,
    pub description: String,
}

/// `20261102T010000Z`.
pub fn utc_stamp(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let s = ms.rem_euclid(DAY_MS) / 1000;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// TEXT value escaping (RFC 5545 §3.3.11).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (continuation lines start with a space), never inside
/// a UTF-8 character, and ends it with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// The whole calendar. `now_ms` is the DTSTAMP.
pub fn calendar(name: &str, events: &[Event], now_ms: i64) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Vigil//On-call//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, l);
    }
    push_line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    // Clients refresh subscribed calendars at their own pace; suggest hourly.
    push_line(&mut out, "REFRESH-INTERVAL;VALUE=DURATION:PT1H");
    push_line(&mut out, "X-PUBLISHED-TTL:PT1H");
    let stamp = utc_stamp(now_ms);
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}", e.uid));
        push_line(&mut out, &format!("DTSTAMP:{stamp}"));
        push_line(&mut out, &format!("DTSTART:{}", utc_stamp(e.start_ms)));
        push_line(&mut out, &format!("DTEND:{}", utc_stamp(e.end_ms)));
        push_line(&mut out, &format!("SUMMARY:{}", escape(&e.summary)));
        if !e.description.is_empty() {
            push_line(&mut out, &format!("DESCRIPTION:{}", escape(&e.description)));
        }
        push_line(&mut out, "TRANSP:TRANSPARENT");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// A UID for a shift of a schedule: the same shift keeps its UID between fetches.
pub fn shift_uid(schedule_id: i64, s: &Shift, host: &str) -> String {
    format!("shift-{schedule_id}-{}-{}-{}@{host}", s.user_id.unwrap_or(0), s.start_ms, s.end_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_escapes_and_folds() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_793_494_800_000), "20261101T010000Z");
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let long = "值班".repeat(40);
        let cal = calendar(
            "Primary",
            &[Event {
                uid: "u@x".into(),
                start_ms: 0,
                end_ms: 3_600_000,
                summary: long.clone(),
                description: String::new(),
            }],
            0,
        );
        for line in cal.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
        // Unfolding gives the summary back.
        let unfolded = cal.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{long}\r\n")));
    }
}
