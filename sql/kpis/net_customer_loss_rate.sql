-- net_customer_loss_rate = (S - E) / S, S = customers active at `start`, E = customers
-- active at `end`. The sources' literal "annual churn = (customers at start - customers at
-- end) / customers", kept for comparison and named net: gains offset losses, so it is
-- negative for a growing base.
-- "Active at t" = at least one order in [t - activity_window_days, t).
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days;
--             {activity_window_days:UInt32}.
-- NULL when nobody was active at `start`.
WITH
recent_days AS (
    -- Date32: `start - window` may fall before 1970, where Date would wrap around.
    SELECT customer_id, day
    FROM purchase_days
    WHERE day >= toDate32({start:Date}) - {activity_window_days:UInt32} AND day < {end:Date}
),
customer_activity AS (
    -- One flag pair per customer: cheaper than two distinct counts over the same rows.
    SELECT
        customer_id,
        max(day >= toDate32({start:Date}) - {activity_window_days:UInt32}
            AND day < {start:Date}) AS at_start,
        max(day >= toDate32({end:Date}) - {activity_window_days:UInt32}) AS at_end
    FROM recent_days
    GROUP BY customer_id
),
active AS (
    SELECT countIf(at_start) AS active_at_start, countIf(at_end) AS active_at_end
    FROM customer_activity
)
SELECT
    if(active_at_start = 0, NULL,
       (toInt64(active_at_start) - toInt64(active_at_end)) / active_at_start)
        AS net_customer_loss_rate
FROM active
