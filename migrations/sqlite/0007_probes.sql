-- HTTP probes (issue #4): the checks, when each runs next, and 30 days of results.
CREATE TABLE probes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    -- `domain::probe::ProbeSpec` as JSON, validated before it is stored.
    spec            TEXT    NOT NULL,
    enabled         INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    -- From the spec, for the claim's arithmetic.
    interval_ms     INTEGER NOT NULL,
    -- Claimed by the replica holding the engine lease before it runs the check.
    next_run_at_ms  INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    updated_by      INTEGER REFERENCES users (id)
);

CREATE TABLE probe_results (
    probe_id        INTEGER NOT NULL REFERENCES probes (id) ON DELETE CASCADE,
    at_ms           INTEGER NOT NULL,
    ok              INTEGER NOT NULL,
    status          INTEGER,
    latency_ms      REAL    NOT NULL,
    error           TEXT
);
CREATE INDEX probe_results_probe_at ON probe_results (probe_id, at_ms);
CREATE INDEX probe_results_at ON probe_results (at_ms);
