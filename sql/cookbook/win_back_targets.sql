-- win_back_targets: proven repeat buyers (3+ purchase days) the latest model thinks have
--   probably lapsed, biggest historic spenders first.
-- Grain: one row per customer, at most 100.
-- Parameters: {max_p_alive:Float64}: the p_alive below which a customer counts as lapsed.
SELECT
    customer_id,
    x + 1 AS purchase_days,
    round(m_x, 2) AS mean_repeat_spend,
    round(p_alive, 3) AS p_alive,
    round(predicted_clv, 2) AS predicted_clv
FROM customer_predictions FINAL
WHERE model_version = (SELECT max(version) FROM model_params)
  AND x >= 2
  AND p_alive < {max_p_alive:Float64}
ORDER BY m_x * x DESC
LIMIT 100
