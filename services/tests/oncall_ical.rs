//! The on-call iCalendar feeds checked by an independent parser: Python's `icalendar`
//! package reads the schedule and person feeds, and every event must be a shift of the final
//! schedule computed here from the same definition (`domain::oncall::final_schedule` with the
//! IANA zone). Under `CI=true` a missing `python3` or `icalendar` fails the test; elsewhere
//! it is skipped loudly (`scripts/setup.sh --test` installs it).

mod common;

use domain::oncall::{self as oc, Override, Shift, DAY_MS, HOUR_MS};
use serde::Deserialize;
use services::{AuthSettings, FakeClock, ServiceError, Services};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use store::FeedKind;

/// 2026-11-04T10:00:00+08:00 (a Wednesday in Shanghai) = 2026-11-04T02:00:00Z.
const NOW: i64 = 1_793_757_600_000;

/// Parses an .ics file and prints its events as JSON; exits non-zero on anything the parser
/// flags (a component's `errors`, a floating or non-UTC time, a missing property).
const PARSE: &str = r#"
import calendar, datetime, json, sys
import icalendar

with open(sys.argv[1], "rb") as f:
    cal = icalendar.Calendar.from_ical(f.read())
problems = []
for comp in cal.walk():
    if getattr(comp, "errors", None):
        problems.append((comp.name, comp.errors))
if cal.get("version") != "2.0":
    problems.append(("VCALENDAR", "VERSION is not 2.0"))

def ms(prop, ev):
    v = ev.get(prop)
    if v is None:
        problems.append((prop, "missing"))
        return None
    dt = v.dt
    if not isinstance(dt, datetime.datetime) or dt.utcoffset() != datetime.timedelta(0):
        problems.append((prop, "not a UTC date-time: %r" % (dt,)))
        return None
    return calendar.timegm(dt.utctimetuple()) * 1000 + dt.microsecond // 1000

out = []
for ev in cal.walk("VEVENT"):
    out.append({
        "start": ms("dtstart", ev),
        "end": ms("dtend", ev),
        "stamp": ms("dtstamp", ev),
        "summary": str(ev.get("summary")),
        "uid": str(ev.get("uid")),
    })
if problems:
    print("icalendar found problems: %r" % (problems,), file=sys.stderr)
    sys.exit(2)
print(json.dumps({"name": str(cal.get("x-wr-calname")), "events": out}))
"#;

#[derive(Debug, Deserialize)]
struct Parsed {
    name: String,
    events: Vec<Event>,
}

#[derive(Debug, Clone, Deserialize)]
struct Event {
    start: i64,
    end: i64,
    stamp: i64,
    summary: String,
    uid: String,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `python3` with `icalendar` is here. Under CI its absence fails the test.
fn python_ready() -> bool {
    let why = match Command::new("python3").args(["-c", "import icalendar"]).output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "python3 cannot import icalendar: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("python3 is not runnable: {e}"),
    };
    assert!(
        !in_ci(),
        "{why} — under CI=true this test must run; `scripts/setup.sh --test` installs it"
    );
    eprintln!(
        "\n********************************************************************\n\
         SKIPPED oncall_ical: {why}.\n\
         Run `scripts/setup.sh --test` (pip install 'icalendar>=5,<7').\n\
         ********************************************************************\n"
    );
    false
}

