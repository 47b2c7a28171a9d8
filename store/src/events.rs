//! Product events: the dense user index, raw events, per-day user-set rollups, hourly
//! counter rollups, subscription events and settings. Ingestion writes through an
//! [`IngestTx`] so that a batch and its rollup changes commit together.

use crate::{Result, Store, StoreError};
use domain::kpi::subscriptions::{BillingPeriod, SubEvent, SubKind};
use sqlx::{Any, Row, Transaction};

/// One raw event as stored.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event_id: &'a str,
    pub user_idx: i64,
    pub event_name: &'a str,
    pub ts_ms: i64,
    pub session_id: Option<&'a str>,
    pub platform: Option<&'a str>,
    pub version: Option<&'a str>,
    pub properties: Option<&'a str>,
    pub received_at_ms: i64,
}

/// A user of the dense index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedUser {
    pub idx: i64,
    pub registered_ms: Option<i64>,
}

/// A day's user set for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUsers {
    pub day: i32,
    pub users: Vec<u8>,
    pub events: i64,
}

/// A raw event read back for a rollup rebuild.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    pub event_id: String,
    pub user_idx: i64,
    pub event_name: String,
    pub ts_ms: i64,
    pub properties: Option<String>,
}

/// A transaction that changes rollups: one ingested batch, or a rebuild.
///
/// Rollups are read-modify-write, so two such transactions must never interleave — not in
/// one process and not across replicas. On PostgreSQL the transaction starts by taking a
/// transaction-scoped advisory lock (released at commit or rollback); on SQLite the first
/// statement of every rollup transaction is a write, and SQLite admits one writer at a time
/// across all connections and processes (waiting up to the busy timeout).
/// One hour's arrivals through one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestStat {
    pub hour: i64,
    /// The API key; 0 for the demo loader and the CLI.
    pub key_id: i64,
    pub accepted: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub last_at_ms: i64,
}

/// One batch's tally, added to its hour and key in the batch's transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestTally {
    pub hour: i64,
    pub key_id: i64,
    pub at_ms: i64,
    pub accepted: u64,
    pub duplicates: u64,
    /// Rejected events by reason (the field the error names).
    pub rejected: std::collections::BTreeMap<String, u64>,
}

pub struct IngestTx {
    tx: Transaction<'static, Any>,
}

/// Key of the PostgreSQL advisory lock that serialises rollup writers ("vigil-rollups").
pub const ROLLUP_LOCK_KEY: i64 = 0x7669_6769_6c72_6f6c;

impl Store {
    pub async fn begin_ingest(&self) -> Result<IngestTx> {
        let mut tx = self.pool.begin().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ROLLUP_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        Ok(IngestTx { tx })
    }

    /// Every day's set for `key` in `from..=to`.
    pub async fn day_users(&self, key: &str, from: i32, to: i32) -> Result<Vec<DayUsers>> {
        let rows = sqlx::query(
            "SELECT day, users, events FROM rollup_users WHERE key = $1 AND day >= $2 AND day <= $3 ORDER BY day",
        )
        .bind(key)
        .bind(i64::from(from))
        .bind(i64::from(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let day: i64 = r.try_get("day")?;
                Ok(DayUsers {
                    day: i32::try_from(day).unwrap_or_default(),
                    users: r.try_get("users")?,
                    events: r.try_get("events")?,
                })
            })
            .collect()
    }

