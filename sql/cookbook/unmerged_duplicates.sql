-- unmerged_duplicates: stored rows beyond distinct events per raw table: re-deliveries
--   ClickHouse has not merged away yet (KPIs are exact either way; a large, growing
--   number points at a producer re-sending in a loop).
-- Grain: one row per raw event table.
-- Parameters: none.
SELECT event_table, stored_rows, events, stored_rows - events AS unmerged_duplicates
FROM (
    SELECT 'purchases' AS event_table, count() AS stored_rows, uniqExact(event_id) AS events
    FROM purchases
    UNION ALL
    SELECT 'support_events', count(), uniqExact(event_id) FROM support_events
    UNION ALL
    SELECT 'survey_responses', count(), uniqExact(event_id) FROM survey_responses
)
ORDER BY event_table
