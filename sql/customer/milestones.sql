-- customer/milestones: the milestones one customer reached (first purchase, repeat
--   customer, order counts, lifetime spend, anniversaries, promoter, win-back), each once
--   (milestone ids are deterministic; FINAL keeps one row per id).
-- Grain: one row per milestone, in the order they were reached.
-- Parameters: {customer_id:String}.
SELECT
    decided_at,
    kind,
    value,
    historical
FROM milestones FINAL
WHERE customer_id = {customer_id:String}
ORDER BY decided_at, kind
