-- average_order_value (AOV) = revenue in the period / orders in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- Revenue is the sum of order amounts (gross: refunds are not purchases and are not netted
-- off), each event_id once. Amounts are summed as stored: one currency is assumed.
-- NULL when the period has no order.
WITH
period_orders AS (
    SELECT customer_id, orders
    FROM purchase_days
    WHERE day >= {start:Date} AND day < {end:Date}
),
buyers AS (
    SELECT
        customer_id,
        groupUniqArrayArray(orders) AS order_set,
        length(order_set) AS order_count,
        arraySum(o -> o.2, order_set) AS revenue
    FROM period_orders
    GROUP BY customer_id
)
SELECT if(sum(order_count) = 0, NULL, sum(revenue) / sum(order_count)) AS average_order_value
FROM buyers
