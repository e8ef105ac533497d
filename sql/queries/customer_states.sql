-- customer_states: the latest customer state the worker wrote, as the JSON it keeps in its
--   table, for the partitions asked for (the partition is inside the JSON): where a worker
--   whose table is empty carries on.
-- Grain: one row per customer.
-- Parameters: {partitions:Array(Int64)}.
SELECT customer_id, state, JSONExtractInt(state, 'partition') AS partition
FROM customer_state FINAL
WHERE JSONHas(state, 'partition') AND has({partitions:Array(Int64)}, partition)
