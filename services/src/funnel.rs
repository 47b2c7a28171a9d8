//! Funnels need every step event's time per user, so they read raw events — but not row by
//! row per query. Each (day, event name) is loaded once into a compact array (user and ms
//! since the day's start packed in a `u64`, sorted by user then time; 8 bytes an event) and
//! cached in the process, keyed by the day's event counter from the rollups: an accepted
//! event of that name and day bumps the counter, so a stale slice is never used (raw events
//! of a past day only ever grow, and the counter grows with them). The cache is bounded
//! (least recently used slices go first).
//!
//! Evaluation walks the users in blocks of [`BLOCK_USERS`] consecutive indexes, the blocks
//! shared out among the cores: every slice is sorted by user, so a block's events are one
//! contiguous run of each slice (two binary searches); they are bucketed by user with a
//! counting sort that stays in the core's cache, each user's few events sorted by (time,
//! step order), and `domain::kpi::funnel::depth_reached` applied per user. The result is a
//! histogram of depths, the same whatever the number of threads or the block size.
//!
//! Warm-up: [`crate::Kpis::warm_funnel_cache`] (called at start-up) loads the recent slices
//! of every event name, and from then on slices of days that receive events are reloaded in
//! the background shortly after the ingest (only those already cached).

use crate::events::{day_start_ms, local_day};
use crate::Result;
use crate::ServiceError;
use domain::kpi::funnel::{depth_reached, funnel, FunnelResult};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Slices loaded concurrently on a cache miss.
const LOAD_PARALLEL: usize = 4;

/// Bytes of event slices the cache keeps (≈ 33 M events).
pub const FUNNEL_CACHE_BYTES: usize = 256 << 20;

/// Days the start-up warm-up loads (the raw retention's default).
pub const WARM_DAYS: i32 = 30;

/// The warm-up fills at most this share of the cache budget (1 / n), so it never evicts
/// what queries use.
const WARM_SHARE: usize = 2;

/// After an ingest, cached slices of the days it touched are reloaded this long later (one
/// reload for all the batches that arrive meanwhile).
const REFRESH_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// Users per evaluation block (the block's counters: 128 KiB).
const BLOCK_USERS: usize = 1 << 15;

/// Below this many events a funnel is evaluated on the calling thread only.
const PARALLEL_MIN_EVENTS: usize = 200_000;

/// One day's events of one name: `user << 32 | ms since the day's start`, sorted (so by
/// user, then time).
#[derive(Debug, Default)]
pub(crate) struct DaySlice {
    day_start_ms: i64,
    events: Vec<u64>,
}

impl DaySlice {
    fn bytes(&self) -> usize {
        self.events.len() * 8 + 64
    }

    /// From events packed as `ms since the day's start << 32 | user` (the store's order).
    fn from_store(day_start_ms: i64, mut packed: Vec<u64>) -> Self {
        for e in &mut packed {
            *e = e.rotate_left(32);
        }
        packed.sort_unstable();
        Self { day_start_ms, events: packed }
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
    /// Set by the warm-up: ingests then schedule a refresh of the days they touched.
    keep_warm: bool,
    /// Days touched by ingests since the last refresh, and whether one is scheduled.
    dirty_days: BTreeSet<i32>,
    refresh_scheduled: bool,
}

impl FunnelCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            bytes: 0,
            budget,
            tick: 0,
            stats: (0, 0),
            keep_warm: false,
            dirty_days: BTreeSet::new(),
            refresh_scheduled: false,
        }
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

    /// The cached version of a slice, if any (no statistics, no recency).
    fn version(&self, day: i32, name: &str) -> Option<i64> {
        self.entries.get(&(day, name.to_owned())).map(|e| e.version)
    }

    /// Names cached for `day`, with their versions.
    fn names_of_day(&self, day: i32) -> Vec<(String, i64)> {
        self.entries
            .iter()
            .filter(|((d, _), _)| *d == day)
            .map(|((_, name), e)| (name.clone(), e.version))
            .collect()
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

/// One slice as a query uses it: its step-order id, and the events it keeps (those whose
/// ms since the day's start are in `lo..hi`).
#[derive(Debug, Clone, Copy)]
struct Part<'a> {
    id: u8,
    /// Day start − the funnel's `from_ms`.
    base_ms: i64,
    lo: u32,
    hi: u32,
    events: &'a [u64],
}

