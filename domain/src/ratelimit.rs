//! Sliding-window failure counting for login throttling: after `max_failures` failures
//! within `window_ms`, further attempts are refused until the oldest failure leaves the
//! window. Pure: the caller passes `now_ms`.

use std::collections::{HashMap, VecDeque};

/// Most keys tracked at once: beyond it, the key whose last failure is oldest is
/// forgotten first, so memory stays bounded whatever an attacker sends.
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// Counts failures per key (e.g. "account|ip") inside a sliding window. Memory is bounded:
/// a key keeps at most `max_failures` timestamps, keys whose failures left the window are
/// swept as the map grows, and at most [`MAX_TRACKED_KEYS`] keys are kept.
#[derive(Debug, Clone)]
pub struct FailureWindow {
    max_failures: usize,
    window_ms: i64,
    failures: HashMap<String, VecDeque<i64>>,
    /// The map size at which the next `record_failure` sweeps first.
    sweep_at: usize,
    max_keys: usize,
}

const FIRST_SWEEP_AT: usize = 1024;

impl FailureWindow {
    pub fn new(max_failures: usize, window_ms: i64) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window_ms: window_ms.max(1),
            failures: HashMap::new(),
            sweep_at: FIRST_SWEEP_AT,
            max_keys: MAX_TRACKED_KEYS,
        }
    }

    /// The same with another key bound (tests).
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    fn prune(&mut self, key: &str, now_ms: i64) {
        if let Some(q) = self.failures.get_mut(key) {
            while q.front().is_some_and(|&t| t <= now_ms - self.window_ms) {
                q.pop_front();
            }
            if q.is_empty() {
                self.failures.remove(key);
            }
        }
    }

    /// `Some(retry_after_ms)` when `key` is locked out at `now_ms`, `None` when it may try.
    pub fn check(&mut self, key: &str, now_ms: i64) -> Option<i64> {
        self.prune(key, now_ms);
        let q = self.failures.get(key)?;
        if q.len() >= self.max_failures {
            let oldest = *q.front()?;
            Some((oldest + self.window_ms - now_ms).max(1))
        } else {
            None
        }
    }

    /// Records a failed attempt.
    pub fn record_failure(&mut self, key: &str, now_ms: i64) {
        self.prune(key, now_ms);
        if !self.failures.contains_key(key) {
            if self.failures.len() >= self.sweep_at.min(self.max_keys) {
                self.sweep(now_ms);
                self.sweep_at = (self.failures.len() * 2).max(FIRST_SWEEP_AT);
            }
            while self.failures.len() >= self.max_keys {
                let oldest = self
                    .failures
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied().unwrap_or(i64::MIN))
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.failures.remove(&k),
                    None => break,
                };
            }
        }
        let q = self.failures.entry(key.to_owned()).or_default();
        q.push_back(now_ms);
        while q.len() > self.max_failures {
            q.pop_front();
        }
    }

    /// Forgets a key's failures (after a successful login).
    pub fn reset(&mut self, key: &str) {
        self.failures.remove(key);
    }

    /// Drops every key whose failures all left the window (bounded memory).
    pub fn sweep(&mut self, now_ms: i64) {
        let cutoff = now_ms - self.window_ms;
        self.failures.retain(|_, q| q.back().is_some_and(|&t| t > cutoff));
    }

    /// Number of keys currently tracked.
    pub fn tracked_keys(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_unlocks_when_window_passes() {
        let mut w = FailureWindow::new(5, 60_000);
        let k = "ops@example.com|10.0.0.1";
        for i in 0..4 {
            w.record_failure(k, 1_000 + i * 1_000);
            assert_eq!(w.check(k, 1_000 + i * 1_000), None, "failure {i}");
        }
        w.record_failure(k, 5_000);
        // Fifth failure: locked until the first (t=1000) leaves the 60 s window.
        assert_eq!(w.check(k, 5_000), Some(56_000));
        assert_eq!(w.check(k, 60_999), Some(1));
        assert_eq!(w.check(k, 61_000), None);
        // Other keys are unaffected.
        assert_eq!(w.check("ops@example.com|10.0.0.2", 5_000), None);
    }

    #[test]
    fn reset_and_sweep_forget_keys() {
        let mut w = FailureWindow::new(2, 1_000);
        w.record_failure("a", 0);
        w.record_failure("a", 10);
        w.record_failure("b", 500);
        assert!(w.check("a", 20).is_some());
        w.reset("a");
        assert_eq!(w.check("a", 20), None);
        assert_eq!(w.tracked_keys(), 1);
        w.sweep(1_600);
        assert_eq!(w.tracked_keys(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let mut w = FailureWindow::new(3, 60_000).with_max_keys(5_000);
        // 8 000 distinct keys inside one window: never more than the bound.
        for i in 0..8_000 {
            w.record_failure(&format!("user{i}|1.2.3.4"), 1_000 + i);
            assert!(w.tracked_keys() <= 5_000);
        }
        // The newest keys are the ones kept, and still count.
        for _ in 0..2 {
            w.record_failure("user7999|1.2.3.4", 30_000);
        }
        assert!(w.check("user7999|1.2.3.4", 30_001).is_some());
        // A window later, the next failure sweeps the stale keys away.
        for i in 0..FIRST_SWEEP_AT as i64 + 10 {
            w.record_failure(&format!("late{i}"), 200_000 + i);
        }
        assert!(w.tracked_keys() < FIRST_SWEEP_AT + 20, "{}", w.tracked_keys());
        // One key never keeps more timestamps than the limit needs.
        let mut one = FailureWindow::new(3, 60_000);
        for t in 0..1000 {
            one.record_failure("k", t);
        }
        assert_eq!(one.failures["k"].len(), 3);
    }
}
