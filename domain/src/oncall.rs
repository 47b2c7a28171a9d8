//! On-call (SPEC §4): schedules made of ordered layers (participants, a rotation, optional
//! weekday/time-of-day restrictions) plus overrides, and the final schedule they give for an
//! interval — a list of shifts without overlaps, gaps included as gaps. Escalation timing
//! lives in [`escalation`], the iCalendar feed in [`ical`].
//!
//! Pure: the time zone comes in as a [`Zone`] (the server implements it with the IANA
//! database; the hydrate bundle never carries one), and every function takes its interval.
//! Rotations hand off at local wall-clock times, so a daily shift on a DST day lasts 23 or
//! 25 hours while hourly rotations count elapsed hours.

pub mod escalation;
pub mod ical;

use crate::errors::FieldErrors;
use serde::{Deserialize, Serialize};

pub use crate::time::{
    civil_from_days, days_from_civil, format_hhmm, format_local, parse_hhmm, parse_local, weekday,
    DAY_MS, HOUR_MS, MINUTE_MS,
};
/// Wall-clock ms per local minute.
const WEEK_MS: i64 = 7 * DAY_MS;

/// A time zone as the computation needs it: the UTC offset in effect at an instant.
/// Offsets change at most once within any two days (true of every IANA zone).
pub trait Zone {
    /// Offset from UTC in ms at the instant `utc_ms` (Asia/Shanghai: +8 h).
    fn offset_ms(&self, utc_ms: i64) -> i64;

    /// The instant of the local wall-clock time `local_ms` (ms since 1970-01-01T00:00 in
    /// local time). A wall time skipped by a spring-forward change maps to the same
    /// distance past the change (02:30 on a day that jumps 02:00→03:00 is 03:30); a wall
    /// time that occurs twice (fall back) maps to its first occurrence.
    fn to_utc(&self, local_ms: i64) -> i64 {
        let before = self.offset_ms(local_ms - DAY_MS);
        let after = self.offset_ms(local_ms + DAY_MS);
        let a = local_ms - before;
        let b = local_ms - after;
        let a_ok = self.offset_ms(a) == before;
        let b_ok = self.offset_ms(b) == after;
        match (a_ok, b_ok) {
            (true, true) => a.min(b),
            (true, false) => a,
            (false, true) => b,
            // In the gap: the pre-change offset lands past the change.
            (false, false) => a,
        }
    }

    /// The local wall-clock time of an instant.
    fn to_local(&self, utc_ms: i64) -> i64 {
        utc_ms + self.offset_ms(utc_ms)
    }
}

/// A zone with one fixed offset (UTC, or tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedZone(pub i64);

impl Zone for FixedZone {
    fn offset_ms(&self, _utc_ms: i64) -> i64 {
        self.0
    }
}

#[cfg(any(test, feature = "tz"))]
impl Zone for chrono_tz::Tz {
    fn offset_ms(&self, utc_ms: i64) -> i64 {
        use chrono::{Offset, TimeZone};
        match chrono::DateTime::from_timestamp_millis(utc_ms) {
            Some(t) => {
                i64::from(self.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc())
                    * 1000
            }
            None => 0,
        }
    }
}

// ---- schedules ---------------------------------------------------------------------------

/// How often a layer hands off to the next participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RotationKind {
    /// Every N elapsed hours.
    Hourly,
    /// Every N days at the handoff's local time.
    Daily,
    /// Every N weeks on the start's weekday at the handoff's local time.
    Weekly,
}

impl RotationKind {
    pub const ALL: [RotationKind; 3] =
        [RotationKind::Hourly, RotationKind::Daily, RotationKind::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            RotationKind::Hourly => "hourly",
            RotationKind::Daily => "daily",
            RotationKind::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A layer's rotation: the first participant starts at `start` (local wall time, which also
/// sets the handoff time of day and, for weekly rotations, the weekday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub kind: RotationKind,
    /// Hand off every `every` hours/days/weeks (1–1000).
    pub every: u32,
    /// `YYYY-MM-DDTHH:MM` in the schedule's zone.
    pub start: String,
}

/// A restriction window: on the given weekdays, from `start` to `end` local time. An end at
/// or before the start runs into the next day (`23:00`–`09:00`); equal times mean 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// 0 = Monday … 6 = Sunday: the day the window starts on.
    pub days: Vec<u8>,
    /// `HH:MM`.
    pub start: String,
    pub end: String,
}

