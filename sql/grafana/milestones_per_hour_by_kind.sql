-- Panel "Milestones per hour by kind" (dashboard retention-pipeline).
-- Milestones decided in the dashboard's time range, by kind, per hour of decided_at (event
-- time, as for alerts). Bucket: one hour, or Grafana's interval when that is longer; the
-- value is always per hour (count / hours in the bucket).
-- Grain: one row per (bucket, kind) with a milestone: time, kind, milestones_per_hour.
-- Macros (grafana-clickhouse-datasource): $__timeFilter, $__interval_s.
WITH greatest(3600, $__interval_s) AS bucket_s
SELECT
    toStartOfInterval(decided_at, toIntervalSecond(bucket_s)) AS time,
    kind,
    count() / (bucket_s / 3600) AS milestones_per_hour
-- FINAL: a milestone written twice has one milestone_id.
FROM milestones FINAL
WHERE $__timeFilter(decided_at)
GROUP BY time, kind
ORDER BY time, kind
