-- customer/recent_events: one customer's latest events of every kind, each event once
--   (re-deliveries share an event_id): orders and refunds, support ticket actions, survey
--   answers, with a one-line description.
-- Grain: one row per event, newest first, at most `limit`.
-- Parameters: {customer_id:String}, {limit:UInt32}.
WITH events AS (
    SELECT event_id, occurred_at, 'purchase' AS type,
           concat(toString(kind), ' ', order_id, ': ', toString(round(amount, 2)), ' ',
                  currency) AS description
    FROM purchases
    WHERE customer_id = {customer_id:String}
    UNION ALL
    SELECT event_id, occurred_at, 'support',
           concat('ticket ', ticket_id, ' ', toString(action), ' (', toString(channel), ')')
    FROM support_events
    WHERE customer_id = {customer_id:String}
    UNION ALL
    SELECT event_id, occurred_at, 'survey',
           concat(toString(survey), ' ', toString(score))
    FROM survey_responses
    WHERE customer_id = {customer_id:String}
)
SELECT
    occurred_at,
    any(type) AS type,
    any(description) AS description
FROM events
GROUP BY event_id, occurred_at
ORDER BY occurred_at DESC, event_id DESC
LIMIT {limit:UInt32}
