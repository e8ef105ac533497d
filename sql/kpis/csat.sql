-- csat = CSAT answers in the period with score 4 or 5 / CSAT answers in the period.
-- Grain: one row for the period.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
-- Every answer counts (a customer may answer several times); each event_id once.
-- NULL when there is no answer.
WITH
answers AS (
    SELECT customer_id, event_id, score
    FROM survey_responses
    WHERE survey = 'csat'
      AND occurred_at >= toDateTime64({start:Date}, 3, 'UTC')
      AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
),
distinct_answers AS (
    -- Grouped by the raw table's sort key: exact before and after merges.
    SELECT customer_id, event_id, any(score) AS score
    FROM answers
    GROUP BY customer_id, event_id
)
SELECT if(count() = 0, NULL, countIf(score >= 4) / count()) AS csat
FROM distinct_answers
