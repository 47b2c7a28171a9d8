//! Funnels need every step event's time per user, so they read raw events — but not row by
//! row per query. Each (day, event name) is loaded once into a compact column pair (user,
//! ms since the day's start; 8 bytes an event) and cached in the process, keyed by the
//! day's event counter from the rollups: an accepted event of that name and day bumps the
//! counter, so a stale slice is never used (raw events of a past day only ever grow, and
//! the counter grows with them). The cache is bounded (least recently used slices go first).
//!
//! Evaluation: the slices of the range are bucketed by user with a counting sort (users are
//! dense indexes), each user's few events sorted by (time, step order), and
//! `domain::kpi::funnel::depth_reached` applied per user.

use crate::events::{day_start_ms, local_day};
use crate::Result;
use crate::ServiceError;
use domain::kpi::funnel::{depth_reached, funnel, FunnelResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Slices loaded concurrently on a cache miss.
const LOAD_PARALLEL: usize = 4;

/// Bytes of event slices the cache keeps (≈ 33 M events).
pub const FUNNEL_CACHE_BYTES: usize = 256 << 20;

/// One day's events of one name: parallel columns, in storage order (evaluation buckets
/// them by user and sorts each user's events by time).
#[derive(Debug, Default)]
pub(crate) struct DaySlice {
    day_start_ms: i64,
    users: Vec<u32>,
    offsets_ms: Vec<u32>,
}

impl DaySlice {
    fn bytes(&self) -> usize {
        self.users.len() * 8 + 64
    }
}

struct Entry {
    version: i64,
    slice: Arc<DaySlice>,
    used: u64,
}

/// The per-process cache of day slices.
pub(crate) struct FunnelCache {
    entries: HashMap<(i32, String), Entry>,
    bytes: usize,
    budget: usize,
    tick: u64,
    /// (hits, misses) since start, for the benchmark and logs.
    pub(crate) stats: (u64, u64),
}

impl FunnelCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self { entries: HashMap::new(), bytes: 0, budget, tick: 0, stats: (0, 0) }
    }

    fn get(&mut self, day: i32, name: &str, version: i64) -> Option<Arc<DaySlice>> {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(&(day, name.to_owned())) {
            Some(e) if e.version == version => {
                e.used = tick;
                self.stats.0 += 1;
                Some(e.slice.clone())
            }
            _ => {
                self.stats.1 += 1;
                None
            }
        }
    }

    fn put(&mut self, day: i32, name: &str, version: i64, slice: Arc<DaySlice>) {
        self.tick += 1;
        let size = slice.bytes();
        if let Some(old) =
            self.entries.insert((day, name.to_owned()), Entry { version, slice, used: self.tick })
        {
            self.bytes -= old.slice.bytes();
        }
        self.bytes += size;
        while self.bytes > self.budget && self.entries.len() > 1 {
            let Some(oldest) =
                self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.slice.bytes();
            }
        }
    }
}

pub(crate) type SharedFunnelCache = Arc<Mutex<FunnelCache>>;

