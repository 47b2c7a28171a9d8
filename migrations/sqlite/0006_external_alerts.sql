-- Alerts received from an existing Prometheus/Alertmanager (POST /api/v1/integrations/
-- alertmanager), shown beside Vigil's own. One row per source and fingerprint, updated as
-- Alertmanager re-sends the alert (firing, then resolved).
CREATE TABLE external_alerts (
    source          TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    labels          TEXT    NOT NULL,
    annotations     TEXT    NOT NULL,
    starts_at_ms    INTEGER NOT NULL,
    ends_at_ms      INTEGER,
    generator_url   TEXT    NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (source, fingerprint)
);
CREATE INDEX external_alerts_status ON external_alerts (status, received_at_ms);
