-- Panel "Rows stored per minute by table" (dashboard retention-pipeline): the input side of
-- consumer lag. ClickHouse holds no Kafka offsets, so true lag (committed offset vs log
-- end) is in `retention status`, not here. What ClickHouse can show: how many input rows the
-- worker stored per minute (by ingested_at, the worker's clock), per raw table. A worker that
-- stops keeping up shows a rate that falls while producers keep sending.
-- Every stored row counts: a re-delivered event counts again until a merge folds it.
-- Bucket: one minute, or Grafana's interval when that is longer; the value is per minute.
-- Grain: one row per (bucket, event_table) with a row: time, event_table, rows_per_minute.
-- Macros (grafana-clickhouse-datasource): $__timeFilter, $__interval_s.
WITH greatest(60, $__interval_s) AS bucket_s
SELECT
    toStartOfInterval(ingested_at, toIntervalSecond(bucket_s)) AS time,
    event_table,
    count() / (bucket_s / 60) AS rows_per_minute
FROM (
    SELECT 'purchases' AS event_table, ingested_at
    FROM purchases
    WHERE $__timeFilter(ingested_at)
    UNION ALL
    SELECT 'support_events' AS event_table, ingested_at
    FROM support_events
    WHERE $__timeFilter(ingested_at)
    UNION ALL
    SELECT 'survey_responses' AS event_table, ingested_at
    FROM survey_responses
    WHERE $__timeFilter(ingested_at)
)
GROUP BY time, event_table
ORDER BY time, event_table
