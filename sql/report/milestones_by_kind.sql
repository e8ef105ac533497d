-- milestones_by_kind: milestones decided in the period, by kind.
-- Grain: one row per kind reached at least once in the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
SELECT kind, count() AS milestones, uniqExact(customer_id) AS customers
FROM milestones FINAL
WHERE decided_at >= toDateTime64({start:Date}, 3, 'UTC')
  AND decided_at < toDateTime64({end:Date}, 3, 'UTC')
GROUP BY kind
ORDER BY milestones DESC, kind
