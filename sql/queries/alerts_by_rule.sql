-- alerts_by_rule: churn-risk alerts raised so far, by the rule that raised each.
-- Grain: one row per rule that raised at least one alert.
SELECT rule_id, count()
FROM churn_risk_alerts FINAL
GROUP BY rule_id
