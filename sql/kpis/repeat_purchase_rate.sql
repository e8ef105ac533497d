-- repeat_purchase_rate (RPR) = buyers in the period with >= 2 orders inside the period
--                              / buyers in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- Orders are events of kind 'order' (refunds are not purchases), each event_id once.
-- NULL when the period has no buyer.
WITH
period_orders AS (
    SELECT customer_id, orders
    FROM purchase_days
    WHERE day >= {start:Date} AND day < {end:Date}
),
buyers AS (
    -- The union per customer drops an event_id that sits in two unmerged rows.
    SELECT customer_id, length(groupUniqArrayArray(orders)) AS order_count
    FROM period_orders
    GROUP BY customer_id
)
SELECT if(count() = 0, NULL, countIf(order_count >= 2) / count()) AS repeat_purchase_rate
FROM buyers
