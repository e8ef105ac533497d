-- time_to_resolution: median and p90, in hours, of (first `resolved`) - (first `opened`),
--   over tickets resolved in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- A ticket is (customer_id, ticket_id). It is "resolved in the period" when its first
-- `resolved` event is (as in first_contact_resolution_rate.sql); a reopened ticket's later
-- resolutions do not move it. Tickets with no `opened` event, or whose first resolution
-- precedes their opening (producer clock skew), are left out: no duration to measure.
-- Quantiles interpolate linearly between order statistics (type 7, numpy's default).
-- Both NULL when no such ticket.
WITH
resolutions AS (
    SELECT customer_id, ticket_id, occurred_at
    FROM support_events
    -- A first resolution before `end` is the first of those before `end`.
    WHERE action = 'resolved' AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
openings AS (
    SELECT customer_id, ticket_id, occurred_at
    FROM support_events
    WHERE action = 'opened' AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
resolved_in_period AS (
    SELECT customer_id, ticket_id, min(occurred_at) AS resolved_at
    FROM resolutions
    GROUP BY customer_id, ticket_id
    HAVING resolved_at >= toDateTime64({start:Date}, 3, 'UTC')
),
first_openings AS (
    SELECT customer_id, ticket_id, min(occurred_at) AS opened_at
    FROM openings
    GROUP BY customer_id, ticket_id
),
durations AS (
    SELECT
        (toUnixTimestamp64Milli(r.resolved_at) - toUnixTimestamp64Milli(o.opened_at)) / 3600000
            AS hours
    FROM resolved_in_period AS r
    INNER JOIN first_openings AS o
        ON o.customer_id = r.customer_id AND o.ticket_id = r.ticket_id
    WHERE o.opened_at <= r.resolved_at
)
SELECT
    if(count() = 0, NULL, quantileExactInclusive(0.5)(hours))
        AS time_to_resolution_median_hours,
    if(count() = 0, NULL, quantileExactInclusive(0.9)(hours))
        AS time_to_resolution_p90_hours
FROM durations
