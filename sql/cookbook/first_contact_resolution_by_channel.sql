-- first_contact_resolution_by_channel: tickets resolved in the period (by their first
--   resolution, as first_contact_resolution_rate counts them), by that resolution's channel.
-- Grain: one row per channel.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
WITH first_resolutions AS (
    SELECT
        customer_id,
        ticket_id,
        min(occurred_at) AS resolved_at,
        argMin(channel, (occurred_at, event_id)) AS channel,
        argMin(coalesce(first_contact_resolution, false), (occurred_at, event_id)) AS fcr
    FROM support_events
    WHERE action = 'resolved' AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
    GROUP BY customer_id, ticket_id
    HAVING resolved_at >= toDateTime64({start:Date}, 3, 'UTC')
)
SELECT channel, count() AS tickets_resolved, countIf(fcr) AS first_contact,
       round(first_contact / tickets_resolved, 4) AS fcr_rate
FROM first_resolutions
GROUP BY channel
ORDER BY tickets_resolved DESC
