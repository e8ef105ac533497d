-- Panel "Net Promoter Score by month" (dashboard retention-kpis).
-- nps of each calendar month (UTC), as sql/kpis/nps.sql computes it for that month:
-- % promoters (9-10) - % detractors (0-6) over each customer's latest NPS answer in the
-- month ("latest": greatest occurred_at, then greatest event_id). Months from the one
-- containing the dashboard's start to the one containing its end (month to date).
-- Grain: one row per month with an answer: time (the month's first instant, UTC), nps.
-- Macros (grafana-clickhouse-datasource): $__fromTime, $__toTime.
WITH
latest AS (
    -- A duplicate event is the same answer: it cannot change argMax's pick.
    SELECT
        toStartOfMonth(occurred_at, 'UTC') AS month,
        customer_id,
        argMax(score, (occurred_at, event_id)) AS score
    FROM survey_responses
    WHERE survey = 'nps'
      AND occurred_at >= toDateTime64(toStartOfMonth($__fromTime, 'UTC'), 3, 'UTC')
      AND occurred_at < toDateTime64(toDate($__toTime, 'UTC') + 1, 3, 'UTC')
    GROUP BY month, customer_id
)
SELECT
    toDateTime(month, 'UTC') AS time,
    100 * (countIf(score >= 9) - countIf(score <= 6)) / count() AS nps
FROM latest
GROUP BY month
ORDER BY month
