use super::*;
use proptest::prelude::*;

const H: i64 = HOUR_MS;

fn tz(name: &str) -> chrono_tz::Tz {
    name.parse().expect("zone")
}

fn utc(s: &str) -> i64 {
    parse_local(s).expect("time")
}

fn layer(people: &[i64], kind: RotationKind, every: u32, start: &str) -> Layer {
    Layer {
        name: "L".into(),
        participants: people.to_vec(),
        rotation: Rotation { kind, every, start: start.into() },
        restrictions: vec![],
    }
}

fn spec(tz: &str, layers: Vec<Layer>) -> ScheduleSpec {
    ScheduleSpec { name: "S".into(), description: String::new(), time_zone: tz.into(), layers }
}

/// (start UTC, end UTC, user) of each shift; gaps as user 0.
fn rows(shifts: &[Shift]) -> Vec<(String, String, i64)> {
    shifts
        .iter()
        .map(|s| (format_local(s.start_ms), format_local(s.end_ms), s.user_id.unwrap_or(0)))
        .collect()
}

fn row(a: &str, b: &str, u: i64) -> (String, String, i64) {
    (a.into(), b.into(), u)
}

#[test]
fn civil_calendar_round_trips() {
    for (y, m, d, wd) in
        [(1970, 1, 1, 3), (2000, 2, 29, 1), (2026, 3, 8, 6), (2026, 11, 2, 0), (2100, 12, 31, 4)]
    {
        let days = days_from_civil(y, m, d);
        assert_eq!(civil_from_days(days), (y, m, d));
        assert_eq!(weekday(days), wd, "{y}-{m}-{d}");
    }
    assert_eq!(format_local(utc("2026-11-02T09:30")), "2026-11-02T09:30");
    for bad in ["2026-02-29T09:00", "2026-13-01", "2026-01-01T25:00", "x"] {
        assert!(parse_local(bad).is_none(), "{bad}");
    }
}

#[test]
fn zone_maps_wall_times_through_dst_changes() {
    let ny = tz("America/New_York");
    // (local wall time, expected UTC): standard, the spring gap, the autumn overlap.
    let table = [
        ("2026-01-15T12:00", "2026-01-15T17:00"),
        ("2026-03-08T01:30", "2026-03-08T06:30"),
        // 02:30 does not exist on 8 March: it is read as 03:30 EDT.
        ("2026-03-08T02:30", "2026-03-08T07:30"),
        ("2026-03-08T03:00", "2026-03-08T07:00"),
        // 01:30 happens twice on 1 November: the first (EDT) is taken.
        ("2026-11-01T01:30", "2026-11-01T05:30"),
        ("2026-11-01T02:00", "2026-11-01T07:00"),
    ];
    for (local, want) in table {
        assert_eq!(format_local(ny.to_utc(utc(local))), want, "{local}");
    }
    assert_eq!(ny.offset_ms(utc("2026-07-01T00:00")), -4 * H);
}

#[test]
fn daily_rotation_hands_off_at_local_time_across_dst() {
    let ny = tz("America/New_York");
    let s =
        spec("America/New_York", vec![layer(&[1, 2], RotationKind::Daily, 1, "2026-03-06T09:00")]);
    // March: the day of the change is 23 hours long, handoffs stay at 09:00 local.
    let got = rows(&final_schedule(&s, &[], &ny, utc("2026-03-07T14:00"), utc("2026-03-10T13:00")));
    assert_eq!(
        got,
        vec![
            row("2026-03-07T14:00", "2026-03-08T13:00", 2),
            row("2026-03-08T13:00", "2026-03-09T13:00", 1),
            row("2026-03-09T13:00", "2026-03-10T13:00", 2),
        ]
    );
    assert_eq!(got[0].1, "2026-03-08T13:00", "a 23-hour shift");
    // November: a 25-hour day (EDT 13:00Z → EST 14:00Z).
    let s =
        spec("America/New_York", vec![layer(&[1, 2], RotationKind::Daily, 1, "2026-10-30T09:00")]);
    let got = rows(&final_schedule(&s, &[], &ny, utc("2026-10-31T13:00"), utc("2026-11-02T14:00")));
    assert_eq!(
        got,
        vec![
            row("2026-10-31T13:00", "2026-11-01T14:00", 2),
            row("2026-11-01T14:00", "2026-11-02T14:00", 1),
        ]
    );
}

