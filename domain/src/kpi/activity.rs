//! Activity KPIs from per-day user sets (roaring bitmaps over a dense user index):
//! DAU/WAU/MAU, stickiness, retention cohorts, feature penetration. Set unions and
//! intersections only — no scan of raw events.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Users active per day (day number → set of user indexes).
pub type DaySets = BTreeMap<i32, RoaringBitmap>;

fn get(sets: &DaySets, day: i32) -> Option<&RoaringBitmap> {
    sets.get(&day)
}

/// Distinct users active on `day`.
pub fn dau(active: &DaySets, day: i32) -> u64 {
    get(active, day).map_or(0, RoaringBitmap::len)
}

/// Distinct users active in the `window_days` days ending on `day` (7 → WAU, 30 → MAU).
pub fn active_in_window(active: &DaySets, day: i32, window_days: i32) -> u64 {
    union_range(active, day - window_days + 1, day).len()
}

/// Union of the sets of days `from..=to`.
pub fn union_range(sets: &DaySets, from: i32, to: i32) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    for (_, s) in sets.range(from..=to) {
        out |= s;
    }
    out
}

/// DAU / MAU on `day`; `None` when nobody was active in the 30 days.
pub fn stickiness(active: &DaySets, day: i32) -> Option<f64> {
    let mau = active_in_window(active, day, 30);
    (mau > 0).then(|| dau(active, day) as f64 / mau as f64)
}

/// One row of the retention table: a registration day, its size and Dn rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    pub day: i32,
    pub size: u64,
    /// `rates[i]` is retention on day `offsets[i]`; `None` when that day is after `today`
    /// or the cohort is empty.
    pub rates: Vec<Option<f64>>,
}

/// Retention Dn(d) = |cohort(d) ∩ active(d+n)| / |cohort(d)|. `None` for an empty cohort or a
/// day not yet reached (`d + n > today`).
pub fn retention(cohorts: &DaySets, active: &DaySets, day: i32, n: i32, today: i32) -> Option<f64> {
    let cohort = get(cohorts, day)?;
    if cohort.is_empty() || day + n > today {
        return None;
    }
    let kept = get(active, day + n).map_or(0, |a| cohort.intersection_len(a));
    Some(kept as f64 / cohort.len() as f64)
}

/// The cohort table for registration days `from..=to` at the given day offsets.
pub fn cohort_table(
    cohorts: &DaySets,
    active: &DaySets,
    from: i32,
    to: i32,
    offsets: &[i32],
    today: i32,
) -> Vec<CohortRow> {
    (from..=to)
        .map(|day| CohortRow {
            day,
            size: get(cohorts, day).map_or(0, RoaringBitmap::len),
            rates: offsets.iter().map(|n| retention(cohorts, active, day, *n, today)).collect(),
        })
        .collect()
}

/// Users of a feature on `day` / DAU; `None` when DAU is 0.
pub fn penetration(feature: &DaySets, active: &DaySets, day: i32) -> Option<f64> {
    let d = dau(active, day);
    (d > 0).then(|| dau(feature, day) as f64 / d as f64)
}

/// New-feature 7-day penetration: users of the feature in the 7 days from its first event /
/// users active in those 7 days. `None` when the feature was never used.
pub fn new_feature_penetration(feature: &DaySets, active: &DaySets) -> Option<f64> {
    let first = *feature.iter().find(|(_, s)| !s.is_empty())?.0;
    let users = union_range(feature, first, first + 6).len();
    let all = union_range(active, first, first + 6).len();
    (all > 0).then(|| users as f64 / all as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(days: &[(i32, &[u32])]) -> DaySets {
        days.iter().map(|(d, users)| (*d, users.iter().copied().collect())).collect()
    }

    #[test]
    fn dau_wau_mau_and_stickiness_by_hand() {
        // Day 10: users 1,2,3. Day 12: 3,4. Day 16: 5. Day 40: 1.
        let active = sets(&[(10, &[1, 2, 3]), (12, &[3, 4]), (16, &[5]), (40, &[1])]);
        assert_eq!(dau(&active, 10), 3);
        assert_eq!(dau(&active, 11), 0);
        // WAU(16) covers days 10..=16: {1,2,3,4,5}.
        assert_eq!(active_in_window(&active, 16, 7), 5);
        // WAU(17) covers 11..=17: {3,4,5}.
        assert_eq!(active_in_window(&active, 17, 7), 3);
        // MAU(40) covers 11..=40: {3,4,5,1}.
        assert_eq!(active_in_window(&active, 40, 30), 4);
        assert_eq!(stickiness(&active, 40), Some(0.25));
        assert_eq!(stickiness(&active, 100), None, "nobody active: no ratio");
    }

    #[test]
    fn retention_by_hand() {
        // Cohort of day 0: users 1..=4. Active day 1: 1,2,9. Day 7: 1. Day 30: none.
        let cohorts = sets(&[(0, &[1, 2, 3, 4]), (1, &[])]);
        let active = sets(&[(0, &[1, 2, 3, 4]), (1, &[1, 2, 9]), (7, &[1])]);
        assert_eq!(retention(&cohorts, &active, 0, 1, 40), Some(0.5));
        assert_eq!(retention(&cohorts, &active, 0, 7, 40), Some(0.25));
        assert_eq!(retention(&cohorts, &active, 0, 30, 40), Some(0.0));
        assert_eq!(retention(&cohorts, &active, 0, 30, 29), None, "D30 not reached yet");
        assert_eq!(retention(&cohorts, &active, 1, 1, 40), None, "empty cohort");
        assert_eq!(retention(&cohorts, &active, 5, 1, 40), None, "no cohort");
        let table = cohort_table(&cohorts, &active, 0, 1, &[0, 1, 7], 7);
        assert_eq!(table[0].size, 4);
        assert_eq!(table[0].rates, vec![Some(1.0), Some(0.5), Some(0.25)]);
        assert_eq!(table[1].rates, vec![None, None, None]);
    }

    #[test]
    fn penetration_by_hand() {
        let active = sets(&[(5, &[1, 2, 3, 4]), (6, &[1, 2]), (9, &[7, 8])]);
        let feature = sets(&[(5, &[1]), (6, &[1, 2]), (20, &[3])]);
        assert_eq!(penetration(&feature, &active, 5), Some(0.25));
        assert_eq!(penetration(&feature, &active, 6), Some(1.0));
        assert_eq!(penetration(&feature, &active, 7), None);
        // First use day 5; days 5..=11: feature users {1,2}, active {1,2,3,4,7,8}.
        assert_eq!(new_feature_penetration(&feature, &active), Some(2.0 / 6.0));
        assert_eq!(new_feature_penetration(&DaySets::new(), &active), None);
    }
}