impl Window {
    fn minutes(&self) -> Option<(i64, i64)> {
        let s = i64::from(parse_hhmm(&self.start)?);
        let e = i64::from(parse_hhmm(&self.end)?);
        let len = if e > s { e - s } else { e + 24 * 60 - s };
        Some((s, len))
    }
}

/// One layer of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    /// User ids in rotation order; a user may appear more than once.
    pub participants: Vec<i64>,
    pub rotation: Rotation,
    /// When set, the layer is on call only inside these windows.
    #[serde(default)]
    pub restrictions: Vec<Window>,
}

/// A schedule's definition: its zone and layers, the last layer being the highest (it
/// wins where several layers have someone on call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// IANA zone name, default `Asia/Shanghai`.
    pub time_zone: String,
    pub layers: Vec<Layer>,
}

pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";
pub const MAX_LAYERS: usize = 10;
pub const MAX_PARTICIPANTS: usize = 100;

impl ScheduleSpec {
    /// Checks everything but the zone name and the user ids (the services know those).
    /// Field names: `name`, `layers`, `layers.N.name`, `layers.N.participants`,
    /// `layers.N.every`, `layers.N.start`, `layers.N.restrictions`.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            e.required("name");
        } else if name.chars().count() > 100 {
            e.too_long("name", 100);
        }
        if self.description.chars().count() > 2000 {
            e.too_long("description", 2000);
        }
        if self.time_zone.trim().is_empty() {
            e.add("time_zone", "is required (e.g. Asia/Shanghai)");
        }
        if self.layers.len() > MAX_LAYERS {
            e.add("layers", format!("at most {MAX_LAYERS} layers"));
        }
        for (i, l) in self.layers.iter().enumerate() {
            let f = |s: &str| format!("layers.{i}.{s}");
            let n = l.name.trim();
            if n.is_empty() {
                e.required(&f("name"));
            } else if n.chars().count() > 100 {
                e.too_long(&f("name"), 100);
            }
            if l.participants.is_empty() {
                e.add(&f("participants"), "needs at least one person");
            } else if l.participants.len() > MAX_PARTICIPANTS {
                e.add(&f("participants"), format!("at most {MAX_PARTICIPANTS} entries"));
            }
            if !(1..=1000).contains(&l.rotation.every) {
                e.add(&f("every"), "must be between 1 and 1000");
            }
            if parse_local(&l.rotation.start).is_none() {
                e.add(&f("start"), "must be a date and time like 2026-11-02T09:00");
            }
            if l.restrictions.len() > 50 {
                e.add(&f("restrictions"), "at most 50 windows");
            }
            for (j, w) in l.restrictions.iter().enumerate() {
                if w.days.is_empty() || w.days.iter().any(|d| *d > 6) {
                    e.add(
                        &f("restrictions"),
                        format!("window {}: pick at least one weekday", j + 1),
                    );
                } else if w.minutes().is_none() {
                    e.add(
                        &f("restrictions"),
                        format!("window {}: times must be HH:MM (00:00–24:00)", j + 1),
                    );
                }
            }
        }
        e.into_result()
    }
}

/// An override: `user_id` is on call for `[start_ms, end_ms)`. With `replaces`, only where
/// that user would have been on call (a swap); without, whoever the layers had (or nobody).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub id: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub user_id: i64,
    #[serde(default)]
    pub replaces: Option<i64>,
}

/// Where a shift of the final schedule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Source {
    /// Layer index (0 = lowest).
    Layer(usize),
    /// Override id.
    Override(i64),
    /// Nobody is on call.
    Gap,
}

/// A stretch of a schedule: `user_id` on call over `[start_ms, end_ms)`, or a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub start_ms: i64,
    pub end_ms: i64,
    pub user_id: Option<i64>,
    pub source: Source,
}

/// The rotation's handoff instants as (instant, rotation index) covering `[from, to)`:
/// the last handoff at or before `from` (or the first one, if later) up to the first one at
/// or after `to`.
fn handoffs(rot: &Rotation, zone: &dyn Zone, from: i64, to: i64) -> Vec<(i64, i64)> {
    let Some(start_local) = parse_local(&rot.start) else {
        return Vec::new();
    };
    let every = i64::from(rot.every.max(1));
    let at = |k: i64| -> i64 {
        match rot.kind {
            RotationKind::Hourly => zone.to_utc(start_local) + k * every * HOUR_MS,
            RotationKind::Daily => zone.to_utc(start_local + k * every * DAY_MS),
            RotationKind::Weekly => zone.to_utc(start_local + k * every * WEEK_MS),
        }
    };
    let step_ms = every
        * match rot.kind {
            RotationKind::Hourly => HOUR_MS,
            RotationKind::Daily => DAY_MS,
            RotationKind::Weekly => WEEK_MS,
        };
    let first = at(0);
    // An estimate, corrected below for the offsets in between.
    let mut k = ((from - first).div_euclid(step_ms)).max(0);
    while k > 0 && at(k) > from {
        k -= 1;
    }
    while at(k + 1) <= from {
        k += 1;
    }
    let mut out = Vec::new();
    loop {
        let t = at(k);
        out.push((t, k));
        if t >= to {
            break;
        }
        k += 1;
    }
    out
}

