-- customer/at_risk: whom to call today. Customers with open churn-risk episodes in their
--   latest state, ranked by value at risk = predicted CLV x churn probability (the latest
--   model's profile, customer_profile), each with the episodes that are its reasons: rule,
--   weight, when it opened, readable detail. Customers without a profile (no model yet, or
--   first order after the model's calibration day) have no value at risk: they are listed
--   after the others, and only when min_value is 0.
-- Grain: one row per customer, at most `limit`; the episode arrays are parallel.
-- Parameters: {min_value:Float64}: the least value at risk listed; {limit:UInt32}.
WITH
at_risk AS (
    SELECT customer_id, risk_score, orders, revenue, last_purchase_at,
           -- rule -> [opened_at, last_alert_at, detail, weight] (streams/state.py).
           JSONExtract(state, 'episodes',
                       'Map(String, Tuple(Float64, Float64, String, UInt8))') AS episodes
    FROM customer_state FINAL
    WHERE notEmpty(open_risk_rules)
),
profiles AS (
    SELECT customer_id, toNullable(value_at_risk) AS value_at_risk,
           toNullable(predicted_clv) AS predicted_clv,
           toNullable(churn_probability) AS churn_probability, expected_next_order_date
    FROM customer_profile
    WHERE customer_id IN (SELECT customer_id FROM at_risk)
)
SELECT
    a.customer_id,
    round(p.value_at_risk, 2) AS value_at_risk,
    round(p.predicted_clv, 2) AS predicted_clv,
    round(p.churn_probability, 3) AS churn_probability,
    a.risk_score,
    a.orders,
    round(a.revenue, 2) AS revenue,
    a.last_purchase_at,
    p.expected_next_order_date,
    mapKeys(a.episodes) AS episode_rules,
    arrayMap(e -> toDateTime64(e.1, 3, 'UTC'), mapValues(a.episodes)) AS episode_opened_at,
    arrayMap(e -> e.3, mapValues(a.episodes)) AS episode_details
FROM at_risk AS a
LEFT JOIN profiles AS p ON p.customer_id = a.customer_id
WHERE ifNull(p.value_at_risk >= {min_value:Float64}, {min_value:Float64} = 0)
ORDER BY p.value_at_risk DESC NULLS LAST, a.risk_score DESC, a.customer_id
LIMIT {limit:UInt32}
