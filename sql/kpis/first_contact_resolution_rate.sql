-- first_contact_resolution_rate = tickets resolved in the period that were resolved on first
--   contact / tickets resolved in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- A ticket is (customer_id, ticket_id). It is "resolved in the period" when its first
-- `resolved` event is; "on first contact" is that event's first_contact_resolution flag
-- (the producer's verdict; NULL = not known to be first contact, so not counted). Later
-- resolutions of a reopened ticket do not count again. Ties on time: the smaller event_id.
-- NULL when no ticket was resolved.
WITH
resolutions AS (
    SELECT customer_id, ticket_id, event_id, occurred_at, first_contact_resolution
    FROM support_events
    -- A first resolution before `end` is the first of those before `end`.
    WHERE action = 'resolved' AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
first_resolutions AS (
    -- min / argMin are idempotent: a duplicate event cannot move them.
    SELECT
        customer_id,
        ticket_id,
        min(occurred_at) AS resolved_at,
        argMin(coalesce(first_contact_resolution, false), (occurred_at, event_id)) AS fcr
    FROM resolutions
    GROUP BY customer_id, ticket_id
),
in_period AS (
    SELECT fcr
    FROM first_resolutions
    WHERE resolved_at >= toDateTime64({start:Date}, 3, 'UTC')
)
SELECT if(count() = 0, NULL, countIf(fcr) / count()) AS first_contact_resolution_rate
FROM in_period
