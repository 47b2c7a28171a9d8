//! Alert rule evaluation with Prometheus' semantics (rules/alerting.go), pure: the caller
//! passes the evaluation time and the series for which the rule's condition holds now.
//!
//! - A label set identifies an alert instance.
//! - A newly matching series becomes **pending** (`active_at` = now); it turns **firing** at
//!   the first evaluation where it has matched for at least `for` — at once when `for` is 0.
//!   It must match at *every* evaluation meanwhile: one miss drops the pending instance, and
//!   the next match starts over.
//! - A firing instance whose series stops matching is **resolved** — unless
//!   `keep_firing_for` is set: then it keeps firing until it has been missing that long
//!   (a match in between resets the count).
//! - Resolved instances are kept `resolved_retention` (Prometheus: 15 min) so notifiers can
//!   still report them, then forgotten; a new match meanwhile starts a fresh pending instance.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod routing;
pub mod rule;
pub mod template;

pub use rule::{
    format_duration, parse_duration, KpiMetric, MetricUnit, RuleQuery, RuleSpec, Severity,
};

/// An alert instance's labels (sorted, so equal sets compare equal).
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertState {
    /// Resolved (kept for notification) — Prometheus' "inactive".
    Inactive,
    Pending,
    Firing,
}

/// Timing of one rule, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTiming {
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub resolved_retention_ms: i64,
}

impl Default for RuleTiming {
    fn default() -> Self {
        Self { for_ms: 0, keep_firing_for_ms: 0, resolved_retention_ms: 15 * 60_000 }
    }
}

/// One series for which the condition holds at this evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub state: AlertState,
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    /// When the series stopped matching while firing (keep_firing_for).
    pub keep_firing_since_ms: Option<i64>,
}

/// A state change of one instance, to store in the alert history and to notify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub labels: Labels,
    pub from: Option<AlertState>,
    /// `None`: a pending instance was dropped (its series stopped matching before `for`).
    pub to: Option<AlertState>,
    pub value: f64,
    pub at_ms: i64,
}

/// Every instance of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Serialized as a list of `[labels, instance]` pairs (JSON keys must be strings).
    #[serde(with = "instances_as_pairs")]
    pub instances: BTreeMap<Labels, Instance>,
}

mod instances_as_pairs {
    use super::{Instance, Labels};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<Labels, Instance>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Labels, Instance>, D::Error> {
        Ok(Vec::<(Labels, Instance)>::deserialize(d)?.into_iter().collect())
    }
}

impl RuleState {
    /// Instances currently firing.
    pub fn firing(&self) -> impl Iterator<Item = (&Labels, &Instance)> {
        self.instances.iter().filter(|(_, i)| i.state == AlertState::Firing)
    }

