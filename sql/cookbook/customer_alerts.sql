-- customer_alerts: every churn-risk alert one customer got, oldest first: what a CRM or
--   support agent asks before calling them.
-- Grain: one row per alert.
-- Parameters: {customer_id:String}.
SELECT alert_id, rule_id, level, score, decided_at, raised_at
FROM churn_risk_alerts FINAL
WHERE customer_id = {customer_id:String}
ORDER BY decided_at, rule_id
