-- Changes (deploys, configuration changes, feature flags) and the `changes` API key scope.

-- SQLite cannot alter a CHECK constraint: the API key table is rebuilt with the new scope.
CREATE TABLE api_keys_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    scope           TEXT    NOT NULL CHECK (scope IN ('ingest', 'read', 'changes')),
    prefix          TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_by      INTEGER REFERENCES users (id),
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER,
    revoked_at_ms   INTEGER
);
INSERT INTO api_keys_new (id, name, scope, prefix, token_hash, created_by, created_at_ms,
                          last_used_at_ms, revoked_at_ms)
    SELECT id, name, scope, prefix, token_hash, created_by, created_at_ms, last_used_at_ms,
           revoked_at_ms
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

CREATE TABLE changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms           INTEGER NOT NULL,
    service         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('deploy', 'config', 'flag')),
    version         TEXT    NOT NULL DEFAULT '',
    author          TEXT    NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    recorded_by     TEXT    NOT NULL,
    recorded_at_ms  INTEGER NOT NULL,
    -- The client's id: a retried POST with the same id records nothing new.
    external_id     TEXT    UNIQUE
);
CREATE INDEX changes_at ON changes (at_ms);
CREATE INDEX changes_service_at ON changes (service, at_ms);
