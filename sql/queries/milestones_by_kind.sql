-- milestones_by_kind: milestones reached so far, by kind.
-- Grain: one row per kind reached at least once.
SELECT kind, count()
FROM milestones FINAL
GROUP BY kind
