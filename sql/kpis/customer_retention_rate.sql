-- Three KPIs from one count of the customer base (one file, so `kpi all` scans once):
--   customer_retention_rate (CRR) = (E - N) / S
--   churn_rate                    = 1 - CRR
--   net_customer_loss_rate        = (S - E) / S
-- with S = customers active at `start`, E = customers active at `end`,
--   N = new customers in the period (first-ever order in [start, end)).
-- "Active at t" = at least one order in [t - activity_window_days, t).
-- Worked example (kpis.md): S = 20, 8 lost, 9 gained -> E = 21, CRR = (21 - 9) / 20 = 60%,
-- churn 40%, net loss (20 - 21) / 20 = -5%.
-- kpis.md glosses churn as "active at start and not active at end, over S"; that equals
-- 1 - CRR only when no lapsed customer returns and the period is <= the window. The formula
-- 1 - CRR is what is computed. Net loss is the sources' literal "(customers at start -
-- customers at end) / customers", kept for comparison and named net: gains offset losses,
-- so it is negative for a growing base.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days;
--             {activity_window_days:UInt32}.
-- A lapsed customer (inactive at `start`) who orders again counts in E but not in N, so CRR
-- can exceed the share of S still active at `end` (churn may then be negative); the formula
-- is kept as kpis.md states it.
-- NULL when nobody was active at `start`.
WITH
recent_days AS (
    -- Date32: `start - window` may fall before 1970, where Date would wrap around.
    SELECT customer_id, day
    FROM purchase_days
    WHERE day >= toDate32({start:Date}) - {activity_window_days:UInt32} AND day < {end:Date}
),
spans AS (
    SELECT customer_id, first_purchase_at
    FROM customer_purchase_span
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
),
new_customers AS (
    SELECT count() AS new_in_period
    FROM (
        SELECT customer_id
        FROM spans
        GROUP BY customer_id
        HAVING min(first_purchase_at) >= toDateTime64({start:Date}, 3, 'UTC')
           AND min(first_purchase_at) < toDateTime64({end:Date}, 3, 'UTC')
    )
)
SELECT
    if(active_at_start = 0, NULL,
       (toInt64(active_at_end) - toInt64(new_in_period)) / active_at_start)
        AS customer_retention_rate,
    1 - customer_retention_rate AS churn_rate,
    if(active_at_start = 0, NULL,
       (toInt64(active_at_start) - toInt64(active_at_end)) / active_at_start)
        AS net_customer_loss_rate
FROM active, new_customers
