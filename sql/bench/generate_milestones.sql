-- generate_milestones: a first_purchase milestone per buyer and a repeat_customer one per
--   repeat buyer (both at the first purchase day, for simplicity), as the worker stores
--   them, for `retention customer`'s milestones.
-- Parameters: none.
INSERT INTO milestones
SELECT concat(kind, '-', customer_id), customer_id, kind, NULL, at, at, true, '{}'
FROM (
    SELECT customer_id, toDateTime64(min(day), 3, 'UTC') AS at, count() AS days
    FROM purchase_days FINAL
    GROUP BY customer_id
)
ARRAY JOIN arrayFilter(k -> k = 'first_purchase' OR days > 1,
                       ['first_purchase', 'repeat_customer']) AS kind
SETTINGS max_partitions_per_insert_block = 0
