-- Product events and their rollups. Times are epoch ms; days are day numbers (days since
-- 1970-01-01) in the reporting time zone; hours are epoch hours (UTC).

-- Dense user index: bitmaps hold `idx`, not the sender's user_id.
CREATE TABLE event_users (
    idx             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL UNIQUE,
    first_seen_ms   INTEGER NOT NULL,
    -- First `user_register_success`, if any: the user's cohort.
    registered_ms   INTEGER
);

-- Raw events (kept 30 days by default).
CREATE TABLE events (
    event_id        TEXT    PRIMARY KEY,
    user_idx        INTEGER NOT NULL,
    event_name      TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    session_id      TEXT,
    platform        TEXT,
    version         TEXT,
    properties      TEXT,
    received_at_ms  INTEGER NOT NULL
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE INDEX events_name_ts ON events (event_name, ts_ms);

-- Per day and key, the set of users (a serialized roaring bitmap) and the event count.
-- Keys: `active`, `registered`, `event:<name>`, `feature:<feature>`.
CREATE TABLE rollup_users (
    day             INTEGER NOT NULL,
    key             TEXT    NOT NULL,
    users           BLOB    NOT NULL,
    events          INTEGER NOT NULL,
    PRIMARY KEY (day, key)
);

-- Per hour and key, mergeable counters and sketches as JSON (`ai`, `feedback`, `nps`).
CREATE TABLE rollup_hourly (
    hour            INTEGER NOT NULL,
    key             TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    PRIMARY KEY (hour, key)
);

-- Subscription events, kept with the rollups (churn needs each user's latest state).
CREATE TABLE subscription_events (
    event_id        TEXT    PRIMARY KEY,
    user_idx        INTEGER NOT NULL,
    ts_ms           INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('start', 'renew', 'cancel', 'expire')),
    amount          REAL    NOT NULL
);
CREATE INDEX subscription_events_ts ON subscription_events (ts_ms);

-- Small key/value settings (e.g. the reporting time zone the rollups were built in).
CREATE TABLE settings (
    key             TEXT    PRIMARY KEY,
    value           TEXT    NOT NULL
);
