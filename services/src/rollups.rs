//! Rollups: what one event adds to them ([`RollupDelta`], shared by ingestion and the
//! rebuild, so both produce the same rows), how a delta is merged into the stored rows, and
//! `vigil rollup rebuild` — recomputing every rollup from the raw events still kept.

use crate::events::{day_start_ms, local_day, AiHour};
use crate::Result;
use crate::ServiceError;
use chrono_tz::Tz;
use domain::events::feature_of;
use domain::kpi::ratios::{FeedbackCounts, NpsCounts};
use domain::kpi::subscriptions::{self, BillingPeriod, SubEvent, SubKind};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use store::events::IngestTx;
use store::AuditCtx;

#[derive(Default)]
struct SetDelta {
    add: RoaringBitmap,
    remove: RoaringBitmap,
    events: i64,
}

#[derive(Default)]
struct HourDelta {
    ai: AiHour,
    feedback: FeedbackCounts,
    nps: NpsCounts,
    has_ai: bool,
    has_feedback: bool,
    has_nps: bool,
}

/// The rollup changes of a set of new events, merged into the stored rows by [`apply`].
///
/// [`apply`]: RollupDelta::apply
pub(crate) struct RollupDelta {
    tz: Tz,
    sets: BTreeMap<(i32, String), SetDelta>,
    hours: BTreeMap<i64, HourDelta>,
}

/// Whether the rollups read an event's properties (the others need not be parsed).
pub(crate) fn reads_properties(event_name: &str) -> bool {
    matches!(event_name, "ai_dialog_end" | "ai_dialog_feedback" | "nps_survey_submit")
        || SubKind::from_event(event_name).is_some()
}

/// The subscription event an event is, if it is one: kind, and for starts and renewals
/// the `amount`, `currency` (upper-cased; empty when not a code), `plan` and `period`.
pub(crate) fn subscription_of(
    event_name: &str,
    p: &Map<String, Value>,
    user: u32,
    ts_ms: i64,
) -> Option<SubEvent> {
    let kind = SubKind::from_event(event_name)?;
    let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    let paid = matches!(kind, SubKind::Start | SubKind::Renew);
    Some(SubEvent {
        user,
        ts_ms,
        kind,
        amount: if paid { p.get("amount").and_then(Value::as_f64).unwrap_or(0.0) } else { 0.0 },
        currency: subscriptions::currency_code(text("currency")).unwrap_or_default(),
        plan: text("plan").chars().take(64).collect(),
        period: BillingPeriod::parse(text("period")).unwrap_or_default(),
    })
}

impl RollupDelta {
    pub(crate) fn new(tz: Tz) -> Self {
        Self { tz, sets: BTreeMap::new(), hours: BTreeMap::new() }
    }

    /// Records one new event of the user with index `idx`. `registered` is the user's first
    /// registration so far; when this event is an earlier registration it becomes the new
    /// one (the user moves cohort) and `true` is returned.
    pub(crate) fn add(
        &mut self,
        idx: u32,
        event_name: &str,
        ts_ms: i64,
        p: &Map<String, Value>,
        registered: &mut Option<i64>,
    ) -> bool {
        let moved = self.add_sets(idx, event_name, ts_ms, registered);
        self.add_hourly(event_name, ts_ms, p);
        moved
    }

    /// The per-day user sets of one event (see [`add`](Self::add)).
    fn add_sets(
        &mut self,
        idx: u32,
        event_name: &str,
        ts_ms: i64,
        registered: &mut Option<i64>,
    ) -> bool {
        let day = local_day(ts_ms, self.tz);
        let mut add = |key: String| {
            let d = self.sets.entry((day, key)).or_default();
            d.add.insert(idx);
            d.events += 1;
        };
        add("active".into());
        add(format!("event:{event_name}"));
        if let Some(f) = feature_of(event_name) {
            add(format!("feature:{f}"));
        }
        let mut moved = false;
        if event_name == "user_register_success" && registered.is_none_or(|r| ts_ms < r) {
            // First registration: the user's cohort (moves if an earlier one arrives late).
            if let Some(old) = *registered {
                let d =
                    self.sets.entry((local_day(old, self.tz), "registered".into())).or_default();
                d.remove.insert(idx);
            }
            let d = self.sets.entry((day, "registered".into())).or_default();
            d.add.insert(idx);
            d.remove.remove(idx);
            *registered = Some(ts_ms);
            moved = true;
        }
        moved
    }

