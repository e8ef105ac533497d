-- repeat_customer_rate = buyers in the period whose lifetime order count (all history up to
--                        `end`) is >= 2 / buyers in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- A buyer's lifetime count is 1 exactly when they ordered once inside the period and never
-- before `start` (their first order is in the period); every other buyer counts as repeat.
-- That needs only the period's orders and the first-order times, not all history.
-- Orders are events of kind 'order', each event_id once. NULL when the period has no buyer.
WITH
period_days AS (
    -- FINAL unions the order sets of one (customer, day) across unmerged parts, so a
    -- duplicate event_id counts once (see migration 0002).
    SELECT customer_id, length(orders) AS order_count
    FROM purchase_days FINAL
    WHERE day >= {start:Date} AND day < {end:Date}
),
spans AS (
    SELECT customer_id, first_purchase_at
    FROM customer_purchase_span
),
buyers AS (
    SELECT customer_id, sum(order_count) AS period_order_count
    FROM period_days
    GROUP BY customer_id
),
first_ordered_in_period AS (
    -- min() over unmerged rows: duplicates cannot move a minimum.
    SELECT customer_id
    FROM spans
    GROUP BY customer_id
    HAVING min(first_purchase_at) >= toDateTime64({start:Date}, 3, 'UTC')
       AND min(first_purchase_at) < toDateTime64({end:Date}, 3, 'UTC')
),
buyer_kinds AS (
    SELECT
        period_order_count = 1
            AND customer_id IN (SELECT customer_id FROM first_ordered_in_period) AS one_time
    FROM buyers
)
SELECT if(count() = 0, NULL, countIf(NOT one_time) / count()) AS repeat_customer_rate
FROM buyer_kinds