/// Checks the raw text, then parses it with Python's `icalendar`.
fn parse_with_python(ics: &str, tag: &str) -> Parsed {
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
    for line in ics.split_terminator("\r\n") {
        assert!(!line.contains('\n'), "bare LF in {line:?}");
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    let path = std::env::temp_dir()
        .join(format!("{}.ics", store::testing::unique_name(&format!("vigil-ical-{tag}"))));
    std::fs::write(&path, ics).expect("write feed");
    let out =
        Command::new("python3").arg("-c").arg(PARSE).arg(&path).output().expect("run python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "python exited with {:?}: {}\n--- feed ---\n{ics}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("python printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

/// The token of a feed URL `…/ical/<token>.ics`.
fn token_of(url: &str) -> String {
    let (_, last) = url.rsplit_once("/ical/").unwrap_or_else(|| panic!("not a feed URL: {url}"));
    let token = last.strip_suffix(".ics").unwrap_or_else(|| panic!("no .ics: {url}"));
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    token.to_owned()
}

/// Adjacent stretches merged (what a person's feed shows as one shift).
fn merged(spans: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => out.push((s, e)),
        }
    }
    out
}

fn spans(events: &[Event]) -> Vec<(i64, i64)> {
    events.iter().map(|e| (e.start, e.end)).collect()
}

#[tokio::test]
async fn ical_feeds_parse_and_match_the_final_schedule() {
    if !python_ready() {
        return;
    }
    let (store, _dir) = store::testing::sqlite_store("vigil-oncall-ical").await;
    let svc = Services::new(store, Arc::new(FakeClock::at(NOW)), AuthSettings::default())
        .with_public_url("https://vigil.example.com");
    let lead = common::signed_in(&svc, "lead@example.com", "editor").await;
    let ann = common::signed_in(&svc, "ann@example.com", "viewer").await;
    let bob = common::signed_in(&svc, "bob@example.com", "viewer").await;
    let cai = common::signed_in(&svc, "cai@example.com", "viewer").await;
    let dan = common::signed_in(&svc, "dan@example.com", "viewer").await;
    let name_of = |id: i64| {
        [&lead, &ann, &bob, &cai, &dan]
            .iter()
            .find(|a| a.user_id().expect("a person") == id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| panic!("no user {id}"))
    };

    // The seeds' roster from the Monday before the clock (2026-10-26), in Shanghai.
    let spec = oc::seed_roster(
        "Primary",
        "2026-10-26",
        vec![ann.user_id().expect("a person"), bob.user_id().expect("a person")],
        vec![cai.user_id().expect("a person"), ann.user_id().expect("a person")],
        vec![
            bob.user_id().expect("a person"),
            cai.user_id().expect("a person"),
            ann.user_id().expect("a person"),
        ],
    );
    assert_eq!(spec.time_zone, "Asia/Shanghai");
    let schedule =
        svc.oncall().create_schedule(&lead, spec.clone()).await.expect("create schedule");
    // Dan covers Friday 2026-11-06 12:00–18:00 Shanghai for whoever is on; Dan takes Ann's
    // shifts of Tuesday 2026-11-10 (a swap).
    let cover = svc
        .oncall()
        .add_override(
            &lead,
            schedule.id,
            NOW + 2 * DAY_MS + 2 * HOUR_MS,
            NOW + 2 * DAY_MS + 8 * HOUR_MS,
            dan.user_id().expect("a person"),
            None,
            "covering",
        )
        .await
        .expect("override");
    let swap = svc
        .oncall()
        .add_override(
            &lead,
            schedule.id,
            NOW + 5 * DAY_MS + 14 * HOUR_MS,
            NOW + 6 * DAY_MS + 14 * HOUR_MS,
            dan.user_id().expect("a person"),
            Some(ann.user_id().expect("a person")),
            "swap",
        )
        .await
        .expect("swap override");
    let overrides: Vec<Override> = vec![cover.ov.clone(), swap.ov.clone()];

    // Independently: the zone, the feed's window, the final schedule.
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("tz");
    let feed_from = NOW.div_euclid(DAY_MS) * DAY_MS - 7 * DAY_MS;
    let feed_to = feed_from + 36 * DAY_MS;
    let people_shifts = |from: i64, to: i64| -> Vec<Shift> {
        oc::final_schedule(&spec, &overrides, &tz, from, to)
            .into_iter()
            .filter(|s| s.user_id.is_some())
            .collect()
    };
    let feed_expected = people_shifts(feed_from, feed_to);
    let horizon = NOW + 28 * DAY_MS;
    let next_four_weeks = people_shifts(NOW, horizon);
    assert!(
        next_four_weeks.iter().any(|s| s.source == oc::Source::Override(cover.ov.id))
            && next_four_weeks.iter().any(|s| s.source == oc::Source::Override(swap.ov.id)),
        "both overrides show in the next four weeks: {next_four_weeks:?}"
    );

    // The schedule's feed.
    let url = svc
        .oncall()
        .rotate_feed(&lead, FeedKind::Schedule, schedule.id)
        .await
        .expect("rotate schedule feed");
    assert!(url.starts_with("https://vigil.example.com/ical/"), "{url}");
    let token = token_of(&url);
    let ics = svc.oncall().calendar_feed(&token).await.expect("schedule feed");
    let parsed = parse_with_python(&ics, "schedule");
    assert_eq!(parsed.name, "Primary on-call");
    let events = parsed.events;
    assert!(!events.is_empty(), "no events:\n{ics}");
    assert!(events.iter().all(|e| e.stamp == NOW), "DTSTAMP is now");

    // Every event is a shift of the final schedule over the feed's window, in order.
    assert_eq!(
        spans(&events),
        feed_expected.iter().map(|s| (s.start_ms, s.end_ms)).collect::<Vec<_>>(),
        "feed events vs final schedule over [{feed_from}, {feed_to})"
    );
    for (e, s) in events.iter().zip(&feed_expected) {
        let who = name_of(s.user_id.expect("person"));
        assert_eq!(e.summary, format!("On call: {who} (Primary)"), "{e:?}");
    }

    // The next four weeks: every shift strictly inside [now, now + 28 d) is an event with the
    // same start and end; the two clipped at the edges lie inside an event of the same person.
    let inside: Vec<&Shift> =
        next_four_weeks.iter().filter(|s| s.start_ms > NOW && s.end_ms < horizon).collect();
    assert!(inside.len() >= 40, "{} shifts in 4 weeks", inside.len());
    for s in &inside {
        let who = name_of(s.user_id.expect("person"));
        assert!(
            events.iter().any(|e| e.start == s.start_ms
                && e.end == s.end_ms
                && e.summary == format!("On call: {who} (Primary)")),
            "shift {s:?} ({who}) is not an event"
        );
    }
    for s in next_four_weeks.iter().filter(|s| s.start_ms <= NOW || s.end_ms >= horizon) {
        let who = name_of(s.user_id.expect("person"));
        assert!(
            events.iter().any(|e| e.start <= s.start_ms
                && s.end_ms <= e.end
                && e.summary == format!("On call: {who} (Primary)")),
            "edge shift {s:?} ({who}) is inside no event"
        );
    }
    // Dan's cover is an event of its own, exactly the override's stretch.
    assert!(events.iter().any(|e| e.start == cover.ov.start_ms
        && e.end == cover.ov.end_ms
        && e.summary == "On call: dan@example.com (Primary)"));

    let uids: BTreeSet<&str> = events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids.len(), events.len(), "UIDs are unique");
    assert!(events.iter().all(|e| e.uid.ends_with("@vigil.example.com")), "{:?}", events[0].uid);
    // Fetching again gives the same UIDs (clients update, not duplicate).
    let again = parse_with_python(
        &svc.oncall().calendar_feed(&format!("{token}.ics")).await.expect("again, with .ics"),
        "schedule-again",
    );
    assert_eq!(
        again.events.iter().map(|e| e.uid.as_str()).collect::<Vec<_>>(),
        events.iter().map(|e| e.uid.as_str()).collect::<Vec<_>>()
    );

    // Ann's own feed: exactly her stretches of the schedule, adjacent ones as one.
    let ann_url = svc
        .oncall()
        .rotate_feed(&ann, FeedKind::User, ann.user_id().expect("a person"))
        .await
        .expect("rotate person feed");
    let ann_ics = svc.oncall().calendar_feed(&token_of(&ann_url)).await.expect("person feed");
    let ann_parsed = parse_with_python(&ann_ics, "person");
    assert_eq!(ann_parsed.name, "ann@example.com on-call shifts");
    let ann_events = ann_parsed.events;
    assert!(!ann_events.is_empty(), "{ann_ics}");
    let ann_expected = merged(
        feed_expected
            .iter()
            .filter(|s| s.user_id == Some(ann.user_id().expect("a person")))
            .map(|s| (s.start_ms, s.end_ms)),
    );
    assert_eq!(spans(&ann_events), ann_expected);
    assert_eq!(
        ann_expected,
        merged(
            events
                .iter()
                .filter(|e| e.summary == "On call: ann@example.com (Primary)")
                .map(|e| (e.start, e.end))
        ),
        "the person feed is that person's part of the schedule feed"
    );
    assert!(ann_events.iter().all(|e| e.summary == "On call: Primary" && e.stamp == NOW));
    let ann_uids: BTreeSet<&str> = ann_events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(ann_uids.len(), ann_events.len(), "UIDs are unique");
    assert!(ann_uids.is_disjoint(&uids), "person and schedule UIDs differ");
    // The swap took Ann's Tuesday 2026-11-10 away: no event of hers overlaps it.
    assert!(ann_events.iter().all(|e| e.end <= swap.ov.start_ms || e.start >= swap.ov.end_ms));
    // Someone else may not make Ann's feed.
    assert!(matches!(
        svc.oncall().rotate_feed(&bob, FeedKind::User, ann.user_id().expect("a person")).await,
        Err(ServiceError::Forbidden(_))
    ));

    // Rotating the schedule's feed: the old token stops working, the new one works.
    let new_url = svc
        .oncall()
        .rotate_feed(&lead, FeedKind::Schedule, schedule.id)
        .await
        .expect("rotate again");
    let new_token = token_of(&new_url);
    assert_ne!(new_token, token);
    assert!(matches!(svc.oncall().calendar_feed(&token).await, Err(ServiceError::NotFound)));
    assert_eq!(svc.oncall().calendar_feed(&new_token).await.expect("new token"), ics);
    assert!(matches!(svc.oncall().calendar_feed("not-a-token").await, Err(ServiceError::NotFound)));
    // Ann's feed is untouched by the schedule's rotation.
    assert_eq!(
        svc.oncall().calendar_feed(&token_of(&ann_url)).await.expect("person feed"),
        ann_ics
    );
}
