-- nps = % promoters - % detractors over each customer's latest NPS answer in the period;
--   promoters score 9-10, detractors 0-6, passives 7-8. Range -100..100.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- "Latest" = greatest occurred_at, ties broken by the greater event_id; a duplicate event
-- is the same answer, so it cannot change the pick. NULL when nobody answered.
WITH
answers AS (
    SELECT customer_id, event_id, occurred_at, score
    FROM survey_responses
    WHERE survey = 'nps'
      AND occurred_at >= toDateTime64({start:Date}, 3, 'UTC')
      AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
latest AS (
    SELECT customer_id, argMax(score, (occurred_at, event_id)) AS score
    FROM answers
    GROUP BY customer_id
)
SELECT
    if(count() = 0, NULL, 100 * (countIf(score >= 9) - countIf(score <= 6)) / count()) AS nps
FROM latest