impl Part<'_> {
    #[inline]
    fn kept(&self, e: u64) -> bool {
        let off = e as u32;
        off >= self.lo && off < self.hi
    }

    /// `time since from_ms << 8 | step-order id`: sorting these sorts by (time, step order).
    #[inline]
    fn key(&self, e: u64) -> u64 {
        ((self.base_ms + i64::from(e as u32)) as u64) << 8 | u64::from(self.id)
    }
}

/// What a query asks of the evaluator.
struct Query<'a> {
    parts: Vec<Part<'a>>,
    step_ids: &'a [u8],
    window_ms: i64,
}

/// Makes the parts of a funnel: step-1 events in `[from_ms, range_end_ms)`, the others in
/// `[from_ms, to_ms)`; slices with no event kept are left out.
fn parts<'a>(
    slices: &'a [(u8, Arc<DaySlice>)],
    first_id: u8,
    from_ms: i64,
    range_end_ms: i64,
    to_ms: i64,
) -> Vec<Part<'a>> {
    slices
        .iter()
        .filter_map(|(id, s)| {
            let end = if *id == first_id { range_end_ms.min(to_ms) } else { to_ms };
            let clamp = |t: i64| (t - s.day_start_ms).clamp(0, i64::from(u32::MAX)) as u32;
            let (lo, hi) = (clamp(from_ms), clamp(end));
            (lo < hi && !s.events.is_empty()).then_some(Part {
                id: *id,
                base_ms: s.day_start_ms - from_ms,
                lo,
                hi,
                events: &s.events,
            })
        })
        .collect()
}

/// How many users reached each depth (index: depth), users `block * block_users ..` taken a
/// block at a time by `threads` threads.
fn depth_histogram(q: &Query<'_>, threads: usize, block_users: usize) -> Vec<u64> {
    let depths = q.step_ids.len() + 1;
    let Some(max_user) = q.parts.iter().filter_map(|p| p.events.last()).map(|e| e >> 32).max()
    else {
        return vec![0; depths];
    };
    let blocks = (max_user as usize) / block_users + 1;
    let next = AtomicUsize::new(0);
    let work = || {
        let mut hist = vec![0u64; depths];
        let mut counts = vec![0u32; block_users + 1];
        let mut bucketed: Vec<u64> = Vec::new();
        let mut runs: Vec<(usize, usize)> = Vec::with_capacity(q.parts.len());
        let mut user_events: Vec<(i64, u8)> = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= blocks {
                break;
            }
            let lo = (b * block_users) as u64;
            let hi = lo + block_users as u64;
            // Each slice's run of this block's users.
            runs.clear();
            runs.extend(q.parts.iter().map(|p| {
                let a = p.events.partition_point(|e| e >> 32 < lo);
                let z = a + p.events[a..].partition_point(|e| e >> 32 < hi);
                (a, z)
            }));
            // Counting sort by user inside the block.
            counts.fill(0);
            for (p, &(a, z)) in q.parts.iter().zip(&runs) {
                for &e in &p.events[a..z] {
                    if p.kept(e) {
                        counts[(e >> 32) as usize - lo as usize + 1] += 1;
                    }
                }
            }
            for i in 1..counts.len() {
                counts[i] += counts[i - 1];
            }
            bucketed.clear();
            bucketed.resize(counts[block_users] as usize, 0);
            for (p, &(a, z)) in q.parts.iter().zip(&runs) {
                for &e in &p.events[a..z] {
                    if p.kept(e) {
                        let at = &mut counts[(e >> 32) as usize - lo as usize];
                        bucketed[*at as usize] = p.key(e);
                        *at += 1;
                    }
                }
            }
            // Now counts[u] is where user u's events end (and user u + 1's start).
            let mut start = 0usize;
            for &end in &counts[..block_users] {
                let end = end as usize;
                if end == start {
                    continue;
                }
                let user = &mut bucketed[start..end];
                start = end;
                user.sort_unstable();
                user_events.clear();
                user_events.extend(user.iter().map(|e| ((e >> 8) as i64, (e & 0xff) as u8)));
                hist[depth_reached(&user_events, q.step_ids, q.window_ms)] += 1;
            }
        }
        hist
    };
    let hists: Vec<Vec<u64>> = if threads <= 1 || blocks == 1 {
        vec![work()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads.min(blocks)).map(|_| s.spawn(work)).collect();
            let mut out = vec![work()];
            out.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            );
            out
        })
    };
    let mut hist = vec![0u64; depths];
    for h in hists {
        for (total, n) in hist.iter_mut().zip(h) {
            *total += n;
        }
    }
    hist
}

