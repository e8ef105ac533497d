-- customer_rfm: the BG/NBD + Gamma-Gamma inputs of every customer, as kpis.md defines them,
--   for a calibration period ending on day `as_of` (inclusive, UTC dates):
--   x   = purchase days after the first one (purchase day = UTC date with >= 1 order),
--   t_x = last purchase day - first purchase day, in days,
--   T   = as_of - first purchase day, in days,
--   m_x = revenue of the repeat purchase days (first day excluded) / x; NULL when x = 0;
--   orders, revenue = the customer's orders up to as_of and their revenue (historic CLV).
-- Grain: one row per customer with an order on or before `as_of`, ordered by customer_id.
-- Parameters: {as_of:Date}.
-- Orders are events of kind 'order', each event_id once (refunds are not purchases).
WITH
calibration_days AS (
    -- FINAL leaves one row per (customer, day) with that day's distinct orders, so count()
    -- below counts purchase days and a duplicate event_id adds no revenue.
    SELECT customer_id, day, length(orders) AS day_orders, arraySum(o -> o.2, orders) AS revenue
    FROM purchase_days FINAL
    WHERE day <= {as_of:Date}
),
customers AS (
    SELECT
        customer_id,
        min(day) AS first_day,
        max(day) AS last_day,
        count() AS purchase_days,
        sum(day_orders) AS order_count,
        sum(revenue) AS total_revenue,
        argMin(revenue, day) AS first_day_revenue
    FROM calibration_days
    GROUP BY customer_id
)
SELECT
    customer_id,
    toUInt32(purchase_days - 1) AS x,
    toUInt32(last_day - first_day) AS t_x,
    toUInt32({as_of:Date} - first_day) AS T,
    if(x = 0, NULL, (total_revenue - first_day_revenue) / x) AS m_x,
    toUInt32(order_count) AS orders,
    total_revenue AS revenue
FROM customers
ORDER BY customer_id
