-- Panel "Dead letters by reason" (dashboard retention-pipeline), a table.
-- Dead letters that failed in the dashboard's time range, grouped by (reason, topic), most
-- frequent first, with when the reason was first and last seen and where the first letter
-- is (partition, offset), to look it up in the dead_letters table or the dead-letter topic.
-- Grain: one row per (reason, topic), at most 100: reason, topic, letters,
--   first_failed_at, last_failed_at, first_partition, first_offset.
-- Macros (grafana-clickhouse-datasource): $__timeFilter.
SELECT
    reason,
    topic,
    count() AS letters,
    min(failed_at) AS first_failed_at,
    max(failed_at) AS last_failed_at,
    argMin(partition, (failed_at, partition, offset)) AS first_partition,
    argMin(offset, (failed_at, partition, offset)) AS first_offset
-- FINAL: a re-delivered bad message has the same (topic, partition, offset).
FROM dead_letters FINAL
WHERE $__timeFilter(failed_at)
GROUP BY reason, topic
ORDER BY letters DESC, reason, topic
LIMIT 100
