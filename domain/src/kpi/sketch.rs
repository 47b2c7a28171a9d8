//! A mergeable quantile sketch with bounded relative error (DDSketch, Masson et al. 2019):
//! positive values fall into logarithmic buckets `γ^(i-1) < x ≤ γ^i` with
//! `γ = (1+α)/(1-α)`; any quantile is answered within relative error `α` (1 % here).
//! Sketches of hours merge into days by adding bucket counts, so P95 of a day is exact to
//! the sketch's accuracy without keeping raw values.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Relative accuracy of every sketch.
pub const RELATIVE_ACCURACY: f64 = 0.01;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    /// Bucket index → count, for values > `MIN_VALUE`.
    buckets: BTreeMap<i32, u64>,
    /// Values at or below `MIN_VALUE` (zero latencies).
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

const MIN_VALUE: f64 = 1e-9;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

impl QuantileSketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; negative and non-finite values are ignored.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        if value <= MIN_VALUE {
            self.zeros += 1;
        } else {
            let idx = (value.ln() / gamma().ln()).ceil() as i32;
            *self.buckets.entry(idx).or_default() += 1;
        }
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
    }

    /// Adds every value of `other` (the two sketches must use the same accuracy).
    pub fn merge(&mut self, other: &QuantileSketch) {
        if other.count == 0 {
            return;
        }
        for (k, v) in &other.buckets {
            *self.buckets.entry(*k).or_default() += v;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.zeros += other.zeros;
        self.count += other.count;
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The value at quantile `q` (0–1), within [`RELATIVE_ACCURACY`]; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // Rank of the wanted value among the sorted values (0-based, lower).
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        if rank < self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        let g = gamma();
        for (idx, n) in &self.buckets {
            seen += n;
            if seen > rank {
                let estimate = 2.0 * g.powi(*idx) / (g + 1.0);
                return Some(estimate.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_within_one_percent() {
        // A skewed latency-like distribution, deterministic.
        let mut values: Vec<f64> = (1..=10_000u32)
            .map(|i| 20.0 + (f64::from(i) * 7919.0 % 10_000.0).powf(1.6) / 50.0)
            .collect();
        let mut s = QuantileSketch::new();
        for v in &values {
            s.add(*v);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let want = exact(&values, q);
            let got = s.quantile(q).expect("non-empty");
            assert!(
                ((got - want) / want).abs() <= RELATIVE_ACCURACY + 1e-12,
                "q={q}: {got} vs {want}"
            );
        }
        assert_eq!(s.count(), 10_000);
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let (mut a, mut b, mut all) =
            (QuantileSketch::new(), QuantileSketch::new(), QuantileSketch::new());
        for i in 0..1000 {
            let v = f64::from(i % 97) * 3.5 + 1.0;
            if i % 3 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            all.add(v);
        }
        a.merge(&b);
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.mean(), all.mean());
    }

    #[test]
    fn edge_cases() {
        let mut s = QuantileSketch::new();
        assert_eq!(s.quantile(0.5), None);
        s.add(0.0);
        s.add(f64::NAN);
        s.add(-3.0);
        assert_eq!(s.count(), 1);
        assert_eq!(s.quantile(0.99), Some(0.0));
        s.add(250.0);
        assert_eq!(s.quantile(1.0), Some(250.0));
        let json = serde_json::to_string(&s).expect("ser");
        let back: QuantileSketch = serde_json::from_str(&json).expect("de");
        assert_eq!(back, s);
    }
}
