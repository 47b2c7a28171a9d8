-- On-call (issue #6): people's contact methods, schedules and their overrides, escalation
-- policies, running escalations with the pages they sent, and calendar feed tokens.
-- Schedule and policy definitions are JSON (`domain::oncall` types, validated first).
CREATE TABLE user_contacts (
    user_id          INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phone            TEXT    NOT NULL DEFAULT '',
    feishu_id        TEXT    NOT NULL DEFAULT '',
    -- JSON [NotifyRule]; empty means the defaults (chat and email at once).
    rules            TEXT    NOT NULL DEFAULT '[]',
    updated_at_ms    INTEGER NOT NULL
);

CREATE TABLE schedules (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL UNIQUE,
    spec             TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    updated_by       INTEGER REFERENCES users (id)
);

CREATE TABLE schedule_overrides (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id      INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    start_ms         INTEGER NOT NULL,
    end_ms           INTEGER NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    replaces_user_id INTEGER REFERENCES users (id),
    note             TEXT    NOT NULL DEFAULT '',
    created_by       TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL
);
CREATE INDEX schedule_overrides_window ON schedule_overrides (schedule_id, end_ms);

CREATE TABLE escalation_policies (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL UNIQUE,
    spec             TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    updated_by       INTEGER REFERENCES users (id)
);

-- One run of a policy for one firing episode of an alert (`subject_key`).
CREATE TABLE escalations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id        INTEGER NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE,
    subject_key      TEXT    NOT NULL UNIQUE,
    rule_id          INTEGER,
    title            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    -- Steps fired so far, and when the next one is due (NULL: run exhausted or stopped).
    fired            INTEGER NOT NULL DEFAULT 0,
    next_at_ms       INTEGER,
    acked_at_ms      INTEGER,
    acked_by         TEXT,
    acked_user_id    INTEGER REFERENCES users (id),
    resolved_at_ms   INTEGER,
    created_at_ms    INTEGER NOT NULL
);
CREATE INDEX escalations_next ON escalations (next_at_ms);
CREATE INDEX escalations_started ON escalations (started_at_ms);

-- What a step sent to whom: one row per person and method, due after the person's delay.
CREATE TABLE pages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id    INTEGER NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    method           TEXT    NOT NULL,
    due_at_ms        INTEGER NOT NULL,
    -- pending, sent, failed, cancelled (acknowledged before it was due)
    status           TEXT    NOT NULL,
    detail           TEXT    NOT NULL DEFAULT '',
    sent_at_ms       INTEGER,
    created_at_ms    INTEGER NOT NULL
);
CREATE INDEX pages_due ON pages (status, due_at_ms);
CREATE INDEX pages_escalation ON pages (escalation_id);

-- Secret calendar URLs: only the token's SHA-256 is kept; rotating replaces the row.
CREATE TABLE calendar_feeds (
    kind             TEXT    NOT NULL CHECK (kind IN ('schedule', 'user')),
    subject_id       INTEGER NOT NULL,
    token_hash       TEXT    NOT NULL UNIQUE,
    created_by       TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (kind, subject_id)
);
