-- Panel "Cohort retention" (dashboard retention-kpis), a table read like a heatmap.
-- cohort_retention as sql/kpis/cohort_retention.sql computes it for the period
-- [first day of the month containing the dashboard's start, the day after its end):
-- cohort = month of a customer's first order; cell month_k = share of the cohort's
-- customers with an order in the k-th month after the cohort month (k = 0..11). Cohorts
-- are the months starting in the period; orders are observed up to its end, and a cell
-- whose month starts after it is NULL (not observed yet).
-- Grain: one row per cohort month with a customer: cohort_month, customers,
--   month_0 .. month_11.
-- Macros (grafana-clickhouse-datasource): $__fromTime, $__toTime.
WITH
    toStartOfMonth($__fromTime, 'UTC') AS period_start,
    toDate($__toTime, 'UTC') + 1 AS period_end,
cohort_members AS (
    SELECT customer_id, toStartOfMonth(toDate(min(first_purchase_at), 'UTC')) AS cohort_month
    FROM customer_purchase_span
    GROUP BY customer_id
    -- A customer whose first order comes after the period is not known yet at its end.
    HAVING cohort_month >= period_start
       AND min(first_purchase_at) < toDateTime64(period_end, 3, 'UTC')
),
cells AS (
    SELECT
        m.cohort_month AS cohort_month,
        dateDiff('month', m.cohort_month, toStartOfMonth(o.day)) AS k,
        uniqExact(o.customer_id) AS active
    FROM purchase_days AS o
    INNER JOIN cohort_members AS m ON m.customer_id = o.customer_id
    WHERE o.day >= period_start AND o.day < period_end AND k BETWEEN 0 AND 11
    GROUP BY cohort_month, k
)
SELECT
    cohort_month,
    -- Every member orders in its cohort month (its first order), so cell 0 is the size.
    sumIf(active, k = 0) AS customers,
    if(addMonths(cohort_month, 0) >= period_end, NULL, sumIf(active, k = 0) / customers)
        AS month_0,
    if(addMonths(cohort_month, 1) >= period_end, NULL, sumIf(active, k = 1) / customers)
        AS month_1,
    if(addMonths(cohort_month, 2) >= period_end, NULL, sumIf(active, k = 2) / customers)
        AS month_2,
    if(addMonths(cohort_month, 3) >= period_end, NULL, sumIf(active, k = 3) / customers)
        AS month_3,
    if(addMonths(cohort_month, 4) >= period_end, NULL, sumIf(active, k = 4) / customers)
        AS month_4,
    if(addMonths(cohort_month, 5) >= period_end, NULL, sumIf(active, k = 5) / customers)
        AS month_5,
    if(addMonths(cohort_month, 6) >= period_end, NULL, sumIf(active, k = 6) / customers)
        AS month_6,
    if(addMonths(cohort_month, 7) >= period_end, NULL, sumIf(active, k = 7) / customers)
        AS month_7,
    if(addMonths(cohort_month, 8) >= period_end, NULL, sumIf(active, k = 8) / customers)
        AS month_8,
    if(addMonths(cohort_month, 9) >= period_end, NULL, sumIf(active, k = 9) / customers)
        AS month_9,
    if(addMonths(cohort_month, 10) >= period_end, NULL, sumIf(active, k = 10) / customers)
        AS month_10,
    if(addMonths(cohort_month, 11) >= period_end, NULL, sumIf(active, k = 11) / customers)
        AS month_11
FROM cells
GROUP BY cohort_month
ORDER BY cohort_month
