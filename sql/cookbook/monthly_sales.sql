-- monthly_sales: orders, buyers, revenue and average order value per calendar month,
--   each event once (refunds are not orders).
-- Grain: one row per month with an order.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
SELECT
    toStartOfMonth(day) AS month,
    sum(length(orders)) AS order_count,
    uniqExact(customer_id) AS buyers,
    round(sum(arraySum(o -> o.2, orders)), 2) AS revenue,
    round(revenue / order_count, 2) AS average_order_value
FROM purchase_days FINAL
WHERE day >= {start:Date} AND day < {end:Date}
GROUP BY month
ORDER BY month
