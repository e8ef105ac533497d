-- repeat_purchase_rate (RPR) = buyers in the period with >= 2 orders inside the period
--                              / buyers in the period.
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
buyers AS (
    SELECT customer_id, sum(order_count) AS order_count
    FROM period_days
    GROUP BY customer_id
)
SELECT if(count() = 0, NULL, countIf(order_count >= 2) / count()) AS repeat_purchase_rate
FROM buyers
