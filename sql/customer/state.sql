-- customer/state: one customer's current state as the worker keeps it (customer_state
--   keeps the latest version per customer): orders, revenue, first and last purchase, open
--   tickets, latest NPS and CSAT answers, risk score and the rules of its open episodes.
-- Grain: one row, or none for a customer the pipeline has never seen.
-- Parameters: {customer_id:String}.
SELECT
    customer_id,
    updated_at,
    orders,
    round(revenue, 2) AS revenue,
    first_purchase_at,
    last_purchase_at,
    open_tickets,
    latest_nps,
    latest_csat,
    risk_score,
    open_risk_rules
FROM customer_state FINAL
WHERE customer_id = {customer_id:String}
