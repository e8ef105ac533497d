-- time_to_first_response: median and p90, in hours, of (first `replied` at or after the
--   ticket's `opened`) - `opened`, over tickets opened in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- A ticket is (customer_id, ticket_id); its `opened` time is its first `opened` event, and
-- it belongs to the period of that time. A reply after `end` still counts (the ticket was
-- opened in the period); tickets with no reply yet are left out (no duration to measure).
-- Quantiles interpolate linearly between order statistics (type 7, numpy's default).
-- Both NULL when no opened ticket has a reply.
WITH
openings AS (
    SELECT customer_id, ticket_id, occurred_at
    FROM support_events
    WHERE action = 'opened' AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
replies AS (
    SELECT customer_id, ticket_id, occurred_at
    FROM support_events
    WHERE action = 'replied' AND occurred_at >= toDateTime64({start:Date}, 3, 'UTC')
),
opened_in_period AS (
    -- min is idempotent: duplicate events cannot move it.
    SELECT customer_id, ticket_id, min(occurred_at) AS opened_at
    FROM openings
    GROUP BY customer_id, ticket_id
    HAVING opened_at >= toDateTime64({start:Date}, 3, 'UTC')
),
first_replies AS (
    SELECT o.customer_id, o.ticket_id, o.opened_at, min(r.occurred_at) AS replied_at
    FROM opened_in_period AS o
    INNER JOIN replies AS r ON r.customer_id = o.customer_id AND r.ticket_id = o.ticket_id
    WHERE r.occurred_at >= o.opened_at
    GROUP BY o.customer_id, o.ticket_id, o.opened_at
),
durations AS (
    SELECT
        (toUnixTimestamp64Milli(replied_at) - toUnixTimestamp64Milli(opened_at)) / 3600000
            AS hours
    FROM first_replies
)
SELECT
    if(count() = 0, NULL, quantileExactInclusive(0.5)(hours))
        AS time_to_first_response_median_hours,
    if(count() = 0, NULL, quantileExactInclusive(0.9)(hours))
        AS time_to_first_response_p90_hours
FROM durations
