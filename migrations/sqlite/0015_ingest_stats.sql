-- Ingestion health: per hour (ms / 3 600 000) and API key (0: the demo loader and the
-- CLI), what arrived: accepted, duplicates, rejected, and the newest acceptance (the
-- dashboards' "last event received"); rejections by reason (the field named).
CREATE TABLE ingest_stats (
    hour        BIGINT NOT NULL,
    key_id      BIGINT NOT NULL,
    accepted    BIGINT NOT NULL DEFAULT 0,
    duplicates  BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    last_at_ms  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, key_id)
);
CREATE TABLE ingest_rejections (
    hour        BIGINT NOT NULL,
    key_id      BIGINT NOT NULL,
    reason      TEXT   NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (hour, key_id, reason)
);