    /// One evaluation at `now_ms` with the series that match now; returns the transitions.
    pub fn evaluate(&mut self, t: RuleTiming, now_ms: i64, matching: &[Sample]) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut matched: BTreeMap<&Labels, f64> = BTreeMap::new();
        for s in matching {
            matched.insert(&s.labels, s.value);
        }
        // New or re-activated instances.
        for (labels, value) in &matched {
            match self.instances.get_mut(*labels) {
                Some(i) if i.state != AlertState::Inactive => i.value = *value,
                previous => {
                    let from = previous.map(|p| p.state);
                    self.instances.insert(
                        (*labels).clone(),
                        Instance {
                            state: AlertState::Pending,
                            value: *value,
                            active_at_ms: now_ms,
                            fired_at_ms: None,
                            resolved_at_ms: None,
                            keep_firing_since_ms: None,
                        },
                    );
                    out.push(Transition {
                        labels: (*labels).clone(),
                        from,
                        to: Some(AlertState::Pending),
                        value: *value,
                        at_ms: now_ms,
                    });
                }
            }
        }
        let mut forget = Vec::new();
        for (labels, i) in self.instances.iter_mut() {
            if matched.contains_key(labels) {
                i.keep_firing_since_ms = None;
            } else {
                let mut keep_firing = false;
                if i.state == AlertState::Firing && t.keep_firing_for_ms > 0 {
                    let since = *i.keep_firing_since_ms.get_or_insert(now_ms);
                    keep_firing = now_ms - since < t.keep_firing_for_ms;
                }
                match i.state {
                    AlertState::Pending => {
                        forget.push(labels.clone());
                        out.push(Transition {
                            labels: labels.clone(),
                            from: Some(AlertState::Pending),
                            to: None,
                            value: i.value,
                            at_ms: now_ms,
                        });
                        continue;
                    }
                    AlertState::Inactive => {
                        if i.resolved_at_ms.is_none_or(|r| now_ms - r > t.resolved_retention_ms) {
                            forget.push(labels.clone());
                        }
                        continue;
                    }
                    AlertState::Firing if !keep_firing => {
                        i.state = AlertState::Inactive;
                        i.resolved_at_ms = Some(now_ms);
                        out.push(Transition {
                            labels: labels.clone(),
                            from: Some(AlertState::Firing),
                            to: Some(AlertState::Inactive),
                            value: i.value,
                            at_ms: now_ms,
                        });
                        continue;
                    }
                    AlertState::Firing => {}
                }
            }
            if i.state == AlertState::Pending && now_ms - i.active_at_ms >= t.for_ms {
                i.state = AlertState::Firing;
                i.fired_at_ms = Some(now_ms);
                out.push(Transition {
                    labels: labels.clone(),
                    from: Some(AlertState::Pending),
                    to: Some(AlertState::Firing),
                    value: i.value,
                    at_ms: now_ms,
                });
            }
        }
        for l in forget {
            self.instances.remove(&l);
        }
        out
    }
}

/// How a threshold compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl CompareOp {
    pub const ALL: [CompareOp; 6] =
        [CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le, CompareOp::Eq, CompareOp::Ne];

    /// PromQL's spelling (`>`, `>=`, …), also the form value in the editor.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }

    pub fn from_symbol(s: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|o| o.symbol() == s)
    }

    pub fn holds(self, v: f64, threshold: f64) -> bool {
        match self {
            CompareOp::Gt => v > threshold,
            CompareOp::Ge => v >= threshold,
            CompareOp::Lt => v < threshold,
            CompareOp::Le => v <= threshold,
            CompareOp::Eq => v == threshold,
            CompareOp::Ne => v != threshold,
        }
    }
}

/// A rule's condition on its query's samples: (time ms, value), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The latest value compared with a threshold (e.g. AI success < 0.9).
    Threshold { op: CompareOp, threshold: f64 },
    /// The latest value is more than `pct` % below the previous period's (e.g. DAU −20 %).
    DropPct { pct: f64 },
    /// The latest value is more than `pct` % above the previous period's.
    RisePct { pct: f64 },
    /// No sample for longer than `for_ms`.
    NoData { for_ms: i64 },
    /// |z-score| of the latest value against the `window` samples before it exceeds `k`.
    ZScore { k: f64, window: usize },
    /// The query returns the series at all — Prometheus' own rule semantics, where the
    /// expression carries the comparison (`up == 0`). PromQL rules only.
    Present,
}

/// Whether a condition holds now, and the value to show with it (the sample, the change in
/// %, the z-score, or the age of the last sample in ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub holds: bool,
    pub value: Option<f64>,
}

impl Condition {
    /// Field-level validation (field names as in the rule editor).
    pub fn validate(&self) -> Result<(), crate::FieldErrors> {
        let mut e = crate::FieldErrors::new();
        match self {
            Condition::Threshold { threshold, .. } if !threshold.is_finite() => {
                e.add("threshold", "must be a number");
            }
            Condition::DropPct { pct } | Condition::RisePct { pct }
                if !(pct.is_finite() && *pct > 0.0 && *pct <= 1_000.0) =>
            {
                e.add("pct", "must be a percentage above 0 and at most 1000");
            }
            Condition::NoData { for_ms } if !(60_000..=30 * 86_400_000).contains(for_ms) => {
                e.add("for", "must be between 1 minute and 30 days");
            }
            Condition::ZScore { k, window } => {
                if !(k.is_finite() && *k > 0.0) {
                    e.add("k", "must be a number above 0");
                }
                if !(3..=10_000).contains(window) {
                    e.add("window", "must be between 3 and 10000 samples");
                }
            }
            _ => {}
        }
        e.into_result()
    }

