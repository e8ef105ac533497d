-- table_sizes: rows in the active parts of each table a KPI reads (parts not merged away
--   yet included), in the current database.
-- Grain: one row per table.
SELECT table, sum(rows)
FROM system.parts
WHERE active AND database = currentDatabase()
  AND table IN ('purchases', 'purchase_days', 'customer_purchase_span',
                'support_events', 'survey_responses')
GROUP BY table
ORDER BY table
