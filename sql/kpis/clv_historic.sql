-- clv_historic = average_order_value x annual purchase frequency x expected lifespan (years),
--   lifespan = 1 / annual churn_rate, capped at lifespan_cap_years.
-- "Annual" is taken literally: all three parts are measured over the year ending at `end`,
-- [end - 1 calendar year, end), so the value does not depend on `start`. For a one-year
-- period it is exactly average_order_value x purchase_frequency x min(1 / churn_rate, cap)
-- of that period; for shorter periods it is the trailing-year CLV as of `end`.
--   AOV = revenue / orders, frequency = orders / buyers, churn = 1 - (E - N) / S
--   (customer_retention_rate.sql) over that year. Churn <= 0 (no net loss) gives the cap.
-- Grain: one row.
-- Parameters: {end:Date}; {activity_window_days:UInt32}; {lifespan_cap_years:Float64}.
-- NULL when the year has no order or nobody was active at its start.
WITH
year_days AS (
    -- FINAL unions the order sets of one (customer, day) across unmerged parts, so a
    -- duplicate event_id counts once (see migration 0002).
    SELECT customer_id, length(orders) AS order_count, arraySum(o -> o.2, orders) AS revenue
    FROM purchase_days FINAL
    WHERE day >= subtractYears({end:Date}, 1) AND day < {end:Date}
),
recent_days AS (
    SELECT customer_id, day
    FROM purchase_days
    WHERE day >= toDate32(subtractYears({end:Date}, 1)) - {activity_window_days:UInt32}
      AND day < {end:Date}
),
spans AS (
    SELECT customer_id, first_purchase_at
    FROM customer_purchase_span
),
spend AS (
    SELECT sum(revenue) AS revenue, sum(order_count) AS order_count,
           uniqExact(customer_id) AS buyer_count
    FROM year_days
),
customer_activity AS (
    -- One flag pair per customer: cheaper than two distinct counts over the same rows.
    SELECT
        customer_id,
        max(day >= toDate32(subtractYears({end:Date}, 1)) - {activity_window_days:UInt32}
            AND day < subtractYears({end:Date}, 1)) AS at_start,
        max(day >= toDate32({end:Date}) - {activity_window_days:UInt32}) AS at_end
    FROM recent_days
    GROUP BY customer_id
),
active AS (
    SELECT countIf(at_start) AS active_at_start, countIf(at_end) AS active_at_end
    FROM customer_activity
),
new_customers AS (
    SELECT count() AS new_in_year
    FROM (
        SELECT customer_id
        FROM spans
        GROUP BY customer_id
        HAVING min(first_purchase_at) >= toDateTime64(subtractYears({end:Date}, 1), 3, 'UTC')
           AND min(first_purchase_at) < toDateTime64({end:Date}, 3, 'UTC')
    )
),
parts AS (
    SELECT
        if(order_count = 0, NULL, revenue / order_count) AS aov,
        if(buyer_count = 0, NULL, order_count / buyer_count) AS annual_frequency,
        if(active_at_start = 0, NULL,
           1 - (toInt64(active_at_end) - toInt64(new_in_year)) / active_at_start) AS annual_churn
    FROM spend, active, new_customers
)
SELECT
    -- Explicit NULL branch: least() skips NULL arguments and would return the cap.
    aov * annual_frequency
        * multiIf(annual_churn IS NULL, NULL,
                  annual_churn <= 0, {lifespan_cap_years:Float64},
                  least(1 / annual_churn, {lifespan_cap_years:Float64})) AS clv_historic
FROM parts