    /// The hourly counters of one event (AI dialogs, feedback, NPS).
    fn add_hourly(&mut self, event_name: &str, ts_ms: i64, p: &Map<String, Value>) {
        let hour = ts_ms.div_euclid(3_600_000);
        match event_name {
            "ai_dialog_end" => {
                let h = self.hours.entry(hour).or_default();
                h.has_ai = true;
                let c = &mut h.ai.counts;
                c.ended += 1;
                if p.get("success").and_then(Value::as_bool) == Some(true) {
                    c.success += 1;
                }
                match p.get("answer_source").and_then(Value::as_str) {
                    Some("knowledge_base") => c.knowledge_base += 1,
                    Some("generated") => c.generated += 1,
                    Some("human") => c.human += 1,
                    _ => {}
                }
                if let Some(ms) = p.get("response_ms").and_then(Value::as_f64) {
                    h.ai.response_ms.add(ms);
                }
            }
            "ai_dialog_feedback" => {
                let h = self.hours.entry(hour).or_default();
                h.has_feedback = true;
                h.feedback.feedback += 1;
                if p.get("resolved").and_then(Value::as_bool) == Some(true) {
                    h.feedback.resolved += 1;
                }
                if let Some(r) =
                    p.get("rating").and_then(Value::as_i64).filter(|r| (1..=5).contains(r))
                {
                    h.feedback.ratings[(r - 1) as usize] += 1;
                }
            }
            "nps_survey_submit" => {
                let h = self.hours.entry(hour).or_default();
                h.has_nps = true;
                if let Some(s) =
                    p.get("score").and_then(Value::as_i64).filter(|s| (0..=10).contains(s))
                {
                    h.nps.scores[s as usize] += 1;
                }
            }
            _ => {}
        }
    }

    /// Merges the delta into the stored rollup rows (read-modify-write inside `tx`).
    pub(crate) async fn apply(self, tx: &mut IngestTx) -> Result<()> {
        for ((day, key), delta) in self.sets {
            let (mut bitmap, mut events) = match tx.day_users(day, &key).await? {
                Some((bytes, n)) => (bitmap_from(&bytes)?, n),
                None => (RoaringBitmap::new(), 0),
            };
            bitmap |= &delta.add;
            bitmap -= &delta.remove;
            events += delta.events;
            if key == "registered" {
                // A registration counts once per user: the count is the cohort size.
                events = i64::try_from(bitmap.len()).unwrap_or(i64::MAX);
            }
            tx.put_day_users(day, &key, &bitmap_bytes(&bitmap)?, events).await?;
        }
        for (hour, delta) in self.hours {
            if delta.has_ai {
                let mut cur: AiHour = read_json(tx.hourly(hour, "ai").await?)?;
                cur.merge(&delta.ai);
                tx.put_hourly(hour, "ai", &write_json(&cur)?).await?;
            }
            if delta.has_feedback {
                let mut cur: FeedbackCounts = read_json(tx.hourly(hour, "feedback").await?)?;
                cur.merge(&delta.feedback);
                tx.put_hourly(hour, "feedback", &write_json(&cur)?).await?;
            }
            if delta.has_nps {
                let mut cur: NpsCounts = read_json(tx.hourly(hour, "nps").await?)?;
                cur.merge(&delta.nps);
                tx.put_hourly(hour, "nps", &write_json(&cur)?).await?;
            }
        }
        Ok(())
    }
}

pub(crate) fn bitmap_from(bytes: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes)
        .map_err(|e| ServiceError::Internal(format!("corrupt rollup bitmap: {e}")))
}

fn bitmap_bytes(b: &RoaringBitmap) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(b.serialized_size());
    b.serialize_into(&mut out)
        .map_err(|e| ServiceError::Internal(format!("serializing bitmap: {e}")))?;
    Ok(out)
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(s: Option<String>) -> Result<T> {
    match s {
        None => Ok(T::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| ServiceError::Internal(format!("corrupt hourly rollup: {e}"))),
    }
}

fn write_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    /// First rebuilt day (days since 1970-01-01 in the reporting time zone); every later
    /// day was rebuilt too.
    pub from_day: i32,
    pub events: u64,
    pub rows_deleted: u64,
    pub registrations: u64,
}

/// Raw events read per page during a rebuild.
const REBUILD_PAGE: i64 = 20_000;