impl crate::Kpis<'_> {
    /// Loads the slice of `name` on `day` from raw events and caches it as `version`.
    async fn load_slice(&self, day: i32, name: &str, version: i64) -> Result<Arc<DaySlice>> {
        let tz = self.events().reporting_tz();
        let start = day_start_ms(day, tz);
        let rows = self.store.events_of(name, start, day_start_ms(day + 1, tz)).await?;
        let mut slice = DaySlice {
            day_start_ms: start,
            users: Vec::with_capacity(rows.len()),
            offsets_ms: Vec::with_capacity(rows.len()),
        };
        for (user, ts) in rows {
            slice.users.push(
                u32::try_from(user)
                    .map_err(|_| ServiceError::Internal("user index overflow".into()))?,
            );
            slice.offsets_ms.push(u32::try_from(ts - start).map_err(|_| {
                ServiceError::Internal("event outside its day in a funnel slice".into())
            })?);
        }
        let slice = Arc::new(slice);
        self.cache().put(day, name, version, slice.clone());
        Ok(slice)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, FunnelCache> {
        // A panic while holding the lock cannot leave the map inconsistent: recover it.
        self.funnel_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Funnel cache (hits, misses) since start.
    pub fn funnel_cache_stats(&self) -> (u64, u64) {
        self.cache().stats
    }

    /// Evaluates a funnel: step-1 events in `[from_ms, range_end_ms)`, later steps until
    /// `range_end_ms + window_ms`.
    pub(crate) async fn evaluate_funnel(
        &self,
        steps: &[String],
        from_ms: i64,
        range_end_ms: i64,
        window_ms: i64,
    ) -> Result<FunnelResult> {
        let tz = self.events().reporting_tz();
        let to_ms = range_end_ms + window_ms;
        // Distinct names, numbered in step order (ties in time are broken by step order).
        let mut names: Vec<&str> = Vec::new();
        for s in steps {
            if !names.contains(&s.as_str()) {
                names.push(s);
            }
        }
        let step_ids: Vec<u8> = steps
            .iter()
            .map(|s| names.iter().position(|n| *n == s.as_str()).unwrap_or(0) as u8)
            .collect();
        let first_id = step_ids.first().copied().unwrap_or(0);
        let keys: Vec<String> = names.iter().map(|n| format!("event:{n}")).collect();
        // Days whose raw events may be partly deleted by retention are left out, so every
        // replica answers the same whatever its cache holds.
        let from_day = local_day(from_ms, tz).max(self.events().first_rebuildable_day());
        let last_day = local_day(to_ms - 1, tz);
        let mut slices: Vec<(u8, Arc<DaySlice>)> = Vec::new();
        let mut missing: Vec<(u8, i32, String, i64)> = Vec::new();
        for (day, key, version) in self.store.rollup_counts(&keys, from_day, last_day).await? {
            let name = key.trim_start_matches("event:");
            let Some(id) = names.iter().position(|n| *n == name) else {
                continue;
            };
            match self.cache().get(day, name, version) {
                Some(slice) => slices.push((id as u8, slice)),
                None => missing.push((id as u8, day, name.to_owned(), version)),
            }
        }
        // Load the missing slices a few at a time (SQLite serves readers in parallel).
        for chunk in missing.chunks(LOAD_PARALLEL) {
            let mut tasks = tokio::task::JoinSet::new();
            for (id, day, name, version) in chunk.iter().cloned() {
                let svc = crate::Services::clone(self);
                tasks.spawn(async move {
                    svc.kpis().load_slice(day, &name, version).await.map(|slice| (id, slice))
                });
            }
            while let Some(done) = tasks.join_next().await {
                let loaded =
                    done.map_err(|e| ServiceError::Internal(format!("funnel slice load: {e}")))??;
                slices.push(loaded);
            }
        }
        // Which events take part: in range, and step-1 events only before the range end.
        let keep =
            |id: u8, ts: i64| ts >= from_ms && ts < to_ms && (id != first_id || ts < range_end_ms);
        // Counting sort by user.
        let max_user = slices
            .iter()
            .filter_map(|(_, s)| s.users.iter().max())
            .max()
            .map_or(0, |m| *m as usize);
        let mut starts = vec![0u32; max_user + 2];
        for (id, s) in &slices {
            for (u, off) in s.users.iter().zip(&s.offsets_ms) {
                if keep(*id, s.day_start_ms + i64::from(*off)) {
                    starts[*u as usize + 1] += 1;
                }
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let total = starts[starts.len() - 1] as usize;
        // One u64 per event: time since `from_ms` (ms, 56 bits ≈ 2 283 years) above the
        // step-order id (8 bits), so sorting the integers sorts by (time, step order).
        let mut events: Vec<u64> = vec![0; total];
        let mut next = starts.clone();
        for (id, s) in &slices {
            for (u, off) in s.users.iter().zip(&s.offsets_ms) {
                let ts = s.day_start_ms + i64::from(*off);
                if keep(*id, ts) {
                    let at = &mut next[*u as usize];
                    events[*at as usize] = ((ts - from_ms) as u64) << 8 | u64::from(*id);
                    *at += 1;
                }
            }
        }
        drop(slices);
        let mut depths = Vec::new();
        let mut user_events: Vec<(i64, u8)> = Vec::new();
        for w in starts.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if a == b {
                continue;
            }
            let user = &mut events[a..b];
            user.sort_unstable();
            user_events.clear();
            user_events.extend(user.iter().map(|e| ((e >> 8) as i64, (e & 0xff) as u8)));
            depths.push(depth_reached(&user_events, &step_ids, window_ms));
        }
        Ok(funnel(steps, depths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(n: usize) -> Arc<DaySlice> {
        Arc::new(DaySlice { day_start_ms: 0, users: vec![1; n], offsets_ms: vec![0; n] })
    }

    #[test]
    fn a_slice_is_used_only_at_its_version_and_the_least_recently_used_goes_first() {
        // Room for two slices of 100 events (864 bytes each), not three.
        let mut c = FunnelCache::new(2_000);
        c.put(1, "a", 5, slice(100));
        assert!(c.get(1, "a", 5).is_some());
        assert!(c.get(1, "a", 6).is_none(), "the day's counter moved: stale");
        assert!(c.get(1, "b", 5).is_none());
        c.put(2, "a", 1, slice(100));
        assert!(c.get(1, "a", 5).is_some(), "day 1 used after day 2 was added");
        c.put(3, "a", 1, slice(100));
        assert!(c.get(2, "a", 1).is_none(), "day 2 was the least recently used");
        assert!(c.get(1, "a", 5).is_some() && c.get(3, "a", 1).is_some());
        assert!(c.bytes <= 2_000);
        // Replacing a slice does not count it twice.
        c.put(3, "a", 2, slice(100));
        assert_eq!(c.bytes, 2 * slice(100).bytes());
        assert_eq!(c.stats, (4, 3));
    }
}