#[test]
fn hourly_rotation_counts_elapsed_hours_across_dst() {
    let ny = tz("America/New_York");
    let s = spec(
        "America/New_York",
        vec![layer(&[1, 2, 3], RotationKind::Hourly, 12, "2026-03-07T20:00")],
    );
    let got = rows(&final_schedule(&s, &[], &ny, utc("2026-03-08T01:00"), utc("2026-03-09T01:00")));
    // 20:00 EST = 01:00Z; every 12 elapsed hours whatever the wall clock says.
    assert_eq!(
        got,
        vec![
            row("2026-03-08T01:00", "2026-03-08T13:00", 1),
            row("2026-03-08T13:00", "2026-03-09T01:00", 2),
        ]
    );
}

#[test]
fn weekly_rotation_with_repeated_participants_and_every_n() {
    let z = FixedZone(8 * H);
    let s = spec(
        "Asia/Shanghai",
        vec![layer(&[1, 2, 1, 3], RotationKind::Weekly, 2, "2026-11-02T09:00")],
    );
    let got = rows(&final_schedule(&s, &[], &z, utc("2026-11-02T01:00"), utc("2026-12-28T01:00")));
    let want: Vec<_> = [1, 2, 1, 3]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let a = utc("2026-11-02T01:00") + i as i64 * 14 * DAY_MS;
            (format_local(a), format_local(a + 14 * DAY_MS), *u)
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn before_the_rotation_starts_there_is_a_gap() {
    let z = FixedZone(0);
    let s = spec("UTC", vec![layer(&[7], RotationKind::Daily, 1, "2026-11-02T09:00")]);
    let got = final_schedule(&s, &[], &z, utc("2026-11-02T00:00"), utc("2026-11-02T12:00"));
    assert_eq!(
        rows(&got),
        vec![
            row("2026-11-02T00:00", "2026-11-02T09:00", 0),
            row("2026-11-02T09:00", "2026-11-02T12:00", 7),
        ]
    );
    assert_eq!(got[0].source, Source::Gap);
}

#[test]
fn restrictions_cut_a_layer_and_higher_layers_win() {
    let z = FixedZone(0);
    let mut day = layer(&[1], RotationKind::Weekly, 1, "2026-11-02T00:00");
    day.restrictions =
        vec![Window { days: vec![0, 1, 2, 3, 4], start: "09:00".into(), end: "17:00".into() }];
    let base = layer(&[2], RotationKind::Weekly, 1, "2026-11-02T00:00");
    let s = spec("UTC", vec![base, day]);
    // Friday 6 Nov → Saturday 7 Nov noon.
    let got = rows(&final_schedule(&s, &[], &z, utc("2026-11-06T00:00"), utc("2026-11-07T12:00")));
    assert_eq!(
        got,
        vec![
            row("2026-11-06T00:00", "2026-11-06T09:00", 2),
            row("2026-11-06T09:00", "2026-11-06T17:00", 1),
            row("2026-11-06T17:00", "2026-11-07T12:00", 2),
        ]
    );
}

#[test]
fn overrides_add_and_swap() {
    let z = FixedZone(0);
    let s = spec("UTC", vec![layer(&[1, 2], RotationKind::Daily, 1, "2026-11-02T00:00")]);
    let ovs = [
        // Adds 9 over both days' boundary.
        Override {
            id: 1,
            start_ms: utc("2026-11-02T20:00"),
            end_ms: utc("2026-11-03T02:00"),
            user_id: 9,
            replaces: None,
        },
        // Swaps 2 for 5 on 3 Nov afternoon; a swap for 1 there does nothing.
        Override {
            id: 2,
            start_ms: utc("2026-11-03T12:00"),
            end_ms: utc("2026-11-03T18:00"),
            user_id: 5,
            replaces: Some(2),
        },
        Override {
            id: 3,
            start_ms: utc("2026-11-03T12:00"),
            end_ms: utc("2026-11-03T18:00"),
            user_id: 6,
            replaces: Some(1),
        },
    ];
    let got = final_schedule(&s, &ovs, &z, utc("2026-11-02T00:00"), utc("2026-11-04T00:00"));
    assert_eq!(
        rows(&got),
        vec![
            row("2026-11-02T00:00", "2026-11-02T20:00", 1),
            row("2026-11-02T20:00", "2026-11-03T02:00", 9),
            row("2026-11-03T02:00", "2026-11-03T12:00", 2),
            row("2026-11-03T12:00", "2026-11-03T18:00", 5),
            row("2026-11-03T18:00", "2026-11-04T00:00", 2),
        ]
    );
    assert_eq!(got[1].source, Source::Override(1));
    assert_eq!(on_call_at(&s, &ovs, &z, utc("2026-11-03T13:00")).and_then(|s| s.user_id), Some(5));
}

#[test]
fn seed_roster_covers_every_hour_with_the_right_team() {
    let sh = tz("Asia/Shanghai");
    // 2 Nov 2026 is a Monday. Day team 1,2; night ops 3; weekend 4,5.
    let s = seed_roster("Primary", "2026-11-02", vec![1, 2], vec![3], vec![4, 5]);
    assert!(s.validate().is_ok());
    let at = |local: &str| on_call_at(&s, &[], &sh, sh.to_utc(utc(local))).and_then(|x| x.user_id);
    let table = [
        ("2026-11-02T08:59", None), // before the rotations start: nobody yet
        ("2026-11-02T09:00", Some(1)),
        ("2026-11-02T22:59", Some(1)),
        ("2026-11-02T23:00", Some(3)),
        ("2026-11-03T08:59", Some(3)),
        ("2026-11-06T22:00", Some(1)), // Friday evening
        ("2026-11-07T03:00", Some(3)), // Friday night runs to Saturday 09:00
        ("2026-11-07T09:00", Some(4)), // weekend on-call
        ("2026-11-08T23:30", Some(4)), // Sunday night is the weekend's
        ("2026-11-09T08:59", Some(4)),
        ("2026-11-09T09:00", Some(2)), // next week's day person
        ("2026-11-14T12:00", Some(5)), // next weekend
    ];
    for (local, want) in table {
        assert_eq!(at(local), want, "{local}");
    }
    // From the first Monday 09:00 on there is no gap for four weeks.
    let from = sh.to_utc(utc("2026-11-02T09:00"));
    let fin = final_schedule(&s, &[], &sh, from, from + 28 * DAY_MS);
    assert!(fin.iter().all(|x| x.user_id.is_some()), "{fin:?}");
}

#[test]
fn validation_names_fields() {
    let mut s = seed_roster("", "2026-11-02", vec![], vec![1], vec![1]);
    s.layers[1].rotation.every = 0;
    s.layers[2].rotation.start = "tomorrow".into();
    s.layers[2].restrictions[0].days = vec![9];
    let e = s.validate().expect_err("invalid");
    for f in [
        "name",
        "layers.0.participants",
        "layers.1.every",
        "layers.2.start",
        "layers.2.restrictions",
    ] {
        assert!(e.get(f).is_some(), "{f}: {e:?}");
    }
    let e = validate_override(10, 5, 0).expect_err("order");
    assert!(e.get("end").is_some());
    assert!(validate_override(10, 20, 15).is_ok());
}

// ---- invariants ------------------------------------------------------------------------

fn arb_layer() -> impl Strategy<Value = Layer> {
    (
        prop::collection::vec(1i64..6, 1..4),
        prop_oneof![
            Just(RotationKind::Hourly),
            Just(RotationKind::Daily),
            Just(RotationKind::Weekly)
        ],
        1u32..4,
        0i64..(20 * 24),
        prop::option::of((prop::collection::vec(0u8..7, 1..4), 0u16..48, 0u16..48)),
    )
        .prop_map(|(people, kind, every, start_h, window)| Layer {
            name: "L".into(),
            participants: people,
            rotation: Rotation {
                kind,
                every,
                start: format_local(utc("2026-02-20T00:00") + start_h * H),
            },
            restrictions: window
                .map(|(days, a, b)| {
                    vec![Window { days, start: format_hhmm(a * 30), end: format_hhmm(b * 30) }]
                })
                .unwrap_or_default(),
        })
}

fn arb_override() -> impl Strategy<Value = Override> {
    (0i64..(40 * 24), 1i64..72, 1i64..9, prop::option::of(1i64..6)).prop_map(
        |(start_h, len_h, user, replaces)| Override {
            id: 0,
            start_ms: utc("2026-02-25T00:00") + start_h * H + 15 * MINUTE_MS,
            end_ms: utc("2026-02-25T00:00") + (start_h + len_h) * H,
            user_id: user,
            replaces,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Across the New York DST change in March: shifts tile `[from, to)` exactly (no
    /// overlap, no hole), so every instant has at most one person; and at every instant an
    /// add-override covers, its person (the newest such override) is the one on call.
    #[test]
    fn final_schedule_tiles_the_interval_and_overrides_win(
        layers in prop::collection::vec(arb_layer(), 1..4),
        mut ovs in prop::collection::vec(arb_override(), 0..5),
        from_h in 0i64..(30 * 24),
        len_h in 1i64..(14 * 24),
    ) {
        for (i, o) in ovs.iter_mut().enumerate() {
            o.id = i as i64 + 1;
        }
        let ny = tz("America/New_York");
        let s = spec("America/New_York", layers);
        let from = utc("2026-02-25T00:00") + from_h * H;
        let to = from + len_h * H;
        let fin = final_schedule(&s, &ovs, &ny, from, to);
        prop_assert_eq!(fin.first().map(|x| x.start_ms), Some(from));
        prop_assert_eq!(fin.last().map(|x| x.end_ms), Some(to));
        for w in fin.windows(2) {
            prop_assert_eq!(w[0].end_ms, w[1].start_ms, "no overlap and no hole");
        }
        for x in &fin {
            prop_assert!(x.start_ms < x.end_ms);
            prop_assert_eq!(x.user_id.is_none(), x.source == Source::Gap);
        }
        // Sample instants: each inside exactly one shift; add-overrides win.
        let mut t = from;
        while t < to {
            let here: Vec<&Shift> = fin.iter().filter(|x| x.start_ms <= t && t < x.end_ms).collect();
            prop_assert_eq!(here.len(), 1);
            if let Some(o) = ovs.iter().filter(|o| o.replaces.is_none() && o.start_ms <= t && t < o.end_ms).max_by_key(|o| o.id) {
                prop_assert_eq!(here[0].user_id, Some(o.user_id));
                prop_assert_eq!(here[0].source, Source::Override(o.id));
            }
            t += 37 * MINUTE_MS;
        }
    }

    /// A layer's own shifts never overlap and stay inside the interval and its windows.
    #[test]
    fn layer_shifts_are_sorted_and_disjoint(l in arb_layer(), from_h in 0i64..(30 * 24), len_h in 1i64..(10 * 24)) {
        let ny = tz("America/New_York");
        let from = utc("2026-02-25T00:00") + from_h * H;
        let to = from + len_h * H;
        let v = layer_shifts(&l, &ny, from, to);
        for w in v.windows(2) {
            prop_assert!(w[0].end_ms <= w[1].start_ms);
        }
        for x in &v {
            prop_assert!(from <= x.start_ms && x.end_ms <= to && x.start_ms < x.end_ms);
        }
    }
}
