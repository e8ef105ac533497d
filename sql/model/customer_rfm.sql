-- customer_rfm: the BG/NBD + Gamma-Gamma inputs of every customer, as kpis.md defines them,
--   for a calibration period ending on day `as_of` (inclusive, UTC dates):
--   x   = purchase days after the first one (purchase day = UTC date with >= 1 order),
--   t_x = last purchase day - first purchase day, in days,
--   T   = as_of - first purchase day, in days,
--   m_x = revenue of the repeat purchase days (first day excluded) / x; NULL when x = 0.
-- Grain: one row per customer with an order on or before `as_of`.
-- Parameters: {as_of:Date}.
-- Orders are events of kind 'order', each event_id once (refunds are not purchases).
WITH
calibration_days AS (
    SELECT customer_id, day, orders
    FROM purchase_days
    WHERE day <= {as_of:Date}
),
customers AS (
    SELECT
        customer_id,
        min(day) AS first_day,
        max(day) AS last_day,
        uniqExact(day) AS purchase_days,
        -- Day travels with each order so that the union (which drops duplicate events) can
        -- still tell first-day revenue from repeat revenue.
        groupUniqArrayArray(arrayMap(o -> (o.1, o.2, day), orders)) AS order_set
    FROM calibration_days
    GROUP BY customer_id
)
SELECT
    customer_id,
    toUInt32(purchase_days - 1) AS x,
    toUInt32(last_day - first_day) AS t_x,
    toUInt32({as_of:Date} - first_day) AS T,
    if(x = 0, NULL,
       arraySum(o -> if(o.3 > first_day, o.2, 0), order_set) / x) AS m_x
FROM customers
ORDER BY customer_id
