-- at_risk_customers: customers whose open risk rules add up to at least min_risk_score,
--   most valuable first, with the latest model's p_alive and predicted CLV (NULL before
--   the first `retention model fit`).
-- Grain: one row per customer, at most 50.
-- Parameters: {min_risk_score:UInt8}.
WITH latest_predictions AS (
    -- Nullable, so a customer without a prediction gets NULL from the LEFT JOIN.
    SELECT customer_id, toNullable(p_alive) AS p_alive,
           toNullable(predicted_clv) AS predicted_clv
    FROM customer_predictions FINAL
    WHERE model_version = (SELECT max(version) FROM model_params)
)
SELECT
    s.customer_id,
    s.risk_score,
    s.open_risk_rules,
    round(s.revenue, 2) AS revenue,
    s.orders,
    s.last_purchase_at,
    round(p.p_alive, 3) AS p_alive,
    round(p.predicted_clv, 2) AS predicted_clv
FROM customer_state AS s FINAL
LEFT JOIN latest_predictions AS p ON p.customer_id = s.customer_id
WHERE s.risk_score >= {min_risk_score:UInt8}
ORDER BY s.revenue DESC
LIMIT 50
