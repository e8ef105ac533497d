-- raw_customer_purchase_span: customer_purchase_span's columns computed from the raw
--   purchases, one row per order; the baseline in place of the pre-aggregate.
SELECT customer_id, occurred_at AS first_purchase_at, occurred_at AS last_purchase_at
FROM purchases FINAL WHERE kind = 'order'
