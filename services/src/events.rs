//! Ingesting product events: parse (JSON array or NDJSON), validate each event naming the
//! field, store new events idempotently on `event_id`, and update the rollups in the same
//! transaction. A `200` means everything accepted is committed.

use crate::rollups::{bitmap_from, subscription_of, RollupDelta};
use crate::Caller;
use crate::Result;
use crate::ServiceError;
use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use domain::events::{
    check_event_name, check_id, check_properties_size, check_timestamp, Platform,
    MAX_EVENTS_PER_REQUEST,
};
use domain::kpi::ratios::AiCounts;
use domain::kpi::sketch::QuantileSketch;
use domain::kpi::subscriptions::{self, BillingPeriod};
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::events::NewEvent;

/// Settings of the event pipeline.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Days are calendar days in this zone (SPEC: default UTC; demo data uses Asia/Shanghai).
    pub reporting_tz: Tz,
    /// Raw events older than this are refused at ingest and deleted by the retention job.
    pub raw_retention_days: i64,
    /// Rollups older than this are deleted by the retention job.
    pub rollup_retention_days: i64,
    /// The currency money KPIs lead with (ISO 4217); empty: the one most payments use.
    /// Other currencies are shown beside it, never converted or summed.
    pub reporting_currency: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            reporting_tz: Tz::UTC,
            raw_retention_days: 30,
            rollup_retention_days: 365,
            reporting_currency: String::new(),
        }
    }
}

/// The answer to one ingest request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejected>,
}

/// One refused event: its position in the batch, its id if it had one, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub error: String,
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    pub event_id: String,
    pub event_name: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub ts_ms: i64,
    pub platform: Option<Platform>,
    pub version: Option<String>,
    pub properties: Map<String, Value>,
    pub properties_json: Option<String>,
}

/// Hourly AI rollup: counters and the response-time sketch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AiHour {
    pub counts: AiCounts,
    pub response_ms: QuantileSketch,
}

impl AiHour {
    pub fn merge(&mut self, other: &AiHour) {
        self.counts.merge(&other.counts);
        self.response_ms.merge(&other.response_ms);
    }
}

/// Splits a request body into event values. NDJSON: one event per non-blank line.
pub fn parse_batch(body: &[u8], ndjson: bool) -> Result<Vec<Value>> {
    let values = if ndjson {
        let mut out = Vec::new();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v: Value = serde_json::from_slice(line).map_err(|e| {
                ServiceError::Malformed(format!("line {}, column {}: {e}", i + 1, e.column()))
            })?;
            out.push(v);
            if out.len() > MAX_EVENTS_PER_REQUEST {
                break;
            }
        }
        out
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => items,
            Ok(_) => {
                return Err(ServiceError::Malformed(
                    "line 1, column 1: the body must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)".into(),
                ))
            }
            Err(e) => {
                return Err(ServiceError::Malformed(format!(
                    "line {}, column {}: {e}",
                    e.line(),
                    e.column()
                )))
            }
        }
    };
    if values.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ServiceError::TooLarge(format!(
            "at most {MAX_EVENTS_PER_REQUEST} events per request"
        )));
    }
    Ok(values)
}

fn req_str<'a>(o: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match o.get(field) {
        None | Some(Value::Null) => Err(format!("{field}: is required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

fn opt_str<'a>(o: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

fn prop_bool(p: &Map<String, Value>, name: &str) -> Result<bool, String> {
    p.get(name)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("properties.{name}: must be true or false"))
}

fn prop_int_in(p: &Map<String, Value>, name: &str, lo: i64, hi: i64) -> Result<i64, String> {
    p.get(name)
        .and_then(Value::as_i64)
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| format!("properties.{name}: must be an integer from {lo} to {hi}"))
}

fn prop_non_negative(p: &Map<String, Value>, name: &str) -> Result<f64, String> {
    p.get(name)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("properties.{name}: must be a number ≥ 0"))
}

