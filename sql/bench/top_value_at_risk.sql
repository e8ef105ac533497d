-- top_value_at_risk: plain SQL over the customer_profile view, as the read-only role runs it.
-- Grain: ten rows.
SELECT customer_id, round(value_at_risk, 2), round(churn_probability, 3),
       expected_next_order_date
FROM customer_profile
ORDER BY value_at_risk DESC
LIMIT 10
