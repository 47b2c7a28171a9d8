-- Subscription money by the SPEC: each payment keeps its currency, plan and billing period
-- (revenue, MRR, ARPA and LTV are per currency; a yearly payment is a twelfth of MRR).
-- Rows stored before this read them back from the raw event where it is still kept.
ALTER TABLE subscription_events ADD COLUMN currency TEXT NOT NULL DEFAULT '';
ALTER TABLE subscription_events ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE subscription_events ADD COLUMN period TEXT NOT NULL DEFAULT 'month'
    CHECK (period IN ('month', 'year'));
UPDATE subscription_events SET
    currency = COALESCE((
        SELECT CASE WHEN length(trim(json_extract(e.properties, '$.currency'))) = 3
                     AND trim(json_extract(e.properties, '$.currency')) NOT GLOB '*[^A-Za-z]*'
                    THEN upper(trim(json_extract(e.properties, '$.currency'))) ELSE '' END
        FROM events e WHERE e.event_id = subscription_events.event_id AND json_valid(e.properties)), ''),
    plan = COALESCE((
        SELECT substr(CAST(json_extract(e.properties, '$.plan') AS TEXT), 1, 64)
        FROM events e WHERE e.event_id = subscription_events.event_id AND json_valid(e.properties)), ''),
    period = COALESCE((
        SELECT CASE WHEN json_extract(e.properties, '$.period') = 'year' THEN 'year' ELSE 'month' END
        FROM events e WHERE e.event_id = subscription_events.event_id AND json_valid(e.properties)), 'month');