/// Checks the properties the KPIs read for the tracking-plan events.
fn check_tracking_plan(name: &str, p: &Map<String, Value>) -> Result<(), String> {
    match name {
        "ai_dialog_end" => {
            prop_bool(p, "success")?;
            prop_non_negative(p, "response_ms")?;
            match p.get("answer_source").and_then(Value::as_str) {
                Some("knowledge_base" | "generated" | "human") => Ok(()),
                _ => {
                    Err("properties.answer_source: must be knowledge_base, generated or human"
                        .into())
                }
            }
        }
        "ai_dialog_feedback" => {
            prop_bool(p, "resolved")?;
            prop_int_in(p, "rating", 1, 5).map(|_| ())
        }
        "nps_survey_submit" => prop_int_in(p, "score", 0, 10).map(|_| ()),
        "subscription_start" | "subscription_renew" => {
            prop_non_negative(p, "amount")?;
            if let Some(c) = p.get("currency") {
                c.as_str().and_then(subscriptions::currency_code).ok_or(
                    "properties.currency: must be a three-letter ISO 4217 code such as CNY or USD",
                )?;
            }
            if let Some(v) = p.get("period") {
                v.as_str()
                    .and_then(BillingPeriod::parse)
                    .ok_or("properties.period: must be month or year")?;
            }
            match p.get("plan") {
                None | Some(Value::String(_)) => Ok(()),
                Some(_) => Err("properties.plan: must be a string".into()),
            }
        }
        _ => Ok(()),
    }
}

/// Arrivals of one hour or one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestCounts {
    pub accepted: i64,
    pub duplicates: i64,
    pub rejected: i64,
    /// The newest accepted event (0: none).
    pub last_at_ms: i64,
}

/// The ingestion health panel's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestHealth {
    pub hours: i64,
    pub last_event_ms: Option<i64>,
    /// (hour start ms, counts), hours with arrivals only, oldest first.
    pub by_hour: Vec<(i64, IngestCounts)>,
    /// (key name, counts).
    pub by_key: Vec<(String, IngestCounts)>,
    /// (reason, key name, count), most first.
    pub rejected: Vec<(String, String, i64)>,
}

/// The reason an ingestion error is counted under: the field it names (`timestamp`,
/// `properties.currency`), or `event` for a value that is no object.
pub fn rejection_reason(error: &str) -> String {
    error.split_once(':').map_or("event", |(field, _)| field).chars().take(64).collect()
}

/// Validates one event value; the error names the field.
pub fn validate_event(v: &Value, now_ms: i64, max_age_ms: i64) -> Result<ValidEvent, String> {
    let o = v.as_object().ok_or("event: must be a JSON object")?;
    let event_id = req_str(o, "event_id")?;
    check_id("event_id", event_id)?;
    let event_name = req_str(o, "event_name")?;
    check_event_name(event_name)?;
    let user_id = req_str(o, "user_id")?;
    check_id("user_id", user_id)?;
    let session_id = opt_str(o, "session_id")?;
    if let Some(s) = session_id {
        check_id("session_id", s)?;
    }
    let ts_ms = match o.get("timestamp") {
        None | Some(Value::Null) => return Err("timestamp: is required".into()),
        Some(t) => {
            t.as_i64().ok_or("timestamp: must be an integer (milliseconds since the Unix epoch)")?
        }
    };
    check_timestamp(ts_ms, now_ms, max_age_ms)?;
    let platform =
        match opt_str(o, "platform")? {
            None => None,
            Some(p) => Some(Platform::parse(p).ok_or_else(|| {
                format!("platform: `{p}` must be web, mobile, miniprogram or api")
            })?),
        };
    let version = opt_str(o, "version")?;
    if version.is_some_and(|v| v.chars().count() > 64) {
        return Err("version: must be at most 64 characters".into());
    }
    let (properties, properties_json) = match o.get("properties") {
        None | Some(Value::Null) => (Map::new(), None),
        Some(Value::Object(p)) => {
            let json = serde_json::to_string(p).map_err(|e| format!("properties: {e}"))?;
            check_properties_size(json.len())?;
            (p.clone(), Some(json))
        }
        Some(_) => return Err("properties: must be a JSON object".into()),
    };
    check_tracking_plan(event_name, &properties)?;
    Ok(ValidEvent {
        event_id: event_id.to_owned(),
        event_name: event_name.to_owned(),
        user_id: user_id.to_owned(),
        session_id: session_id.map(str::to_owned),
        ts_ms,
        platform,
        version: version.map(str::to_owned),
        properties,
        properties_json,
    })
}

