-- purchase_frequency = orders in the period / buyers in the period.
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
    SELECT customer_id, length(groupUniqArrayArray(orders)) AS order_count
    FROM period_orders
    GROUP BY customer_id
)
SELECT if(count() = 0, NULL, sum(order_count) / count()) AS purchase_frequency
FROM buyers
