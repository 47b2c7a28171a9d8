-- Accounts, sessions, API keys and the audit log. Times are Unix epoch milliseconds (UTC).
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('viewer', 'responder', 'editor', 'admin')),
    password_hash   TEXT    NOT NULL,
    locale          TEXT    NOT NULL DEFAULT 'en',
    time_zone       TEXT    NOT NULL DEFAULT 'UTC',
    disabled_at_ms  INTEGER,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash      TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token      TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    last_seen_at_ms INTEGER NOT NULL,
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at_ms);

CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    scope           TEXT    NOT NULL CHECK (scope IN ('ingest', 'read')),
    prefix          TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_by      INTEGER REFERENCES users (id),
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER,
    revoked_at_ms   INTEGER
);

-- Append-only: who did what to which target, with the state before and after (JSON text).
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms           INTEGER NOT NULL,
    actor_user_id   INTEGER,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    before_json     TEXT,
    after_json      TEXT,
    ip              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_action ON audit_log (action);

-- One holder at a time for background jobs when several replicas share a database.
CREATE TABLE leases (
    name            TEXT    PRIMARY KEY,
    holder          TEXT    NOT NULL,
    expires_at_ms   INTEGER NOT NULL
);
