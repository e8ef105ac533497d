-- average_order_value (AOV) = revenue in the period / orders in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- Revenue is the sum of order amounts (gross: refunds are not purchases and are not netted
-- off), each event_id once. Amounts are summed as stored: one currency is assumed.
-- NULL when the period has no order.
WITH
period_days AS (
    -- FINAL unions the order sets of one (customer, day) across unmerged parts, so a
    -- duplicate event_id counts once (see migration 0002).
    SELECT length(orders) AS order_count, arraySum(o -> o.2, orders) AS revenue
    FROM purchase_days FINAL
    WHERE day >= {start:Date} AND day < {end:Date}
),
totals AS (
    SELECT sum(order_count) AS order_count, sum(revenue) AS revenue
    FROM period_days
)
SELECT if(order_count = 0, NULL, revenue / order_count) AS average_order_value
FROM totals
