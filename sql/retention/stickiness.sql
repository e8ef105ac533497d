-- retention/stickiness: how many customers were active in exactly n of the range's periods,
--   n = 1 .. the number of whole periods in the range, as PostHog's stickiness insight
--   counts them (posthog.com/docs/product-analytics/stickiness: "the exact number of"
--   periods, a customer in 3 of 7 days is only in the group of 3). "Active" = did the event
--   in the period. customers_at_least = active in n periods or more;
--   share_of_active = customers / customers active in at least one period of the range.
-- Periods are calendar days, ISO weeks (Monday) or months of local dates in the reporting
--   time zone {tz}. Only whole periods count: those starting on or after `start` and ending
--   on or before `end`.
-- Events: purchase = an order (refunds are not purchases); support = any support event,
--   support.<action> one action; survey = any answer, survey.nps / survey.csat one survey;
--   any = all of them. Distinct (customer, period) pairs are counted, so a re-delivered
--   event cannot count twice.
-- Grain: one row per n = 1 .. number of whole periods in [start, end), zeros included.
-- Parameters: {start:Date}, {end:Date}: local dates. {period:String}: day, week or month.
--   {event:String}: see above. {tz:String}: an IANA time zone, e.g. Europe/Berlin.
WITH
    toDate(dateTrunc({period:String}, {start:Date})) AS start_truncated,
    -- The first whole period starting on or after `start`, and the start of the period
    -- holding `end` (periods before it are over by `end`).
    if(start_truncated = {start:Date}, start_truncated,
       start_truncated + toInterval(1, {period:String})) AS first_period,
    toDate(dateTrunc({period:String}, {end:Date})) AS end_period,
    toDateTime64(first_period, 3, {tz:String}) AS observed_from,
    toDateTime64(end_period, 3, {tz:String}) AS observed_until,
    '^(any|purchase|support(\\.(opened|replied|resolved|reopened|escalated|closed))?'
        || '|survey(\\.(nps|csat))?)$' AS event_names,
    'an event is any, purchase, support[.<action>] or survey[.nps|.csat]' AS event_names_error,
    splitByChar('.', {event:String})[1] AS family,
    -- Checked before any table is read: a word outside the vocabulary fails with the
    -- reason instead of matching nothing.
    (SELECT throwIf({period:String} NOT IN ('day', 'week', 'month'),
                    'period is day, week or month')
          + throwIf(NOT match({event:String}, event_names), event_names_error)
          + throwIf(toTimeZone(toDateTime(0, 'UTC'), {tz:String}) != toDateTime(0, 'UTC'),
                    'tz is an IANA time zone')) AS invalid_parameters,
events AS (
    -- The event in the whole periods of the range. A branch whose event family is not asked
    -- for reads nothing (its WHERE is constant false).
    SELECT customer_id, occurred_at
    FROM purchases
    WHERE {event:String} IN ('any', 'purchase') AND kind = 'order'
      AND occurred_at >= observed_from AND occurred_at < observed_until
    UNION ALL
    SELECT customer_id, occurred_at
    FROM support_events
    WHERE family IN ('any', 'support')
      AND ({event:String} IN ('any', 'support')
           OR {event:String} = concat('support.', toString(action)))
      AND occurred_at >= observed_from AND occurred_at < observed_until
    UNION ALL
    SELECT customer_id, occurred_at
    FROM survey_responses
    WHERE family IN ('any', 'survey')
      AND ({event:String} IN ('any', 'survey')
           OR {event:String} = concat('survey.', toString(survey)))
      AND occurred_at >= observed_from AND occurred_at < observed_until
),
customers AS (
    -- One row per active customer: the number of distinct periods they were active in.
    SELECT customer_id,
           uniqExact(toDate(dateTrunc({period:String}, toDate(occurred_at, {tz:String}))))
               AS active_periods
    FROM events
    GROUP BY customer_id
),
counts AS (
    SELECT active_periods, count() AS customers
    FROM customers
    GROUP BY active_periods
),
grid AS (
    SELECT toUInt64(number + 1) AS active_periods
    FROM numbers(greatest(dateDiff({period:String}, first_period, end_period), 0))
)
SELECT
    g.active_periods AS active_periods,
    c.customers AS customers,
    sum(c.customers) OVER (ORDER BY g.active_periods DESC
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        AS customers_at_least,
    c.customers / nullIf(sum(c.customers) OVER (), 0) AS share_of_active
FROM grid AS g
LEFT JOIN counts AS c ON c.active_periods = g.active_periods
WHERE invalid_parameters = 0
ORDER BY active_periods
