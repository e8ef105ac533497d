-- customer_states: the latest customer state the worker wrote, as the JSON it keeps in its
--   table; the worker filters them by partition (the partition is inside the JSON).
-- Grain: one row per customer.
SELECT state
FROM customer_state FINAL
