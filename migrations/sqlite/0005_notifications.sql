-- Notifications (issue #4): channels, the routing policy, silences, per-group state and
-- the durable outbox with its delivery log.
CREATE TABLE notify_channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'slack', 'feishu', 'email')),
    -- Kind-specific settings as JSON (URL, signing secret, recipients); secrets included,
    -- never sent back to the browser.
    config          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);

-- The routing tree, inhibition rules and defaults: one JSON document, versioned.
CREATE TABLE notify_policy (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    policy          TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    updated_by      INTEGER REFERENCES users (id)
);

CREATE TABLE silences (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    matchers        TEXT    NOT NULL,
    starts_at_ms    INTEGER NOT NULL,
    ends_at_ms      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    comment         TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at_ms);

-- Aggregation state of one alert group (route + group_by values): what was last sent.
CREATE TABLE notify_groups (
    group_key       TEXT    PRIMARY KEY,
    state           TEXT    NOT NULL,
    next_flush_at_ms INTEGER NOT NULL
);

-- Every message to send: written in the same cycle that decided it, delivered (and
-- retried with backoff) by the delivery loop; the idempotency key makes a second write
-- of the same message a no-op.
CREATE TABLE notify_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    channel_id      INTEGER NOT NULL,
    channel_name    TEXT    NOT NULL,
    group_key       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    -- `firing` or `resolved`, and the highest severity in the message.
    kind            TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_at_ms   INTEGER NOT NULL,
    sent_at_ms      INTEGER
);
CREATE INDEX notify_outbox_due ON notify_outbox (status, next_attempt_at_ms);
CREATE INDEX notify_outbox_created ON notify_outbox (created_at_ms);