/// The layer's allowed local windows as instants, merged, covering `[from, to)`.
fn allowed(windows: &[Window], zone: &dyn Zone, from: i64, to: i64) -> Vec<(i64, i64)> {
    let first_day = zone.to_local(from).div_euclid(DAY_MS) - 1;
    let last_day = zone.to_local(to).div_euclid(DAY_MS) + 1;
    let mut spans = Vec::new();
    for day in first_day..=last_day {
        let wd = weekday(day);
        for w in windows {
            if !w.days.contains(&wd) {
                continue;
            }
            let Some((start_min, len_min)) = w.minutes() else {
                continue;
            };
            let s_local = day * DAY_MS + start_min * MINUTE_MS;
            let s = zone.to_utc(s_local);
            let e = zone.to_utc(s_local + len_min * MINUTE_MS);
            let (s, e) = (s.max(from), e.min(to));
            if s < e {
                spans.push((s, e));
            }
        }
    }
    merge(spans)
}

fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// One layer's shifts in `[from, to)`: sorted, non-overlapping, no gaps listed.
pub fn layer_shifts(layer: &Layer, zone: &dyn Zone, from: i64, to: i64) -> Vec<Shift> {
    let mut out = Vec::new();
    if layer.participants.is_empty() || from >= to {
        return out;
    }
    let n = layer.participants.len() as i64;
    let hs = handoffs(&layer.rotation, zone, from, to);
    let mut raw = Vec::new();
    for pair in hs.windows(2) {
        let ((s, k), (e, _)) = (pair[0], pair[1]);
        let (s, e) = (s.max(from), e.min(to));
        if s < e {
            raw.push((s, e, layer.participants[k.rem_euclid(n) as usize]));
        }
    }
    if layer.restrictions.is_empty() {
        out.extend(raw.into_iter().map(|(s, e, u)| Shift {
            start_ms: s,
            end_ms: e,
            user_id: Some(u),
            source: Source::Layer(0),
        }));
    } else {
        let ok = allowed(&layer.restrictions, zone, from, to);
        for (s, e, u) in raw {
            for &(a, b) in &ok {
                let (x, y) = (s.max(a), e.min(b));
                if x < y {
                    out.push(Shift {
                        start_ms: x,
                        end_ms: y,
                        user_id: Some(u),
                        source: Source::Layer(0),
                    });
                }
            }
        }
    }
    out
}

/// The final schedule over `[from, to)`: consecutive shifts from `from` to `to` without
/// overlaps, each a person or a gap. An override without `replaces` always wins (the most
/// recent — highest id — where several overlap); one with `replaces` swaps that person
/// where the layers had them on call; otherwise the highest layer with someone wins.
pub fn final_schedule(
    spec: &ScheduleSpec,
    overrides: &[Override],
    zone: &dyn Zone,
    from: i64,
    to: i64,
) -> Vec<Shift> {
    if from >= to {
        return Vec::new();
    }
    let layers: Vec<Vec<Shift>> = spec
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut v = layer_shifts(l, zone, from, to);
            for s in &mut v {
                s.source = Source::Layer(i);
            }
            v
        })
        .collect();
    let ovs: Vec<&Override> = overrides
        .iter()
        .filter(|o| o.start_ms < to && o.end_ms > from && o.start_ms < o.end_ms)
        .collect();
    let mut points = vec![from, to];
    for s in layers.iter().flatten() {
        points.push(s.start_ms);
        points.push(s.end_ms);
    }
    for o in &ovs {
        points.push(o.start_ms.max(from));
        points.push(o.end_ms.min(to));
    }
    points.sort_unstable();
    points.dedup();
    let mut cursor = vec![0usize; layers.len()];
    let mut out: Vec<Shift> = Vec::new();
    for w in points.windows(2) {
        let (s, e) = (w[0], w[1]);
        // The highest layer covering `s` (each layer's shifts are sorted: advance pointers).
        let mut base: Option<Shift> = None;
        for (i, l) in layers.iter().enumerate() {
            while cursor[i] < l.len() && l[cursor[i]].end_ms <= s {
                cursor[i] += 1;
            }
            if let Some(sh) = l.get(cursor[i]).filter(|sh| sh.start_ms <= s) {
                base = Some(*sh);
            }
        }
        let covering = |o: &&&Override| o.start_ms <= s && s < o.end_ms;
        let add = ovs.iter().filter(covering).filter(|o| o.replaces.is_none()).max_by_key(|o| o.id);
        let (user, source) = if let Some(o) = add {
            (Some(o.user_id), Source::Override(o.id))
        } else if let Some(b) = base {
            let swap = ovs
                .iter()
                .filter(covering)
                .filter(|o| o.replaces == b.user_id)
                .max_by_key(|o| o.id);
            match swap {
                Some(o) => (Some(o.user_id), Source::Override(o.id)),
                None => (b.user_id, b.source),
            }
        } else {
            (None, Source::Gap)
        };
        match out.last_mut() {
            Some(last) if last.user_id == user && last.source == source && last.end_ms == s => {
                last.end_ms = e;
            }
            _ => out.push(Shift { start_ms: s, end_ms: e, user_id: user, source }),
        }
    }
    out
}

