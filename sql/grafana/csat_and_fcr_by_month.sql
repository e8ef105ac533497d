-- Panel "CSAT and first contact resolution by month" (dashboard retention-kpis).
-- Two KPIs of each calendar month (UTC), as sql/kpis/csat.sql and
-- sql/kpis/first_contact_resolution_rate.sql compute them for that month:
--   csat: CSAT answers in the month scoring 4 or 5 / CSAT answers in the month;
--   first_contact_resolution_rate: tickets whose first `resolved` event is in the month and
--     says first_contact_resolution / tickets whose first `resolved` event is in the month.
-- Months from the one containing the dashboard's start to the one containing its end
-- (month to date).
-- Grain: one row per (month, kpi) with a denominator, long format (time, kpi, value):
--   the plugin turns it into one series per kpi.
-- Macros (grafana-clickhouse-datasource): $__fromTime, $__toTime.
WITH
    toDateTime64(toStartOfMonth($__fromTime, 'UTC'), 3, 'UTC') AS range_start,
    toDateTime64(toDate($__toTime, 'UTC') + 1, 3, 'UTC') AS range_end,
csat_answers AS (
    -- Grouped by the raw table's sort key: each event once, before and after merges.
    SELECT toStartOfMonth(any(occurred_at), 'UTC') AS month, any(score) AS score
    FROM survey_responses
    WHERE survey = 'csat' AND occurred_at >= range_start AND occurred_at < range_end
    GROUP BY customer_id, event_id
),
first_resolutions AS (
    -- A ticket's first resolution over all history: a reopened ticket counts once, in the
    -- month it was first resolved. min / argMin are idempotent under duplicates.
    SELECT
        min(occurred_at) AS resolved_at,
        argMin(coalesce(first_contact_resolution, false), (occurred_at, event_id)) AS fcr
    FROM support_events
    WHERE action = 'resolved' AND occurred_at < range_end
    GROUP BY customer_id, ticket_id
    HAVING resolved_at >= range_start
)
SELECT time, kpi, value
FROM (
    SELECT toDateTime(month, 'UTC') AS time, 'csat' AS kpi, countIf(score >= 4) / count() AS value
    FROM csat_answers
    GROUP BY month
    UNION ALL
    SELECT
        toDateTime(toStartOfMonth(resolved_at, 'UTC'), 'UTC') AS time,
        'first_contact_resolution_rate' AS kpi,
        countIf(fcr) / count() AS value
    FROM first_resolutions
    GROUP BY time
)
ORDER BY time, kpi