fn evaluation_threads(events: usize) -> usize {
    if events < PARALLEL_MIN_EVENTS {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    }
}

impl crate::Kpis<'_> {
    /// Loads the slice of `name` on `day` from raw events and caches it as `version`.
    async fn load_slice(&self, day: i32, name: &str, version: i64) -> Result<Arc<DaySlice>> {
        let tz = self.events().reporting_tz();
        let start = day_start_ms(day, tz);
        let packed = self.store.event_slice(name, start, day_start_ms(day + 1, tz)).await?;
        let slice = Arc::new(DaySlice::from_store(start, packed));
        self.cache().put(day, name, version, slice.clone());
        Ok(slice)
    }

    /// Loads these (tag, day, name, version) slices, [`LOAD_PARALLEL`] at a time.
    async fn load_slices<T: Send + 'static>(
        &self,
        wanted: Vec<(T, i32, String, i64)>,
    ) -> Result<Vec<(T, Arc<DaySlice>)>> {
        let mut out = Vec::with_capacity(wanted.len());
        let mut wanted = wanted.into_iter().peekable();
        while wanted.peek().is_some() {
            let mut tasks = tokio::task::JoinSet::new();
            for (tag, day, name, version) in wanted.by_ref().take(LOAD_PARALLEL) {
                let svc = crate::Services::clone(self);
                tasks.spawn(async move {
                    svc.kpis().load_slice(day, &name, version).await.map(|slice| (tag, slice))
                });
            }
            while let Some(done) = tasks.join_next().await {
                out.push(
                    done.map_err(|e| ServiceError::Internal(format!("funnel slice load: {e}")))??,
                );
            }
        }
        Ok(out)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, FunnelCache> {
        // A panic while holding the lock cannot leave the map inconsistent: recover it.
        self.funnel_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Funnel cache (hits, misses) since start.
    pub fn funnel_cache_stats(&self) -> (u64, u64) {
        self.cache().stats
    }

    /// Loads the slices of the last [`WARM_DAYS`] days (those raw retention keeps) of every
    /// event name into the funnel cache, so the first funnels after a start find them:
    /// the steps of funnel alert rules first, then the newest days first, up to half the
    /// cache's budget. From then on, ingests refresh the cached slices of the days they
    /// touch in the background. Returns (slices loaded, events in them).
    pub async fn warm_funnel_cache(&self) -> Result<(usize, usize)> {
        self.cache().keep_warm = true;
        let today = self.today();
        let from = (today - WARM_DAYS + 1).max(self.events().first_rebuildable_day());
        let keys = self.store.rollup_keys("event:", from, today).await?;
        let mut preferred: HashSet<String> = HashSet::new();
        for r in self.store.rules_with_state().await? {
            if let domain::alerting::RuleQuery::Kpi {
                metric: domain::alerting::KpiMetric::FunnelConversion,
                segment,
                ..
            } = &r.rule.spec.query
            {
                preferred.extend(domain::comma_list(segment));
            }
        }
        let mut counts = self.store.rollup_counts(&keys, from, today).await?;
        counts.sort_by_key(|(day, key, _)| {
            (!preferred.contains(key.trim_start_matches("event:")), std::cmp::Reverse(*day))
        });
        let mut room = self.cache().budget / WARM_SHARE;
        let mut wanted = Vec::new();
        for (day, key, version) in counts {
            let name = key.trim_start_matches("event:");
            if self.cache().version(day, name) == Some(version) {
                continue;
            }
            let bytes = usize::try_from(version).unwrap_or(usize::MAX).saturating_mul(8) + 64;
            if bytes > room {
                break;
            }
            room -= bytes;
            wanted.push(((), day, name.to_owned(), version));
        }
        let loaded = self.load_slices(wanted).await?;
        Ok((loaded.len(), loaded.iter().map(|(_, s)| s.events.len()).sum()))
    }

    /// Called after an ingest stored events of these days: once the cache is kept warm,
    /// schedules a background reload of the stale cached slices of those days.
    pub(crate) fn funnel_events_stored(&self, days: BTreeSet<i32>) {
        let mut cache = self.cache();
        if !cache.keep_warm || days.is_empty() {
            return;
        }
        cache.dirty_days.extend(days);
        if cache.refresh_scheduled {
            return;
        }
        cache.refresh_scheduled = true;
        drop(cache);
        let svc = crate::Services::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(REFRESH_DELAY).await;
            let kpis = svc.kpis();
            let days = {
                let mut cache = kpis.cache();
                cache.refresh_scheduled = false;
                std::mem::take(&mut cache.dirty_days)
            };
            if let Err(e) = kpis.refresh_days(days).await {
                tracing::warn!(error = %e, "funnel cache refresh failed");
            }
        });
    }

    /// Whether ingests should report the days they touch ([`Self::funnel_events_stored`]).
    pub(crate) fn funnel_keep_warm(&self) -> bool {
        self.cache().keep_warm
    }

    /// Reloads the cached slices of these days whose event counter moved.
    async fn refresh_days(&self, days: BTreeSet<i32>) -> Result<()> {
        let first = self.today() - WARM_DAYS + 1;
        let mut wanted = Vec::new();
        for day in days.into_iter().filter(|d| *d >= first) {
            let cached = self.cache().names_of_day(day);
            if cached.is_empty() {
                continue;
            }
            let keys: Vec<String> = cached.iter().map(|(n, _)| format!("event:{n}")).collect();
            for (d, key, version) in self.store.rollup_counts(&keys, day, day).await? {
                let name = key.trim_start_matches("event:");
                if cached.iter().any(|(n, v)| n == name && *v != version) {
                    wanted.push(((), d, name.to_owned(), version));
                }
            }
        }
        self.load_slices(wanted).await?;
        Ok(())
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
        slices.extend(self.load_slices(missing).await?);
        let events: usize = slices.iter().map(|(_, s)| s.events.len()).sum();
        let hist = tokio::task::spawn_blocking(move || {
            let q = Query {
                parts: parts(&slices, first_id, from_ms, range_end_ms, to_ms),
                step_ids: &step_ids,
                window_ms,
            };
            depth_histogram(&q, evaluation_threads(events), BLOCK_USERS)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("funnel evaluation: {e}")))?;
        let depths = hist.iter().enumerate().flat_map(|(d, n)| std::iter::repeat_n(d, *n as usize));
        Ok(funnel(steps, depths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn slice(n: usize) -> Arc<DaySlice> {
        Arc::new(DaySlice { day_start_ms: 0, events: vec![1 << 32; n] })
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
        assert_eq!(c.version(3, "a"), Some(2));
        assert_eq!(c.version(2, "a"), None);
        assert_eq!(c.names_of_day(1), [("a".to_owned(), 5)]);
        assert_eq!(c.stats, (4, 3), "peeking is not a use");
    }

    #[test]
    fn slices_from_the_store_are_sorted_by_user_then_time() {
        let s = DaySlice::from_store(7, vec![5 << 32 | 2, 3 << 32 | 2, 9 << 32 | 1]);
        assert_eq!(s.events, [1 << 32 | 9, 2 << 32 | 3, 2 << 32 | 5]);
        assert_eq!(s.day_start_ms, 7);
    }

    /// The evaluation as it was before blocks and threads: one counting sort of every kept
    /// event by user, straight from `keep(id, ts)`.
    fn simple_histogram(
        slices: &[(u8, Arc<DaySlice>)],
        step_ids: &[u8],
        from_ms: i64,
        range_end_ms: i64,
        window_ms: i64,
    ) -> Vec<u64> {
        let to_ms = range_end_ms + window_ms;
        let first_id = step_ids[0];
        let keep =
            |id: u8, ts: i64| ts >= from_ms && ts < to_ms && (id != first_id || ts < range_end_ms);
        let mut by_user: std::collections::BTreeMap<u64, Vec<(i64, u8)>> = Default::default();
        for (id, s) in slices {
            for e in &s.events {
                let ts = s.day_start_ms + i64::from(*e as u32);
                if keep(*id, ts) {
                    by_user.entry(e >> 32).or_default().push((ts - from_ms, *id));
                }
            }
        }
        let mut hist = vec![0u64; step_ids.len() + 1];
        for (_, mut events) in by_user {
            events.sort_unstable();
            hist[depth_reached(&events, step_ids, window_ms)] += 1;
        }
        hist
    }

    #[test]
    fn blocks_and_threads_give_the_simple_evaluations_histogram() {
        const DAY: i64 = 86_400_000;
        let mut rng = StdRng::seed_from_u64(18);
        for round in 0..300 {
            let names = rng.gen_range(1..=4u8);
            let days = rng.gen_range(1..=4i64);
            let users = rng.gen_range(1..=300u64);
            // Short days and windows so that steps often meet inside one.
            let day_ms = if rng.gen_bool(0.5) { DAY } else { rng.gen_range(10..500) };
            let mut slices = Vec::new();
            for day in 0..days {
                for id in 0..names {
                    if rng.gen_bool(0.1) {
                        continue; // no event of this name that day
                    }
                    let n = rng.gen_range(0..200);
                    let packed: Vec<u64> = (0..n)
                        .map(|_| {
                            let off = rng.gen_range(0..day_ms) as u64;
                            off << 32 | rng.gen_range(0..users)
                        })
                        .collect();
                    slices.push((id, Arc::new(DaySlice::from_store(1_000 + day * day_ms, packed))));
                }
            }
            let steps = rng.gen_range(2..=6);
            let step_ids: Vec<u8> = (0..steps).map(|_| rng.gen_range(0..names)).collect();
            let first_id = step_ids[0];
            let start = 1_000 + rng.gen_range(-day_ms..day_ms);
            let from_ms = start.max(0);
            let range_end_ms = from_ms + rng.gen_range(0..=days * day_ms);
            let window_ms = rng.gen_range(1..=day_ms * 2);
            let want = simple_histogram(&slices, &step_ids, from_ms, range_end_ms, window_ms);
            let q = Query {
                parts: parts(&slices, first_id, from_ms, range_end_ms, range_end_ms + window_ms),
                step_ids: &step_ids,
                window_ms,
            };
            for (threads, block) in [(1, 1 << 15), (1, 7), (2, 16), (3, 1), (4, 64)] {
                assert_eq!(
                    depth_histogram(&q, threads, block),
                    want,
                    "round {round}: {threads} threads, blocks of {block} users"
                );
            }
        }
    }

    #[test]
    fn empty_funnels_have_an_empty_histogram() {
        let q = Query { parts: Vec::new(), step_ids: &[0, 1], window_ms: 10 };
        assert_eq!(depth_histogram(&q, 2, 16), [0, 0, 0]);
    }
}