/// Who is on call at `now` (`None`: a gap).
pub fn on_call_at(
    spec: &ScheduleSpec,
    overrides: &[Override],
    zone: &dyn Zone,
    now: i64,
) -> Option<Shift> {
    final_schedule(spec, overrides, zone, now, now + 1)
        .into_iter()
        .next()
        .filter(|s| s.user_id.is_some())
}

/// Checks an override's own fields (the services check the people and the schedule).
pub fn validate_override(start_ms: i64, end_ms: i64, now: i64) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if end_ms <= start_ms {
        e.not_after_start("end");
    } else if end_ms - start_ms > 90 * DAY_MS {
        e.add("end", "an override lasts at most 90 days");
    }
    if end_ms > start_ms && end_ms <= now {
        e.add("end", "is in the past: an override must end in the future");
    }
    e.into_result()
}

#[cfg(test)]
mod tests;

/// The seeds' roster (seed 002 §4.3) as one schedule: weekdays 09:00–23:00 a product/dev
/// rotation, weeknights 23:00–09:00 night ops, and weekends (Saturday 09:00 to Monday
/// 09:00) an on-call rotation on top. Rotations hand off weekly from `monday` (a Monday,
/// `YYYY-MM-DD`) — at 09:00, 23:00, and the Saturday after at 09:00. The backup phone for
/// weekends is a second schedule built the same way from `weekend` shifted by one.
pub fn seed_roster(
    name: &str,
    monday: &str,
    day: Vec<i64>,
    night: Vec<i64>,
    weekend: Vec<i64>,
) -> ScheduleSpec {
    let saturday = parse_local(monday).map(|m| format_local(m + 5 * DAY_MS)).unwrap_or_default();
    let sat_date = saturday.get(..10).unwrap_or_default().to_owned();
    let weekly = |start: String| Rotation { kind: RotationKind::Weekly, every: 1, start };
    let window = |days: &[u8], start: &str, end: &str| Window {
        days: days.to_vec(),
        start: start.into(),
        end: end.into(),
    };
    ScheduleSpec {
        name: name.into(),
        description: "Weekdays 09:00–23:00 product/dev, 23:00–09:00 night ops, weekends on-call (seed 002 §4.3)".into(),
        time_zone: DEFAULT_TIME_ZONE.into(),
        layers: vec![
            Layer {
                name: "Weekday day (product/dev)".into(),
                participants: day,
                rotation: weekly(format!("{monday}T09:00")),
                restrictions: vec![window(&[0, 1, 2, 3, 4], "09:00", "23:00")],
            },
            Layer {
                name: "Weeknight (night ops)".into(),
                participants: night,
                rotation: weekly(format!("{monday}T23:00")),
                restrictions: vec![window(&[0, 1, 2, 3, 4], "23:00", "09:00")],
            },
            Layer {
                name: "Weekend on-call".into(),
                participants: weekend,
                rotation: weekly(format!("{sat_date}T09:00")),
                // Saturday 09:00 → Sunday 09:00 → Monday 09:00.
                restrictions: vec![window(&[5, 6], "09:00", "09:00")],
            },
        ],
    }
}
