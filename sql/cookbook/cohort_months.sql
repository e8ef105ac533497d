-- cohort_months: one first-purchase-month cohort, month by month: k = 0 is the cohort
--   month itself (100%), k = 1..11 the share of the cohort buying in month k after it.
-- Grain: one row per month k with a buyer.
-- Parameters: {cohort_month:Date}: the first day of the cohort's month.
WITH
cohort AS (
    SELECT customer_id
    FROM customer_purchase_span
    GROUP BY customer_id
    HAVING toStartOfMonth(toDate(min(first_purchase_at))) = {cohort_month:Date}
),
cohort_size AS (
    SELECT count() AS customers FROM cohort
),
active AS (
    SELECT DISTINCT customer_id, dateDiff('month', {cohort_month:Date}, toStartOfMonth(day)) AS k
    FROM purchase_days
    WHERE day >= {cohort_month:Date} AND day < addMonths({cohort_month:Date}, 12)
      AND customer_id IN (SELECT customer_id FROM cohort)
)
SELECT k, count() AS active_customers, round(count() / any(customers), 4) AS retention
FROM active, cohort_size
GROUP BY k
ORDER BY k
