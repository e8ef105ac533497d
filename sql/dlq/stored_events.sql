-- stored_events: which of the given event ids are stored in a raw table: `retention dlq
--   replay` sends an event only when its id is not (a replay never stores an event twice).
-- Grain: one row per stored id among {event_ids} (at most 1000 ids per call).
-- Parameters: {event_ids:Array(String)}.
SELECT event_id FROM purchases WHERE event_id IN {event_ids:Array(String)}
UNION DISTINCT
SELECT event_id FROM support_events WHERE event_id IN {event_ids:Array(String)}
UNION DISTINCT
SELECT event_id FROM survey_responses WHERE event_id IN {event_ids:Array(String)}
