-- Sessions no longer carry a CSRF token: cross-site writes are refused by one layer
-- (ADR 0009), so the column is dropped.
ALTER TABLE sessions DROP COLUMN csrf_token;
