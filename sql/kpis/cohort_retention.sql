-- cohort_retention: cohort = month of a customer's first order; cell (cohort, k) = share of
--   the cohort's customers with an order in the k-th month after the cohort month, k = 0..11
--   (k = 0 is the cohort month itself, so it is 1 by construction).
-- Grain: one row per cohort month with at least one customer: cohort_month, customers,
--   month_0 .. month_11.
-- Parameters: {start:Date}, {end:Date}: cohorts are the months whose first day is in
--   [start, end); orders are observed up to `end`. A cell whose month starts on or after
--   `end` is NULL (not observed yet); the month that contains `end` is observed up to `end`.
--   Pass month-aligned dates, e.g. 2024-03-01 .. 2025-03-01 for the March 2024 cohort's
--   full first year (the later cohorts come with it, partly observed).
WITH
spans AS (
    SELECT customer_id, first_purchase_at
    FROM customer_purchase_span
),
order_days AS (
    SELECT customer_id, day
    FROM purchase_days
    WHERE day >= {start:Date} AND day < {end:Date}
),
cohort_members AS (
    SELECT customer_id, toStartOfMonth(toDate(min(first_purchase_at))) AS cohort_month
    FROM spans
    GROUP BY customer_id
    -- A customer whose first order comes after `end` is not known yet at `end`.
    HAVING cohort_month >= {start:Date} AND cohort_month < {end:Date}
       AND min(first_purchase_at) < toDateTime64({end:Date}, 3, 'UTC')
),
cells AS (
    -- Distinct customers per (cohort, k): one join, no per-customer month list first.
    SELECT m.cohort_month AS cohort_month,
           dateDiff('month', m.cohort_month, toStartOfMonth(o.day)) AS k,
           uniqExact(o.customer_id) AS active
    FROM order_days AS o
    INNER JOIN cohort_members AS m ON m.customer_id = o.customer_id
    WHERE k BETWEEN 0 AND 11
    GROUP BY cohort_month, k
)
SELECT
    cohort_month,
    -- Every member orders in its cohort month (its first order), so cell 0 is the size.
    sumIf(active, k = 0) AS customers,
    if(addMonths(cohort_month, 0) >= {end:Date}, NULL, sumIf(active, k = 0) / customers)
        AS month_0,
    if(addMonths(cohort_month, 1) >= {end:Date}, NULL, sumIf(active, k = 1) / customers)
        AS month_1,
    if(addMonths(cohort_month, 2) >= {end:Date}, NULL, sumIf(active, k = 2) / customers)
        AS month_2,
    if(addMonths(cohort_month, 3) >= {end:Date}, NULL, sumIf(active, k = 3) / customers)
        AS month_3,
    if(addMonths(cohort_month, 4) >= {end:Date}, NULL, sumIf(active, k = 4) / customers)
        AS month_4,
    if(addMonths(cohort_month, 5) >= {end:Date}, NULL, sumIf(active, k = 5) / customers)
        AS month_5,
    if(addMonths(cohort_month, 6) >= {end:Date}, NULL, sumIf(active, k = 6) / customers)
        AS month_6,
    if(addMonths(cohort_month, 7) >= {end:Date}, NULL, sumIf(active, k = 7) / customers)
        AS month_7,
    if(addMonths(cohort_month, 8) >= {end:Date}, NULL, sumIf(active, k = 8) / customers)
        AS month_8,
    if(addMonths(cohort_month, 9) >= {end:Date}, NULL, sumIf(active, k = 9) / customers)
        AS month_9,
    if(addMonths(cohort_month, 10) >= {end:Date}, NULL, sumIf(active, k = 10) / customers)
        AS month_10,
    if(addMonths(cohort_month, 11) >= {end:Date}, NULL, sumIf(active, k = 11) / customers)
        AS month_11
FROM cells
GROUP BY cohort_month
ORDER BY cohort_month
