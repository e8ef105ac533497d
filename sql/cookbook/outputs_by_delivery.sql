-- outputs_by_delivery: alerts and milestones stored so far, by kind, split by delivery:
--   historical (decided more than the live horizon before the wall clock: stored, not
--   published unless a setting asks) and live (published on churn-risk / milestones).
-- Grain: one row per (topic, kind) with at least one output.
-- Parameters: none.
SELECT 'churn-risk' AS topic, rule_id AS kind,
       countIf(historical) AS historical_count, countIf(NOT historical) AS live_count
FROM churn_risk_alerts FINAL
GROUP BY rule_id
UNION ALL
SELECT 'milestones' AS topic, kind,
       countIf(historical) AS historical_count, countIf(NOT historical) AS live_count
FROM milestones FINAL
GROUP BY kind
