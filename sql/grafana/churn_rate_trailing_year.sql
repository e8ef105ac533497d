-- Panel "Churn rate, trailing 12 months" (dashboard retention-kpis).
-- For each month M from the one containing the dashboard's start: churn_rate over the year
-- that ends with M, the period [first day of M - 11 months, first day of M + 1 month), as
-- sql/kpis/customer_retention_rate.sql computes it for that period: 1 - CRR, with
-- CRR = (E - N) / S, S = customers active at the period's start, E = active at its end,
-- N = customers whose first order is in the period; "active at t" = an order day in
-- [t - window, t). kpis.md's annual benchmark (investigate above 5-7%) is about exactly
-- this period. Only months that have ended by the dashboard's end: a year ending later has
-- no E yet.
-- window = the dashboard constant ${activity_window_days}, which must equal the pipeline's
-- RETENTION_ACTIVITY_WINDOW_DAYS (tests/test_compose.py checks compose's).
-- Grain: one row per month whose S > 0: time (M's first instant, UTC), churn_rate.
-- Macros (grafana-clickhouse-datasource): $__fromTime, $__toTime.
WITH
    ${activity_window_days} AS window_days,
    toStartOfMonth($__fromTime, 'UTC') AS first_month,
    -- The months M whose year has ended: M + 1 month <= the day after the dashboard's end.
    arrayMap(
        n -> addMonths(first_month, n),
        range(toUInt32(greatest(0,
            dateDiff('month', first_month, toStartOfMonth(toDate($__toTime, 'UTC') + 1))))))
        AS months,
    -- Every instant "active at" is asked about: each period's start and end.
    arrayDistinct(arrayConcat(arrayMap(m -> addMonths(m, -11), months),
                              arrayMap(m -> addMonths(m, 1), months))) AS boundaries,
active AS (
    -- Customers active at each boundary t: an order day in [t - window, t). Date32, as
    -- t - window may fall before 1970, where Date wraps around.
    SELECT t, uniqExact(customer_id) AS customers
    FROM (
        SELECT
            customer_id,
            arrayJoin(arrayFilter(b -> day >= toDate32(b) - window_days AND day < b,
                                  boundaries)) AS t
        FROM purchase_days
        WHERE day >= toDate32(arrayMin(boundaries)) - window_days
          AND day < arrayMax(boundaries)
    )
    GROUP BY t
),
new_customers AS (
    -- Customers whose first-ever order falls in each month's year.
    SELECT month, count() AS customers
    FROM (
        SELECT
            arrayJoin(arrayFilter(m -> first_day >= addMonths(m, -11)
                                       AND first_day < addMonths(m, 1), months)) AS month
        FROM (
            SELECT toDate(min(first_purchase_at), 'UTC') AS first_day
            FROM customer_purchase_span
            GROUP BY customer_id
        )
    )
    GROUP BY month
)
SELECT
    toDateTime(m.month, 'UTC') AS time,
    1 - (toInt64(e.customers) - toInt64(n.customers)) / s.customers AS churn_rate
FROM (SELECT arrayJoin(months) AS month) AS m
LEFT JOIN active AS s ON s.t = addMonths(m.month, -11)
LEFT JOIN active AS e ON e.t = addMonths(m.month, 1)
LEFT JOIN new_customers AS n ON n.month = m.month
WHERE s.customers > 0
ORDER BY time
