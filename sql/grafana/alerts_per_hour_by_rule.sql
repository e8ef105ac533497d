-- Panel "Churn-risk alerts per hour by rule" (dashboard retention-pipeline).
-- Alerts decided in the dashboard's time range, by rule_id, per hour of decided_at (event
-- time: when the rule's condition became true; a live worker raises them moments later,
-- a replay raises the past again with the same ids). Bucket: one hour, or Grafana's
-- interval when that is longer; the value is always per hour (count / hours in the bucket),
-- so zooming out does not inflate it.
-- Grain: one row per (bucket, rule_id) with an alert: time, rule_id, alerts_per_hour.
-- Macros (grafana-clickhouse-datasource): $__timeFilter, $__interval_s.
WITH greatest(3600, $__interval_s) AS bucket_s
SELECT
    toStartOfInterval(decided_at, toIntervalSecond(bucket_s)) AS time,
    rule_id,
    count() / (bucket_s / 3600) AS alerts_per_hour
-- FINAL: an alert written twice (a retried insert, a re-delivery) has one alert_id.
FROM churn_risk_alerts FINAL
WHERE $__timeFilter(decided_at)
GROUP BY time, rule_id
ORDER BY time, rule_id
