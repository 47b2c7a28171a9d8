-- "Page more" for one person or schedule: a run that pages this target (JSON, as the
-- policies' steps write it) with its policy's channels and waits instead of its steps.
ALTER TABLE escalations ADD COLUMN target TEXT;
