-- Incidents and postmortems (issue #5). The incident's text fields, status history, roles
-- and checklist are JSON (`domain::incident` types, validated before they are stored);
-- the columns the list filters on are copied out of them.
CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- INC-YYYYMMDD-NNN (the day of detection in the reporting time zone).
    code             TEXT    NOT NULL UNIQUE,
    title            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    fields           TEXT    NOT NULL,
    status_log       TEXT    NOT NULL,
    roles            TEXT    NOT NULL,
    checklist        TEXT    NOT NULL,
    commander_id     INTEGER REFERENCES users (id),
    detected_at_ms   INTEGER NOT NULL,
    responded_at_ms  INTEGER,
    resolved_at_ms   INTEGER,
    closed_at_ms     INTEGER,
    reporter_id      INTEGER REFERENCES users (id),
    reporter         TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);
CREATE INDEX incidents_detected ON incidents (detected_at_ms);
CREATE INDEX incidents_status ON incidents (status);

CREATE TABLE incident_timeline (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id      INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- When it happened (editable for notes), and when it was written.
    at_ms            INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    actor_user_id    INTEGER REFERENCES users (id),
    created_at_ms    INTEGER NOT NULL,
    edited_at_ms     INTEGER
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at_ms);

CREATE TABLE incident_alerts (
    incident_id      INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint      TEXT    NOT NULL,
    -- `vigil` (a rule of Vigil's) or `alertmanager` (received from Prometheus).
    source           TEXT    NOT NULL,
    rule_id          INTEGER,
    title            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    labels           TEXT    NOT NULL,
    linked_at_ms     INTEGER NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX incident_alerts_fingerprint ON incident_alerts (fingerprint);

CREATE TABLE postmortems (
    incident_id      INTEGER PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    status           TEXT    NOT NULL,
    doc              TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    published_at_ms  INTEGER,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    updated_by       INTEGER REFERENCES users (id)
);

CREATE TABLE action_items (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id      INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- AI-NNN (immediate) or LI-NNN (long-term), numbered per incident.
    code             TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    owner_user_id    INTEGER REFERENCES users (id),
    due_date         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    done_at_ms       INTEGER,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    UNIQUE (incident_id, code)
);
CREATE INDEX action_items_owner ON action_items (owner_user_id, status);
