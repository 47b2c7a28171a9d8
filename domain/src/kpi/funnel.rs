//! Funnels: ordered steps (event names) and a conversion window measured from the first
//! step. A user reaches step k when it did steps 1..k in that order inside the window.

use serde::{Deserialize, Serialize};

/// Per-step result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    pub event: String,
    pub users: u64,
    /// users / users of step 1.
    pub from_start: Option<f64>,
    /// users / users of the previous step (1.0 for step 1 when it has users).
    pub from_previous: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelResult {
    pub steps: Vec<FunnelStep>,
    /// Index of the step that loses the most users versus its previous step (ties: the
    /// earliest); `None` with fewer than two steps or no loss at all.
    pub drop_off_step: Option<usize>,
}

/// How far one user got: the deepest step reached over every start at a step-1 event.
/// `events` are (timestamp ms, event), sorted by time; events are names or any id of them.
pub fn depth_reached<N: PartialEq>(events: &[(i64, N)], steps: &[N], window_ms: i64) -> usize {
    let Some(first) = steps.first() else { return 0 };
    let mut best = 0;
    for (i, (t0, name)) in events.iter().enumerate() {
        if name != first {
            continue;
        }
        let mut depth = 1;
        for (t, name) in &events[i + 1..] {
            if *t > t0 + window_ms || depth == steps.len() {
                break;
            }
            if *name == steps[depth] {
                depth += 1;
            }
        }
        best = best.max(depth);
        if best == steps.len() {
            break;
        }
    }
    best
}

/// Builds the funnel from each user's depth (see [`depth_reached`]).
pub fn funnel(steps: &[String], depths: impl IntoIterator<Item = usize>) -> FunnelResult {
    let mut reached = vec![0u64; steps.len()];
    for d in depths {
        for r in reached.iter_mut().take(d.min(steps.len())) {
            *r += 1;
        }
    }
    let first = reached.first().copied().unwrap_or(0);
    let steps_out: Vec<FunnelStep> = steps
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let users = reached[i];
            let prev = if i == 0 { users } else { reached[i - 1] };
            FunnelStep {
                event: event.clone(),
                users,
                from_start: (first > 0).then(|| users as f64 / first as f64),
                from_previous: (prev > 0).then(|| users as f64 / prev as f64),
            }
        })
        .collect();
    let drop_off_step = (1..reached.len())
        .map(|i| (i, reached[i - 1] - reached[i]))
        .filter(|(_, lost)| *lost > 0)
        .fold(None, |best: Option<(usize, u64)>, (i, lost)| match best {
            Some((_, b)) if b >= lost => best,
            _ => Some((i, lost)),
        })
        .map(|(i, _)| i);
    FunnelResult { steps: steps_out, drop_off_step }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps<'a>(names: &[&'a str]) -> Vec<&'a str> {
        names.to_vec()
    }

    #[test]
    fn depth_respects_order_and_window() {
        let s = steps(&["a_view_page", "a_click_buy", "a_pay_order"]);
        let day = 86_400_000;
        // In order inside the window: full depth.
        assert_eq!(
            depth_reached(&[(0, "a_view_page"), (10, "a_click_buy"), (20, "a_pay_order")], &s, day),
            3
        );
        // Out of order: pay before buy does not count.
        assert_eq!(
            depth_reached(&[(0, "a_view_page"), (10, "a_pay_order"), (20, "a_click_buy")], &s, day),
            2
        );
        // Outside the window from the first step.
        assert_eq!(
            depth_reached(
                &[(0, "a_view_page"), (10, "a_click_buy"), (day + 1, "a_pay_order")],
                &s,
                day
            ),
            2
        );
        // A later start converts inside its own window.
        assert_eq!(
            depth_reached(
                &[
                    (0, "a_view_page"),
                    (2 * day, "a_view_page"),
                    (2 * day + 5, "a_click_buy"),
                    (2 * day + 9, "a_pay_order")
                ],
                &s,
                day
            ),
            3
        );
        // Never did step 1.
        assert_eq!(depth_reached(&[(0, "a_click_buy")], &s, day), 0);
    }

    #[test]
    fn funnel_counts_conversions_and_drop_off() {
        let s: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        // 10 users: depths 4,4,3,2,2,2,1,1,1,0 → reached [9,6,3,2].
        let r = funnel(&s, [4, 4, 3, 2, 2, 2, 1, 1, 1, 0]);
        let users: Vec<u64> = r.steps.iter().map(|x| x.users).collect();
        assert_eq!(users, [9, 6, 3, 2]);
        assert_eq!(r.steps[1].from_start, Some(6.0 / 9.0));
        assert_eq!(r.steps[2].from_previous, Some(0.5));
        // Losses: a→b 3, b→c 3, c→d 1 → the earliest of the largest: step 1 (b).
        assert_eq!(r.drop_off_step, Some(1));
        // Steps never increase.
        assert!(users.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn empty_funnels() {
        let s: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let r = funnel(&s, []);
        assert_eq!(r.steps[0].users, 0);
        assert_eq!(r.steps[0].from_start, None);
        assert_eq!(r.drop_off_step, None);
    }
}
