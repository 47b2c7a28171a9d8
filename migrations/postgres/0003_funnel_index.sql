-- Funnels load one (day, event name) slice at a time: (user, time) of every event of that
-- name in the day. With the user in the index the load is an index-only range scan instead
-- of one table lookup per event (measured ~10x on 12.7 M events). It replaces
-- events_name_ts, which is a prefix of it.
CREATE INDEX events_name_ts_user ON events (event_name, ts_ms, user_idx);
DROP INDEX events_name_ts;
