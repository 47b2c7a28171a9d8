-- Alert rules, their evaluation state and the alert history (issue #4).
-- A rule's editable part is one JSON document (`domain::alerting::RuleSpec`, validated by
-- the domain before it is stored); the columns beside it are what lists filter and sort on.
CREATE TABLE alert_rules (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    severity        TEXT    NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    enabled         INTEGER NOT NULL,
    spec            TEXT    NOT NULL,
    -- Bumped by every edit; an edit based on an older version is refused (two editors).
    version         INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    updated_by      INTEGER REFERENCES users (id)
);

-- What the engine knows of a rule: its instances (`domain::alerting::RuleState` as JSON)
-- and when it runs next. Written only by the replica holding the engine lease.
CREATE TABLE alert_rule_state (
    rule_id         INTEGER PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL,
    last_eval_at_ms INTEGER,
    next_eval_at_ms INTEGER NOT NULL,
    last_value      REAL,
    last_error      TEXT
);

-- Every state change of every alert instance, with the value that caused it.
CREATE TABLE alert_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id         INTEGER,
    rule_name       TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    labels          TEXT    NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    value           REAL,
    at_ms           INTEGER NOT NULL
);
CREATE INDEX alert_history_at ON alert_history (at_ms);
CREATE INDEX alert_history_rule_at ON alert_history (rule_id, at_ms);
