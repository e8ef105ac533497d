-- Panel "Event-to-store delay by table" (dashboard retention-pipeline): the freshness side
-- of consumer lag. For input rows stored in the dashboard's time range: seconds from the
-- event's occurred_at (the producer's clock) to its ingested_at (the worker's clock), median
-- and 95th percentile per bucket and raw table. Live, it is the pipeline's delay (a growing
-- p95 means the worker falls behind); during a replay or an import it is the age of the
-- history; a negative value means a producer clock runs ahead. Percentiles are exact and
-- interpolated (quantileExactInclusive: numpy's default "linear" method).
-- Bucket: one minute, or Grafana's interval when that is longer.
-- Grain: one row per (bucket, event_table) with a row:
--   time, event_table, p50_delay_s, p95_delay_s.
-- Macros (grafana-clickhouse-datasource): $__timeFilter, $__interval_s.
WITH greatest(60, $__interval_s) AS bucket_s
SELECT
    toStartOfInterval(ingested_at, toIntervalSecond(bucket_s)) AS time,
    event_table,
    quantileExactInclusive(0.5)(delay_s) AS p50_delay_s,
    quantileExactInclusive(0.95)(delay_s) AS p95_delay_s
FROM (
    SELECT 'purchases' AS event_table, ingested_at,
           dateDiff('millisecond', occurred_at, ingested_at) / 1000 AS delay_s
    FROM purchases
    WHERE $__timeFilter(ingested_at)
    UNION ALL
    SELECT 'support_events' AS event_table, ingested_at,
           dateDiff('millisecond', occurred_at, ingested_at) / 1000 AS delay_s
    FROM support_events
    WHERE $__timeFilter(ingested_at)
    UNION ALL
    SELECT 'survey_responses' AS event_table, ingested_at,
           dateDiff('millisecond', occurred_at, ingested_at) / 1000 AS delay_s
    FROM survey_responses
    WHERE $__timeFilter(ingested_at)
)
GROUP BY time, event_table
ORDER BY time, event_table
