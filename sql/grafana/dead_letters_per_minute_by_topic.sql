-- Panel "Dead letters per minute by topic" (dashboard retention-pipeline).
-- Messages the worker could not use (dead_letters, written with the reason and the
-- original bytes) in the dashboard's time range, by input topic, per minute of failed_at
-- (the worker's clock: a bad message has no trustworthy event time). Bucket: one minute,
-- or Grafana's interval when that is longer; the value is always per minute.
-- Grain: one row per (bucket, topic) with a letter: time, topic, dead_letters_per_minute.
-- Macros (grafana-clickhouse-datasource): $__timeFilter, $__interval_s.
WITH greatest(60, $__interval_s) AS bucket_s
SELECT
    toStartOfInterval(failed_at, toIntervalSecond(bucket_s)) AS time,
    topic,
    count() / (bucket_s / 60) AS dead_letters_per_minute
-- FINAL: a re-delivered bad message has the same (topic, partition, offset).
FROM dead_letters FINAL
WHERE $__timeFilter(failed_at)
GROUP BY time, topic
ORDER BY time, topic
