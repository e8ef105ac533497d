-- raw_purchase_days: purchase_days' columns computed from the raw purchases, one row per
--   order; the baseline a KPI runs on in place of the pre-aggregate.
SELECT customer_id, toDate(occurred_at) AS day, [(event_id, amount)] AS orders
FROM purchases FINAL WHERE kind = 'order'