impl crate::Events<'_> {
    /// The earliest day whose raw events are all still kept (older days lost some to the
    /// retention job, so their rollups cannot be recomputed).
    pub fn first_rebuildable_day(&self) -> i32 {
        let cutoff = self.now_ms() - self.events.raw_retention_days * 86_400_000;
        let tz = self.reporting_tz();
        let day = local_day(cutoff, tz);
        if day_start_ms(day, tz) >= cutoff {
            day
        } else {
            day + 1
        }
    }

    /// Recomputes every rollup of `from_day` and later from the raw events, in one
    /// transaction: the same rows incremental ingestion produced (deterministic: events are
    /// replayed in (time, id) order). Days before `from_day` keep their rollups; so do
    /// registrations before it. `progress` receives the number of events replayed so far.
    pub async fn rebuild_rollups(
        &self,
        from_day: Option<i32>,
        actor: &str,
        mut progress: impl FnMut(u64),
    ) -> Result<RebuildReport> {
        let tz = self.reporting_tz();
        let earliest = self.first_rebuildable_day();
        let from_day = from_day.unwrap_or(earliest);
        if from_day < earliest {
            return Err(ServiceError::invalid(
                "from",
                format!(
                    "raw events before {} may have been deleted (raw events are kept {} days), so earlier rollups cannot be rebuilt",
                    domain::kpi::calendar::format_day(earliest),
                    self.events.raw_retention_days
                ),
            ));
        }
        let from_ms = day_start_ms(from_day, tz);
        let from_hour = from_ms.div_euclid(3_600_000);
        let _guard = self.ingest_lock.lock().await;
        let mut tx = self.store.begin_ingest().await?;
        // The hour holding local midnight may start before it (zones with a non-whole-hour
        // offset): its counters also hold events of the previous day, so replay from there.
        let replay_from_ms = from_hour * 3_600_000;
        let rows_deleted = tx.delete_rollups_from(from_day, from_hour).await?;
        tx.clear_registrations_from(from_ms).await?;
        let mut registered: HashMap<i64, Option<i64>> = tx
            .registered_before(from_ms)
            .await?
            .into_iter()
            .map(|(idx, ms)| (idx, Some(ms)))
            .collect();
        let mut delta = RollupDelta::new(tz);
        let mut changed: Vec<i64> = Vec::new();
        let mut after: Option<(i64, String)> = None;
        let mut events = 0u64;
        let empty = Map::new();
        loop {
            let page = tx
                .raw_events_page(
                    replay_from_ms,
                    after.as_ref().map(|(t, id)| (*t, id.as_str())),
                    REBUILD_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.ts_ms, last.event_id.clone()));
            for e in &page {
                let idx = u32::try_from(e.user_idx)
                    .map_err(|_| ServiceError::Internal("user index overflow".into()))?;
                let parsed;
                let p = match (&e.properties, reads_properties(&e.event_name)) {
                    (Some(json), true) => {
                        parsed =
                            serde_json::from_str::<Map<String, Value>>(json).map_err(|err| {
                                ServiceError::Internal(format!(
                                    "event {}: stored properties are not a JSON object: {err}",
                                    e.event_id
                                ))
                            })?;
                        &parsed
                    }
                    _ => &empty,
                };
                if e.ts_ms < from_ms {
                    // The shared hour's counters only; the day belongs to the previous
                    // day's rollups, which are kept.
                    delta.add_hourly(&e.event_name, e.ts_ms, p);
                    continue;
                }
                let reg = registered.entry(e.user_idx).or_insert(None);
                if delta.add(idx, &e.event_name, e.ts_ms, p, reg) {
                    changed.push(e.user_idx);
                }
                if let Some(sub) = subscription_of(&e.event_name, p, idx, e.ts_ms) {
                    tx.insert_subscription(&e.event_id, &sub).await?;
                }
                events += 1;
            }
            progress(events);
        }
        delta.apply(&mut tx).await?;
        changed.sort_unstable();
        changed.dedup();
        for idx in &changed {
            if let Some(Some(ms)) = registered.get(idx) {
                tx.set_registered(*idx, *ms).await?;
            }
        }
        let report =
            RebuildReport { from_day, events, rows_deleted, registrations: changed.len() as u64 };
        tx.audit(
            &AuditCtx::system(actor, self.now_ms()),
            "rollups.rebuild",
            &format!("rollups from {}", domain::kpi::calendar::format_day(from_day)),
            &report,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}
