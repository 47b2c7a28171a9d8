-- Acknowledgements of firing alerts, by firing episode (the alert and when it began
-- firing): any alert can be acknowledged, paged or not, and the acknowledgement undone.
CREATE TABLE alert_acks (
    subject_key    TEXT    PRIMARY KEY,
    acked_at_ms    INTEGER NOT NULL,
    acked_by       TEXT    NOT NULL,
    acked_user_id  INTEGER REFERENCES users (id)
);
