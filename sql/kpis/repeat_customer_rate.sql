-- repeat_customer_rate = buyers in the period whose lifetime order count (all history up to
--                        `end`) is >= 2 / buyers in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- A buyer has >= 2 lifetime orders exactly when they ordered twice inside the period or
-- ordered at all before `start`; that avoids counting every order of every buyer's history.
-- Orders are events of kind 'order', each event_id once. NULL when the period has no buyer.
WITH
period_orders AS (
    SELECT customer_id, orders
    FROM purchase_days
    WHERE day >= {start:Date} AND day < {end:Date}
),
spans AS (
    SELECT customer_id, first_purchase_at
    FROM customer_purchase_span
),
buyers AS (
    SELECT customer_id, length(groupUniqArrayArray(orders)) AS period_order_count
    FROM period_orders
    GROUP BY customer_id
),
earlier_buyers AS (
    SELECT customer_id
    FROM spans
    GROUP BY customer_id
    HAVING min(first_purchase_at) < toDateTime64({start:Date}, 3, 'UTC')
)
SELECT
    if(count() = 0, NULL,
       countIf(period_order_count >= 2
               OR customer_id IN (SELECT customer_id FROM earlier_buyers)) / count())
        AS repeat_customer_rate
FROM buyers