    /// Distinct rollup keys starting with `prefix` that have data in `from..=to`.
    pub async fn rollup_keys(&self, prefix: &str, from: i32, to: i32) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT key FROM rollup_users
             WHERE substr(key, 1, CAST($1 AS INTEGER)) = $2 AND day >= $3 AND day <= $4 ORDER BY key",
        )
        .bind(i64::try_from(prefix.len()).unwrap_or(0))
        .bind(prefix)
        .bind(i64::from(from))
        .bind(i64::from(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("key")?)).collect()
    }

    /// Hourly rollup JSON for `key` in `from_hour..=to_hour`.
    pub async fn hourly(
        &self,
        key: &str,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT hour, data FROM rollup_hourly WHERE key = $1 AND hour >= $2 AND hour <= $3 ORDER BY hour",
        )
        .bind(key)
        .bind(from_hour)
        .bind(to_hour)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("hour")?, r.try_get("data")?))).collect()
    }

    /// The ingestion tallies of `from_hour` and later, by hour then key.
    pub async fn ingest_stats(&self, from_hour: i64) -> Result<Vec<IngestStat>> {
        let rows = sqlx::query(
            "SELECT hour, key_id, accepted, duplicates, rejected, last_at_ms FROM ingest_stats
             WHERE hour >= $1 ORDER BY hour, key_id",
        )
        .bind(from_hour)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IngestStat {
                    hour: r.try_get("hour")?,
                    key_id: r.try_get("key_id")?,
                    accepted: r.try_get("accepted")?,
                    duplicates: r.try_get("duplicates")?,
                    rejected: r.try_get("rejected")?,
                    last_at_ms: r.try_get("last_at_ms")?,
                })
            })
            .collect()
    }

    /// Rejections of `from_hour` and later by reason: (reason, key id, count), most first.
    pub async fn ingest_rejections(&self, from_hour: i64) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT reason, key_id, SUM(n) AS n FROM ingest_rejections WHERE hour >= $1
             GROUP BY reason, key_id ORDER BY n DESC, reason",
        )
        .bind(from_hour)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("reason")?, r.try_get("key_id")?, r.try_get("n")?)))
            .collect()
    }

    /// When the newest accepted event arrived (any key), if one ever did.
    pub async fn last_ingest_ms(&self) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT MAX(last_at_ms) AS last FROM ingest_stats WHERE accepted > 0")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<Option<i64>, _>("last")?.filter(|t| *t > 0))
    }

    /// All subscription events before `until_ms`, by time.
    pub async fn subscription_events(&self, until_ms: i64) -> Result<Vec<SubEvent>> {
        let rows = sqlx::query(
            "SELECT user_idx, ts_ms, kind, amount, currency, plan, period FROM subscription_events
             WHERE ts_ms < $1 ORDER BY ts_ms, event_id",
        )
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let period: String = r.try_get("period")?;
                let user: i64 = r.try_get("user_idx")?;
                Ok(SubEvent {
                    user: u32::try_from(user)
                        .map_err(|_| StoreError::Corrupt(format!("user index {user}")))?,
                    ts_ms: r.try_get("ts_ms")?,
                    kind: SubKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("subscription kind {kind}")))?,
                    amount: r.try_get("amount")?,
                    currency: r.try_get("currency")?,
                    plan: r.try_get("plan")?,
                    period: BillingPeriod::parse(&period).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The event counters of `keys` for the days `from..=to`: (day, key, events).
    pub async fn rollup_counts(
        &self,
        keys: &[String],
        from: i32,
        to: i32,
    ) -> Result<Vec<(i32, String, i64)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT day, key, events FROM rollup_users WHERE day >= $1 AND day <= $2 AND key IN ({}) ORDER BY day, key",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(i64::from(from)).bind(i64::from(to));
        for k in keys {
            q = q.bind(k);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let day: i64 = r.try_get("day")?;
                Ok((
                    i32::try_from(day).unwrap_or_default(),
                    r.try_get("key")?,
                    r.try_get("events")?,
                ))
            })
            .collect()
    }

    /// (user idx, timestamp) of the events named `name` in `[from_ms, to_ms)`, in no
    /// particular order (one index range scan, no sort).
    pub async fn events_of(&self, name: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT user_idx, ts_ms FROM events WHERE event_name = $1 AND ts_ms >= $2 AND ts_ms < $3",
        )
        .bind(name)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("user_idx")?, r.try_get("ts_ms")?))).collect()
    }

    /// The events named `name` in `[from_ms, to_ms)` (less than 2³² ms apart) packed as
    /// `ms since from_ms << 32 | user idx`, in no particular order: the funnel slice loader.
    /// The database packs them and joins them into one text value (one row instead of one
    /// per event: decoding rows one by one was most of the load time).
    pub async fn event_slice(&self, name: &str, from_ms: i64, to_ms: i64) -> Result<Vec<u64>> {
        if !(0..1 << 32).contains(&(to_ms - from_ms)) {
            return Err(StoreError::Corrupt("an event slice spans less than 2^32 ms".into()));
        }
        let sql = match self.backend {
            crate::Backend::Sqlite => {
                "SELECT group_concat((ts_ms - $2) * 4294967296 + user_idx) AS packed, \
                 max(user_idx) AS max_user, count(*) AS n \
                 FROM events WHERE event_name = $1 AND ts_ms >= $2 AND ts_ms < $3"
            }
            crate::Backend::Postgres => {
                "SELECT string_agg(((ts_ms - $2) * 4294967296 + user_idx)::text, ',') AS packed, \
                 max(user_idx) AS max_user, count(*) AS n \
                 FROM events WHERE event_name = $1 AND ts_ms >= $2 AND ts_ms < $3"
            }
        };
        let row =
            sqlx::query(sql).bind(name).bind(from_ms).bind(to_ms).fetch_one(&self.pool).await?;
        let max_user: Option<i64> = row.try_get("max_user")?;
        if max_user.is_some_and(|m| !(0..1 << 32).contains(&m)) {
            return Err(StoreError::Corrupt("a user index does not fit in 32 bits".into()));
        }
        let n: i64 = row.try_get("n")?;
        let packed: Option<String> = row.try_get("packed")?;
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for item in packed.as_deref().unwrap_or("").split(',').filter(|s| !s.is_empty()) {
            out.push(
                item.parse::<u64>()
                    .map_err(|_| StoreError::Corrupt(format!("bad packed event {item:?}")))?,
            );
        }
        if i64::try_from(out.len()).ok() != Some(n) {
            return Err(StoreError::Corrupt("packed events: count mismatch".into()));
        }
        Ok(out)
    }

    pub async fn count_events(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&self.pool).await?)
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes a setting someone changed, with its audit line, in one transaction.
    pub async fn put_setting_audited(
        &self,
        key: &str,
        value: &str,
        ctx: &crate::AuditCtx,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        crate::audit::append(
            &mut tx,
            ctx,
            "setting.update",
            &format!("setting:{key}"),
            before.as_ref(),
            Some(&value),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The setting's value, storing `value` first if there is none (the first writer wins
    /// when several replicas race).
    pub async fn setting_or_init(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Deletes raw events older than `before_ms`; returns how many.
    pub async fn delete_events_before(&self, before_ms: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM events WHERE ts_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Deletes rollups of days before `before_day` and hours before `before_hour`.
    pub async fn delete_rollups_before(&self, before_day: i32, before_hour: i64) -> Result<u64> {
        let a = sqlx::query("DELETE FROM rollup_users WHERE day < $1")
            .bind(i64::from(before_day))
            .execute(&self.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM rollup_hourly WHERE hour < $1")
            .bind(before_hour)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(a + b)
    }
}

/// Events per multi-row INSERT. Measured with `vigil-bench ingest` on SQLite: 1 000 events
/// take ~41 ms in chunks of 400, ~16 ms in chunks of 50 and ~10 ms in chunks of 16 (binding
/// cost grows faster than linearly with the statement's parameter count).
const EVENT_CHUNK: usize = 16;
/// Users per upsert/select (2 parameters each).
const USER_CHUNK: usize = 64;

impl IngestTx {
    /// The dense indexes of many users at once, creating the missing ones.
    pub async fn users(
        &mut self,
        user_ids: &[&str],
        seen_ms: i64,
    ) -> Result<std::collections::HashMap<String, IndexedUser>> {
        let mut out = std::collections::HashMap::with_capacity(user_ids.len());
        for chunk in user_ids.chunks(USER_CHUNK) {
            let values: Vec<String> =
                (0..chunk.len()).map(|i| format!("(${}, $1)", i + 2)).collect();
            let sql = format!(
                "INSERT INTO event_users (user_id, first_seen_ms) VALUES {} ON CONFLICT (user_id) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(seen_ms);
            for u in chunk {
                q = q.bind(*u);
            }
            q.execute(&mut *self.tx).await?;
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
            let sql = format!(
                "SELECT idx, user_id, registered_ms FROM event_users WHERE user_id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for u in chunk {
                q = q.bind(*u);
            }
            for r in q.fetch_all(&mut *self.tx).await? {
                out.insert(
                    r.try_get("user_id")?,
                    IndexedUser {
                        idx: r.try_get("idx")?,
                        registered_ms: r.try_get("registered_ms")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Stores many events; returns the ids that were new (the others are duplicates).
    pub async fn insert_events(
        &mut self,
        events: &[NewEvent<'_>],
    ) -> Result<std::collections::HashSet<String>> {
        let mut inserted = std::collections::HashSet::with_capacity(events.len());
        for chunk in events.chunks(EVENT_CHUNK) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 9;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO events (event_id, user_idx, event_name, ts_ms, session_id, platform, version, properties, received_at_ms)
                 VALUES {} ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.event_id)
                    .bind(e.user_idx)
                    .bind(e.event_name)
                    .bind(e.ts_ms)
                    .bind(e.session_id)
                    .bind(e.platform)
                    .bind(e.version)
                    .bind(e.properties)
                    .bind(e.received_at_ms);
            }
            for r in q.fetch_all(&mut *self.tx).await? {
                inserted.insert(r.try_get("event_id")?);
            }
        }
        Ok(inserted)
    }

    pub async fn set_registered(&mut self, idx: i64, registered_ms: i64) -> Result<()> {
        sqlx::query("UPDATE event_users SET registered_ms = $2 WHERE idx = $1")
            .bind(idx)
            .bind(registered_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn day_users(&mut self, day: i32, key: &str) -> Result<Option<(Vec<u8>, i64)>> {
        let row = sqlx::query("SELECT users, events FROM rollup_users WHERE day = $1 AND key = $2")
            .bind(i64::from(day))
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| Ok((r.try_get("users")?, r.try_get("events")?))).transpose()
    }

    pub async fn put_day_users(
        &mut self,
        day: i32,
        key: &str,
        users: &[u8],
        events: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO rollup_users (day, key, users, events) VALUES ($1, $2, $3, $4)
             ON CONFLICT (day, key) DO UPDATE SET users = excluded.users, events = excluded.events",
        )
        .bind(i64::from(day))
        .bind(key)
        .bind(users.to_vec())
        .bind(events)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn hourly(&mut self, hour: i64, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT data FROM rollup_hourly WHERE hour = $1 AND key = $2")
            .bind(hour)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    pub async fn put_hourly(&mut self, hour: i64, key: &str, data: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO rollup_hourly (hour, key, data) VALUES ($1, $2, $3)
             ON CONFLICT (hour, key) DO UPDATE SET data = excluded.data",
        )
        .bind(hour)
        .bind(key)
        .bind(data)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Stores one subscription event (once per `event_id`).
    pub async fn insert_subscription(&mut self, event_id: &str, e: &SubEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO subscription_events (event_id, user_idx, ts_ms, kind, amount, currency, plan, period)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(i64::from(e.user))
        .bind(e.ts_ms)
        .bind(e.kind.as_str())
        .bind(e.amount)
        .bind(&e.currency)
        .bind(&e.plan)
        .bind(e.period.as_str())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Adds one batch's tally to its hour and key (see [`IngestStat`]).
    pub async fn add_ingest_stats(&mut self, t: &IngestTally) -> Result<()> {
        sqlx::query(
            "INSERT INTO ingest_stats (hour, key_id, accepted, duplicates, rejected, last_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (hour, key_id) DO UPDATE SET
                 accepted = ingest_stats.accepted + excluded.accepted,
                 duplicates = ingest_stats.duplicates + excluded.duplicates,
                 rejected = ingest_stats.rejected + excluded.rejected,
                 last_at_ms = CASE WHEN excluded.last_at_ms > ingest_stats.last_at_ms
                                   THEN excluded.last_at_ms ELSE ingest_stats.last_at_ms END",
        )
        .bind(t.hour)
        .bind(t.key_id)
        .bind(t.accepted as i64)
        .bind(t.duplicates as i64)
        .bind(t.rejected.values().sum::<u64>() as i64)
        .bind(if t.accepted > 0 { t.at_ms } else { 0 })
        .execute(&mut *self.tx)
        .await?;
        for (reason, n) in &t.rejected {
            sqlx::query(
                "INSERT INTO ingest_rejections (hour, key_id, reason, n) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hour, key_id, reason) DO UPDATE SET n = ingest_rejections.n + excluded.n",
            )
            .bind(t.hour)
            .bind(t.key_id)
            .bind(reason)
            .bind(*n as i64)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Deletes every rollup of `from_day` and later days, and of `from_hour` and later hours.
    pub async fn delete_rollups_from(&mut self, from_day: i32, from_hour: i64) -> Result<u64> {
        let a = sqlx::query("DELETE FROM rollup_users WHERE day >= $1")
            .bind(i64::from(from_day))
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM rollup_hourly WHERE hour >= $1")
            .bind(from_hour)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        Ok(a + b)
    }

    /// Users whose first registration is before `before_ms`: (idx, registered_ms).
    pub async fn registered_before(&mut self, before_ms: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT idx, registered_ms FROM event_users WHERE registered_ms IS NOT NULL AND registered_ms < $1",
        )
        .bind(before_ms)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("idx")?, r.try_get("registered_ms")?))).collect()
    }

    /// Forgets registrations at or after `from_ms` (they are recomputed from raw events).
    pub async fn clear_registrations_from(&mut self, from_ms: i64) -> Result<u64> {
        Ok(sqlx::query("UPDATE event_users SET registered_ms = NULL WHERE registered_ms >= $1")
            .bind(from_ms)
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }

    /// One page of raw events from `from_ms` on, in (time, id) order, after `after`.
    pub async fn raw_events_page(
        &mut self,
        from_ms: i64,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<RawEvent>> {
        let (after_ts, after_id) = after.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(
            "SELECT event_id, user_idx, event_name, ts_ms, properties FROM events
             WHERE ts_ms >= $1 AND (ts_ms > $2 OR (ts_ms = $2 AND event_id > $3))
             ORDER BY ts_ms, event_id LIMIT $4",
        )
        .bind(from_ms)
        .bind(after_ts)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RawEvent {
                    event_id: r.try_get("event_id")?,
                    user_idx: r.try_get("user_idx")?,
                    event_name: r.try_get("event_name")?,
                    ts_ms: r.try_get("ts_ms")?,
                    properties: r.try_get("properties")?,
                })
            })
            .collect()
    }

    /// Records an audit entry inside this transaction.
    pub async fn audit<A: serde::Serialize>(
        &mut self,
        ctx: &crate::AuditCtx,
        action: &str,
        target: &str,
        after: &A,
    ) -> Result<()> {
        crate::audit::append::<(), A>(&mut self.tx, ctx, action, target, None, Some(after)).await
    }

    /// Commits the batch: events and rollups become visible together.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
