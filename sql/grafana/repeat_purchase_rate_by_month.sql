-- Panel "Repeat purchase rate by month" (dashboard retention-kpis).
-- repeat_purchase_rate of each calendar month (UTC), as sql/kpis/repeat_purchase_rate.sql
-- computes it for that month: buyers in the month with >= 2 orders in it / buyers in the
-- month. Months from the one containing the dashboard's start to the one containing its
-- end; that last month counts up to the end's day (month to date).
-- Grain: one row per month with a buyer: time (the month's first instant, UTC), rate.
-- Macros (grafana-clickhouse-datasource): $__fromTime, $__toTime.
WITH
buyer_months AS (
    -- FINAL unions a (customer, day)'s order sets across unmerged parts, so a re-delivered
    -- order counts once (migration 0002).
    SELECT toStartOfMonth(day) AS month, customer_id, sum(length(orders)) AS order_count
    FROM purchase_days FINAL
    WHERE day >= toStartOfMonth($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
    GROUP BY month, customer_id
)
SELECT
    toDateTime(month, 'UTC') AS time,
    countIf(order_count >= 2) / count() AS repeat_purchase_rate
FROM buyer_months
GROUP BY month
ORDER BY month
