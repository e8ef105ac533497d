-- nps_by_month: NPS per calendar month over each customer's latest answer in the month,
--   as the nps KPI counts it (`retention kpi nps --by month` gives the same numbers).
-- Grain: one row per month with an answer.
-- Parameters: {start:Date}, {end:Date}: the period [start, end), whole UTC days.
WITH monthly_answers AS (
    SELECT
        customer_id,
        toStartOfMonth(toDate(occurred_at)) AS month,
        argMax(score, (occurred_at, event_id)) AS score
    FROM survey_responses
    WHERE survey = 'nps'
      AND occurred_at >= toDateTime64({start:Date}, 3, 'UTC')
      AND occurred_at < toDateTime64({end:Date}, 3, 'UTC')
    GROUP BY customer_id, month
)
SELECT
    month,
    count() AS respondents,
    countIf(score >= 9) AS promoters,
    countIf(score <= 6) AS detractors,
    round(100 * (promoters - detractors) / respondents, 1) AS nps
FROM monthly_answers
GROUP BY month
ORDER BY month
