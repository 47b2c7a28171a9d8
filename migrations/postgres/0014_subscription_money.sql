-- Subscription money by the SPEC: each payment keeps its currency, plan and billing period
-- (revenue, MRR, ARPA and LTV are per currency; a yearly payment is a twelfth of MRR).
-- Rows stored before this read them back from the raw event where it is still kept.
ALTER TABLE subscription_events ADD COLUMN currency TEXT NOT NULL DEFAULT '';
ALTER TABLE subscription_events ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE subscription_events ADD COLUMN period TEXT NOT NULL DEFAULT 'month'
    CHECK (period IN ('month', 'year'));
UPDATE subscription_events s SET
    currency = CASE WHEN trim(e.properties::jsonb ->> 'currency') ~ '^[A-Za-z]{3}$'
                    THEN upper(trim(e.properties::jsonb ->> 'currency')) ELSE '' END,
    plan = COALESCE(substr(e.properties::jsonb ->> 'plan', 1, 64), ''),
    period = CASE WHEN e.properties::jsonb ->> 'period' = 'year' THEN 'year' ELSE 'month' END
FROM events e
WHERE e.event_id = s.event_id AND e.properties IS NOT NULL AND e.properties <> '';
