-- customer/profile: one customer's predictive profile from the latest fitted model (the
--   customer_profile view of migration 0005): historic, predicted and total CLV, churn
--   probability (1 - P(alive)), value at risk (predicted CLV x churn probability), expected
--   purchases over the horizon, average days between orders, the expected date of the next
--   order; and the model's version, calibration day, discount rate and the readiness rule
--   it passed (each threshold of RETENTION_MODEL__* with what the data had).
-- Grain: one row, or none before the first `retention model fit` or for a customer with
--   no order on or before the model's calibration day.
-- Parameters: {customer_id:String}.
SELECT
    p.customer_id,
    p.model_version,
    p.as_of,
    p.orders,
    p.historic_clv,
    p.predicted_clv,
    p.total_clv,
    p.churn_probability,
    p.value_at_risk,
    p.expected_purchases,
    p.horizon_days,
    p.average_days_between_orders,
    p.expected_next_order_date,
    r.annual_discount_rate,
    r.buyers,
    r.min_buyers,
    r.history_days,
    r.min_history_days,
    r.customers_3plus,
    r.min_customers_3plus
FROM customer_profile AS p
INNER JOIN (SELECT * FROM model_profile_params FINAL) AS r ON r.version = p.model_version
WHERE p.customer_id = {customer_id:String}
