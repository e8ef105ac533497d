-- at_risk_episodes: customers with open churn-risk episodes in their latest state, highest
--   risk score first (then most revenue, then id), each with the episodes that make up the
--   score: rule, its weight, when the episode opened and the rule's readable detail.
--   The state is the worker's latest (customer_state keeps one version per customer), so
--   this is "at risk now", whatever period a caller reports on.
-- Grain: one row per customer, at most `top`; the episode arrays are parallel, in the order
--   the episodes opened.
-- Parameters: {min_risk_score:UInt8}: the lowest risk score listed (1 = any open episode);
--   {top:UInt32}: how many customers.
WITH
latest AS (
    SELECT customer_id, risk_score, revenue, orders, last_purchase_at,
           -- The state's episodes: rule -> [opened_at, last_alert_at, detail, weight],
           -- times in epoch seconds (streams/state.py CustomerState.to_dict).
           JSONExtract(state, 'episodes',
                       'Map(String, Tuple(Float64, Float64, String, UInt8))') AS episodes
    FROM customer_state FINAL
    WHERE risk_score >= {min_risk_score:UInt8} AND notEmpty(open_risk_rules)
)
SELECT
    customer_id,
    risk_score,
    round(revenue, 2) AS revenue,
    orders,
    last_purchase_at,
    mapKeys(episodes) AS episode_rules,
    arrayMap(e -> e.4, mapValues(episodes)) AS episode_weights,
    arrayMap(e -> toDateTime64(e.1, 3, 'UTC'), mapValues(episodes)) AS episode_opened_at,
    arrayMap(e -> e.3, mapValues(episodes)) AS episode_details
FROM latest
ORDER BY risk_score DESC, revenue DESC, customer_id
LIMIT {top:UInt32}
