-- alerts_by_rule: churn-risk alerts decided in the period, by rule and level.
-- Grain: one row per (rule, level).
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
SELECT rule_id, level, count() AS alerts, uniqExact(customer_id) AS customers,
       round(avg(score), 1) AS mean_score
FROM churn_risk_alerts FINAL
WHERE decided_at >= toDateTime64({start:Date}, 3, 'UTC')
  AND decided_at < toDateTime64({end:Date}, 3, 'UTC')
GROUP BY rule_id, level
ORDER BY alerts DESC