    /// Evaluates at `now_ms` on `samples` (oldest first); `previous` is the same query's
    /// value over the previous period (for the change conditions).
    pub fn check(&self, now_ms: i64, samples: &[(i64, f64)], previous: Option<f64>) -> Check {
        let latest = samples.last().map(|(_, v)| *v);
        let no = |value| Check { holds: false, value };
        match *self {
            Condition::Threshold { op, threshold } => match latest {
                None => no(None),
                Some(v) => Check { holds: op.holds(v, threshold), value: Some(v) },
            },
            Condition::DropPct { pct } | Condition::RisePct { pct } => {
                match (latest, previous) {
                    // A change from zero has no percentage.
                    (Some(v), Some(p)) if p > 0.0 => {
                        let change = (v - p) / p * 100.0;
                        let holds = match self {
                            Condition::DropPct { .. } => -change > pct,
                            _ => change > pct,
                        };
                        Check { holds, value: Some(change) }
                    }
                    _ => no(None),
                }
            }
            Condition::NoData { for_ms } => match samples.last() {
                None => Check { holds: true, value: None },
                Some((t, _)) => {
                    Check { holds: now_ms - t > for_ms, value: Some((now_ms - t) as f64) }
                }
            },
            Condition::Present => Check { holds: latest.is_some(), value: latest },
            Condition::ZScore { k, window } => {
                let Some((current, history)) = samples.split_last() else {
                    return no(None);
                };
                let history = &history[history.len().saturating_sub(window)..];
                if history.len() < 2 {
                    return no(None);
                }
                let n = history.len() as f64;
                let mean = history.iter().map(|(_, v)| v).sum::<f64>() / n;
                let var = history.iter().map(|(_, v)| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let sd = var.sqrt();
                if sd <= f64::EPSILON {
                    // A flat history: any change is infinitely unusual, none is normal.
                    return no(None);
                }
                let z = (current.1 - mean) / sd;
                Check { holds: z.abs() > k, value: Some(z) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn sample(v: f64) -> Vec<Sample> {
        vec![Sample { labels: labels(&[("alertname", "dau_drop")]), value: v }]
    }

    fn state(s: &RuleState) -> Option<AlertState> {
        s.instances.values().next().map(|i| i.state)
    }

    /// Runs evaluations every minute; `cond[i]` = the series matches at minute i. Returns
    /// the state after each evaluation.
    fn run(t: RuleTiming, cond: &[bool]) -> Vec<Option<AlertState>> {
        let mut s = RuleState::default();
        cond.iter()
            .enumerate()
            .map(|(i, c)| {
                let m = if *c { sample(1.0) } else { Vec::new() };
                s.evaluate(t, i as i64 * MIN, &m);
                state(&s)
            })
            .collect()
    }

    use AlertState::{Firing as F, Inactive as I, Pending as P};

    #[test]
    fn prometheus_semantics_table() {
        let t = |for_m: i64, keep_m: i64| RuleTiming {
            for_ms: for_m * MIN,
            keep_firing_for_ms: keep_m * MIN,
            resolved_retention_ms: 15 * MIN,
        };
        type Case = (&'static str, RuleTiming, Vec<bool>, Vec<Option<AlertState>>);
        let cases: Vec<Case> = vec![
            (
                "no `for`: fires at the first evaluation",
                t(0, 0),
                vec![true, true, false],
                vec![Some(F), Some(F), Some(I)],
            ),
            (
                "for 3m: pending until 3 minutes have passed",
                t(3, 0),
                vec![true, true, true, true, true],
                vec![Some(P), Some(P), Some(P), Some(F), Some(F)],
            ),
            (
                "a miss while pending drops it; the count starts over",
                t(2, 0),
                vec![true, true, false, true, true, true],
                vec![Some(P), Some(P), None, Some(P), Some(P), Some(F)],
            ),
            (
                "resolved when the series stops matching",
                t(1, 0),
                vec![true, true, false, false],
                vec![Some(P), Some(F), Some(I), Some(I)],
            ),
            (
                "keep_firing_for 2m: firing until missing for 2 minutes",
                t(0, 2),
                vec![true, false, false, false],
                vec![Some(F), Some(F), Some(F), Some(I)],
            ),
            (
                "a match during keep_firing_for resets it",
                t(0, 2),
                vec![true, false, true, false, false, false],
                vec![Some(F), Some(F), Some(F), Some(F), Some(F), Some(I)],
            ),
            (
                "a resolved instance that matches again starts pending again",
                t(1, 0),
                vec![true, true, false, true, true],
                vec![Some(P), Some(F), Some(I), Some(P), Some(F)],
            ),
        ];
        for (name, timing, cond, want) in cases {
            assert_eq!(run(timing, &cond), want, "{name}");
        }
    }

    #[test]
    fn resolved_instances_are_forgotten_after_the_retention() {
        let t = RuleTiming { resolved_retention_ms: 2 * MIN, ..RuleTiming::default() };
        let got = run(t, &[true, false, false, false, false]);
        assert_eq!(got, vec![Some(F), Some(I), Some(I), Some(I), None]);
    }

    #[test]
    fn rule_state_round_trips_through_json() {
        let mut s = RuleState::default();
        s.evaluate(RuleTiming::default(), 0, &sample(3.0));
        s.evaluate(
            RuleTiming::default(),
            MIN,
            &[Sample { labels: labels(&[("service", "chat")]), value: 2.0 }],
        );
        assert_eq!(s.instances.len(), 2);
        let text = serde_json::to_string(&s).expect("serialize");
        let back: RuleState = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, s);
    }

    #[test]
    fn transitions_carry_value_and_time_and_label_sets_are_independent() {
        let t = RuleTiming { for_ms: MIN, ..RuleTiming::default() };
        let a = labels(&[("alertname", "cpu"), ("host", "a")]);
        let b = labels(&[("alertname", "cpu"), ("host", "b")]);
        let mut s = RuleState::default();
        let tr = s.evaluate(
            t,
            0,
            &[Sample { labels: a.clone(), value: 95.0 }, Sample { labels: b.clone(), value: 97.0 }],
        );
        assert_eq!(tr.len(), 2);
        assert!(tr.iter().all(|x| x.to == Some(P) && x.from.is_none()));
        // Only a keeps matching: a fires with its new value, b is dropped.
        let tr = s.evaluate(t, MIN, &[Sample { labels: a.clone(), value: 96.5 }]);
        assert_eq!(
            tr,
            vec![
                Transition {
                    labels: a.clone(),
                    from: Some(P),
                    to: Some(F),
                    value: 96.5,
                    at_ms: MIN
                },
                Transition { labels: b.clone(), from: Some(P), to: None, value: 97.0, at_ms: MIN },
            ]
        );
        assert_eq!(s.firing().count(), 1);
        assert_eq!(s.instances[&a].fired_at_ms, Some(MIN));
        assert_eq!(s.instances[&a].active_at_ms, 0);
    }

    /// Oracle for keep_firing_for = 0: at evaluation i the instance fires exactly when the
    /// series has matched at every evaluation of the current run and the run is `for` old.
    #[test]
    fn firing_matches_the_oracle_on_many_sequences() {
        // A small deterministic generator (no extra dependency): 2 000 sequences.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2_000 {
            let len = (next() % 40) as usize + 1;
            let for_m = (next() % 6) as i64;
            let cond: Vec<bool> = (0..len).map(|_| next() % 3 != 0).collect();
            let t = RuleTiming { for_ms: for_m * MIN, ..RuleTiming::default() };
            let got = run(t, &cond);
            let mut run_start: Option<usize> = None;
            for (i, c) in cond.iter().enumerate() {
                if *c {
                    let start = *run_start.get_or_insert(i);
                    let want = if (i - start) as i64 >= for_m { F } else { P };
                    assert_eq!(got[i], Some(want), "{cond:?} for {for_m}m at {i}");
                } else {
                    run_start = None;
                    assert_ne!(got[i], Some(F), "{cond:?} at {i}");
                    assert_ne!(got[i], Some(P), "{cond:?} at {i}");
                }
            }
        }
    }

    #[test]
    fn conditions_by_hand() {
        let s = |vals: &[f64]| -> Vec<(i64, f64)> {
            vals.iter().enumerate().map(|(i, v)| (i as i64 * MIN, *v)).collect()
        };
        let below = Condition::Threshold { op: CompareOp::Lt, threshold: 0.9 };
        assert_eq!(
            below.check(0, &s(&[0.95, 0.88]), None),
            Check { holds: true, value: Some(0.88) }
        );
        assert!(!below.check(0, &s(&[0.9]), None).holds, "0.9 is not < 0.9");
        assert!(!below.check(0, &[], None).holds, "no data is not a breach");
        // DAU 1000 → 790: −21 % > 20 %; 1000 → 800: exactly −20 %, not more.
        let drop = Condition::DropPct { pct: 20.0 };
        let c = drop.check(0, &s(&[790.0]), Some(1000.0));
        assert!(c.holds);
        assert!((c.value.unwrap_or(0.0) + 21.0).abs() < 1e-9);
        assert!(!drop.check(0, &s(&[800.0]), Some(1000.0)).holds);
        assert!(!drop.check(0, &s(&[5.0]), Some(0.0)).holds, "no % from 0");
        let rise = Condition::RisePct { pct: 50.0 };
        assert!(rise.check(0, &s(&[151.0]), Some(100.0)).holds);
        assert!(!rise.check(0, &s(&[40.0]), Some(100.0)).holds);
        // No data for more than 5 minutes.
        let nodata = Condition::NoData { for_ms: 5 * MIN };
        assert!(nodata.check(10 * MIN, &[(4 * MIN, 1.0)], None).holds);
        assert!(!nodata.check(9 * MIN, &[(4 * MIN, 1.0)], None).holds);
        assert!(nodata.check(0, &[], None).holds);
        // History 10, 12, 14: mean 12, sample sd 2; 19 → z = 3.5 > 3.
        let z = Condition::ZScore { k: 3.0, window: 3 };
        let c = z.check(0, &s(&[100.0, 10.0, 12.0, 14.0, 19.0]), None);
        assert_eq!(c, Check { holds: true, value: Some(3.5) });
        assert!(!z.check(0, &s(&[10.0, 12.0, 14.0, 17.0]), None).holds, "z = 2.5");
        assert!(!z.check(0, &s(&[5.0, 5.0, 5.0, 9.0]), None).holds, "flat history");
        assert!(!z.check(0, &s(&[5.0, 9.0]), None).holds, "too little history");
    }

    #[test]
    fn conditions_validate_by_field() {
        let bad = [
            (Condition::DropPct { pct: 0.0 }, "pct"),
            (Condition::Threshold { op: CompareOp::Gt, threshold: f64::NAN }, "threshold"),
            (Condition::NoData { for_ms: 1_000 }, "for"),
            (Condition::ZScore { k: 0.0, window: 30 }, "k"),
            (Condition::ZScore { k: 3.0, window: 2 }, "window"),
        ];
        for (c, field) in bad {
            let errs = c.validate().expect_err("invalid");
            assert!(errs.get(field).is_some(), "{c:?}: {errs}");
        }
        assert!(Condition::DropPct { pct: 20.0 }.validate().is_ok());
        assert!(Condition::ZScore { k: 3.0, window: 30 }.validate().is_ok());
        // The editor's JSON form.
        let c: Condition =
            serde_json::from_str(r#"{"kind":"threshold","op":"lt","threshold":0.9}"#)
                .expect("json");
        assert_eq!(c, Condition::Threshold { op: CompareOp::Lt, threshold: 0.9 });
    }
}