/// Day number (days since 1970-01-01) of an instant in `tz`.
pub fn local_day(ts_ms: i64, tz: Tz) -> i32 {
    match Utc.timestamp_millis_opt(ts_ms).single() {
        Some(t) => {
            let local = t.with_timezone(&tz).date_naive();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            i32::try_from((local - epoch).num_days()).unwrap_or_default()
        }
        None => 0,
    }
}

/// Epoch ms of local midnight starting `day` in `tz` (the earliest instant of that day).
pub fn day_start_ms(day: i32, tz: Tz) -> i64 {
    local_time_ms(day, tz, chrono::NaiveTime::MIN)
}

/// Epoch ms of the local time `time` on `day` in `tz` (the earliest, when a DST change
/// repeats it; one hour later, when a DST jump skips it).
pub fn local_time_ms(day: i32, tz: Tz, time: chrono::NaiveTime) -> i64 {
    let local = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap_or_default()
        .checked_add_signed(chrono::Duration::days(i64::from(day)))
        .unwrap_or_default()
        .and_time(time);
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.timestamp_millis(),
        None => tz
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map_or(0, |t| t.timestamp_millis()),
    }
}

impl crate::Events<'_> {
    /// Ingests one request body from an API caller with the `ingest` scope.
    pub async fn ingest_events(
        &self,
        actor: &Caller,
        body: &[u8],
        ndjson: bool,
    ) -> Result<IngestReport> {
        actor.require(Permission::Ingest)?;
        let values = parse_batch(body, ndjson)?;
        let now = self.now_ms();
        let max_age_ms = self.events.raw_retention_days * 86_400_000;
        let mut report = IngestReport::default();
        let mut valid = Vec::with_capacity(values.len());
        for (index, v) in values.iter().enumerate() {
            match validate_event(v, now, max_age_ms) {
                Ok(e) => valid.push(e),
                Err(error) => report.rejected.push(Rejected {
                    index,
                    event_id: v.get("event_id").and_then(Value::as_str).map(str::to_owned),
                    error,
                }),
            }
        }
        let mut rejected = std::collections::BTreeMap::new();
        for r in &report.rejected {
            *rejected.entry(rejection_reason(&r.error)).or_default() += 1;
        }
        let (accepted, duplicates) =
            self.store_batch(&valid, actor.api_key_id().unwrap_or(0), rejected).await?;
        report.accepted = accepted;
        report.duplicates = duplicates;
        Ok(report)
    }

    /// Stores validated events and updates the rollups, in one transaction; returns
    /// (accepted, duplicates). The demo loader's path (tallied under key 0).
    pub async fn store_valid_events(&self, valid: &[ValidEvent]) -> Result<(u64, u64)> {
        self.store_batch(valid, 0, Default::default()).await
    }

    /// [`Self::store_valid_events`] for the batch of one key, its rejections tallied with
    /// it for the ingestion health panel (in the same transaction).
    async fn store_batch(
        &self,
        valid: &[ValidEvent],
        key_id: i64,
        rejected: std::collections::BTreeMap<String, u64>,
    ) -> Result<(u64, u64)> {
        let now = self.now_ms();
        let mut tally = store::events::IngestTally {
            hour: now.div_euclid(3_600_000),
            key_id,
            at_ms: now,
            rejected,
            ..Default::default()
        };
        if valid.is_empty() {
            if !tally.rejected.is_empty() {
                let mut tx = self.store.begin_ingest().await?;
                tx.add_ingest_stats(&tally).await?;
                tx.commit().await?;
            }
            return Ok((0, 0));
        }
        let (mut accepted, mut duplicates) = (0u64, 0u64);
        // One writer at a time per process: rollups are read-modify-write.
        let _guard = self.ingest_lock.lock().await;
        let tz = self.events.reporting_tz;
        let mut tx = self.store.begin_ingest().await?;
        // A repeated id inside the batch is a duplicate of its first occurrence.
        let mut seen = std::collections::HashSet::with_capacity(valid.len());
        let first: Vec<bool> = valid.iter().map(|e| seen.insert(e.event_id.as_str())).collect();
        let mut user_ids: Vec<&str> = valid.iter().map(|e| e.user_id.as_str()).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        let mut users = tx.users(&user_ids, now).await?;
        let rows: Vec<NewEvent<'_>> = valid
            .iter()
            .zip(&first)
            .filter(|(_, f)| **f)
            .map(|(e, _)| {
                Ok(NewEvent {
                    event_id: &e.event_id,
                    user_idx: users.get(&e.user_id).map(|u| u.idx).ok_or_else(|| {
                        ServiceError::Internal(format!("user {} has no index", e.user_id))
                    })?,
                    event_name: &e.event_name,
                    ts_ms: e.ts_ms,
                    session_id: e.session_id.as_deref(),
                    platform: e.platform.map(Platform::as_str),
                    version: e.version.as_deref(),
                    properties: e.properties_json.as_deref(),
                    received_at_ms: now,
                })
            })
            .collect::<Result<_>>()?;
        let inserted = tx.insert_events(&rows).await?;
        let mut delta = RollupDelta::new(tz);
        // Days that received events, for the funnel cache's refresh (only when it is kept
        // warm; the zone is consulted when an event falls outside the last day seen).
        let track_days = self.kpis().funnel_keep_warm();
        let mut days = std::collections::BTreeSet::new();
        let mut last_day: Option<(i64, i64)> = None;
        for (e, is_first) in valid.iter().zip(first) {
            if !is_first || !inserted.contains(&e.event_id) {
                duplicates += 1;
                continue;
            }
            accepted += 1;
            if track_days && !last_day.is_some_and(|(a, z)| (a..z).contains(&e.ts_ms)) {
                let day = local_day(e.ts_ms, tz);
                days.insert(day);
                last_day = Some((day_start_ms(day, tz), day_start_ms(day + 1, tz)));
            }
            let user = users
                .get_mut(&e.user_id)
                .ok_or_else(|| ServiceError::Internal("user index missing".into()))?;
            let idx = u32::try_from(user.idx)
                .map_err(|_| ServiceError::Internal("user index overflow".into()))?;
            if delta.add(idx, &e.event_name, e.ts_ms, &e.properties, &mut user.registered_ms) {
                tx.set_registered(user.idx, e.ts_ms).await?;
            }
            if let Some(sub) = subscription_of(&e.event_name, &e.properties, idx, e.ts_ms) {
                tx.insert_subscription(&e.event_id, &sub).await?;
            }
        }
        delta.apply(&mut tx).await?;
        tally.accepted = accepted;
        tally.duplicates = duplicates;
        tx.add_ingest_stats(&tally).await?;
        tx.commit().await?;
        self.kpis().funnel_events_stored(days);
        Ok((accepted, duplicates))
    }

    /// DAU for each day of `from..=to` (days in the reporting time zone).
    pub async fn dau_series(&self, from: i32, to: i32) -> Result<Vec<(i32, u64)>> {
        let sets = self.day_sets("active", from, to).await?;
        Ok((from..=to).map(|d| (d, domain::kpi::activity::dau(&sets, d))).collect())
    }

    /// The user sets of `key` for `from..=to`.
    pub async fn day_sets(
        &self,
        key: &str,
        from: i32,
        to: i32,
    ) -> Result<domain::kpi::activity::DaySets> {
        let mut out = domain::kpi::activity::DaySets::new();
        for row in self.store.day_users(key, from, to).await? {
            out.insert(row.day, bitmap_from(&row.users)?);
        }
        Ok(out)
    }

    /// Deletes raw events past their retention and rollups past theirs; returns
    /// (raw events deleted, rollup rows deleted).
    pub async fn run_retention(&self) -> Result<(u64, u64)> {
        let now = self.now_ms();
        let s = &self.events;
        let raw = self.store.delete_events_before(now - s.raw_retention_days * 86_400_000).await?;
        let oldest_day =
            local_day(now, s.reporting_tz) - i32::try_from(s.rollup_retention_days).unwrap_or(365);
        let oldest_hour = (now - s.rollup_retention_days * 86_400_000).div_euclid(3_600_000);
        let rollups = self.store.delete_rollups_before(oldest_day, oldest_hour).await?;
        Ok((raw, rollups))
    }

    pub fn reporting_tz(&self) -> Tz {
        self.events.reporting_tz
    }

    /// What arrived through the ingestion API in the last `hours` hours, by hour, by key
    /// and by rejection reason, and when the newest accepted event arrived (viewer).
    pub async fn ingestion_health(&self, actor: &Caller, hours: i64) -> Result<IngestHealth> {
        actor.require(Permission::ViewDashboards)?;
        let from_hour = self.now_ms().div_euclid(3_600_000) - hours.clamp(1, 24 * 31) + 1;
        let names: std::collections::HashMap<i64, String> =
            self.store.list_api_keys().await?.into_iter().map(|k| (k.id, k.name)).collect();
        let name = |id: i64| match id {
            0 => "demo / CLI".to_owned(),
            id => names.get(&id).cloned().unwrap_or_else(|| format!("key #{id} (revoked)")),
        };
        let stats = self.store.ingest_stats(from_hour).await?;
        let mut by_hour: std::collections::BTreeMap<i64, IngestCounts> = Default::default();
        let mut by_key: std::collections::BTreeMap<i64, IngestCounts> = Default::default();
        for s in &stats {
            for c in [by_hour.entry(s.hour).or_default(), by_key.entry(s.key_id).or_default()] {
                c.accepted += s.accepted;
                c.duplicates += s.duplicates;
                c.rejected += s.rejected;
                c.last_at_ms = c.last_at_ms.max(s.last_at_ms);
            }
        }
        Ok(IngestHealth {
            hours,
            last_event_ms: self.store.last_ingest_ms().await?,
            by_hour: by_hour.into_iter().map(|(h, c)| (h * 3_600_000, c)).collect(),
            by_key: by_key.into_iter().map(|(k, c)| (name(k), c)).collect(),
            rejected: self
                .store
                .ingest_rejections(from_hour)
                .await?
                .into_iter()
                .map(|(reason, key, n)| (reason, name(key), n))
                .collect(),
        })
    }

    /// The reporting-currency setting (empty: automatic).
    pub fn reporting_currency_setting(&self) -> &str {
        &self.events.reporting_currency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_reporting_time_zone() {
        // 2026-11-24T16:30:00Z is 2026-11-25 00:30 in Shanghai.
        let ts = 1_795_537_800_000;
        let utc = local_day(ts, Tz::UTC);
        let sh = local_day(ts, chrono_tz::Asia::Shanghai);
        assert_eq!(domain::kpi::calendar::format_day(utc), "2026-11-24");
        assert_eq!(domain::kpi::calendar::format_day(sh), "2026-11-25");
        assert_eq!(day_start_ms(sh, chrono_tz::Asia::Shanghai), 1_795_536_000_000);
        assert!(day_start_ms(sh, chrono_tz::Asia::Shanghai) <= ts);
    }

    #[test]
    fn malformed_bodies_report_the_position() {
        let err = parse_batch(b"[{\"event_id\": \"a\",}]", false).expect_err("bad");
        assert!(
            matches!(&err, ServiceError::Malformed(m) if m.starts_with("line 1, column 19")),
            "{err:?}"
        );
        let err = parse_batch(b"{\"a\":1}\n{oops}\n", true).expect_err("bad line");
        assert!(matches!(&err, ServiceError::Malformed(m) if m.starts_with("line 2,")), "{err:?}");
        let err = parse_batch(b"{\"a\":1}", false).expect_err("object");
        assert!(matches!(err, ServiceError::Malformed(_)));
        let many = format!("[{}]", vec!["{}"; 10_001].join(","));
        assert!(matches!(parse_batch(many.as_bytes(), false), Err(ServiceError::TooLarge(_))));
        assert_eq!(parse_batch(b"\n{\"a\":1}\n\n{\"b\":2}\n", true).expect("ok").len(), 2);
    }
}
