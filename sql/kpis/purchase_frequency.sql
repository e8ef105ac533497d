-- purchase_frequency = orders in the period / buyers in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- Orders are events of kind 'order' (refunds are not purchases), each event_id once.
-- NULL when the period has no buyer.
WITH
period_days AS (
    -- FINAL unions the order sets of one (customer, day) across unmerged parts, so a
    -- duplicate event_id counts once (see migration 0002).
    SELECT customer_id, length(orders) AS order_count
    FROM purchase_days FINAL
    WHERE day >= {start:Date} AND day < {end:Date}
),
totals AS (
    SELECT sum(order_count) AS order_count, uniqExact(customer_id) AS buyer_count
    FROM period_days
)
SELECT if(buyer_count = 0, NULL, order_count / buyer_count) AS purchase_frequency
FROM totals
