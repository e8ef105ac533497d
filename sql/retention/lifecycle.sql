-- retention/lifecycle: customers per period by lifecycle status, as PostHog's lifecycle
--   insight defines it (posthog.com/docs/product-analytics/lifecycle; PostHog/posthog
--   lifecycle_query_runner.py), with "active" = did the event in the period:
--     new           active in the period, and it is their first-ever active period;
--     returning     active in the period and in the one before;
--     resurrecting  active in the period, not in the one before, active at some time before;
--     dormant       active in the period before, not in this one (PostHog plots it below
--                   zero; here it is a count).
--   PostHog's "new" is the period a person was created in; a customer has no creation event
--   here, so their first-ever active period (over all history) stands for it.
-- Periods are calendar days, ISO weeks (Monday) or months of local dates in the reporting
--   time zone {tz}. Only whole periods are reported: those starting on or after `start` and
--   ending on or before `end`; the period before the first one is read for its statuses.
-- Events: purchase = an order (refunds are not purchases); support = any support event,
--   support.<action> one action; survey = any answer, survey.nps / survey.csat one survey;
--   any = all of them. Distinct (customer, period) pairs are counted, so a re-delivered
--   event cannot count twice.
-- Grain: one row per whole period in [start, end), periods without customers included.
-- Parameters: {start:Date}, {end:Date}: local dates. {period:String}: day, week or month.
--   {event:String}: see above. {tz:String}: an IANA time zone, e.g. Europe/Berlin.
WITH
    toDate(dateTrunc({period:String}, {start:Date})) AS start_truncated,
    -- The first whole period starting on or after `start`, and the start of the period
    -- holding `end` (periods before it are over by `end`).
    if(start_truncated = {start:Date}, start_truncated,
       start_truncated + toInterval(1, {period:String})) AS first_period,
    toDate(dateTrunc({period:String}, {end:Date})) AS end_period,
    -- The period before the first reported one decides its returning and dormant customers.
    toDateTime64(first_period - toInterval(1, {period:String}), 3, {tz:String}) AS observed_from,
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
customer_events AS (
    -- Rows that can be a customer's first-ever event (is_first: looked for in all history;
    -- purchases: the span pre-aggregate, read FINAL so each customer's first order is one
    -- row whether or not parts have merged), and activity in the observed window
    -- (is_active). When purchases alone count, a customer whose first order is before the
    -- window can be new in none of its periods: their span row is left out here, before
    -- the GROUP BY. A branch whose event family is not asked for reads nothing (its WHERE
    -- is constant false).
    SELECT customer_id, first_purchase_at AS at, true AS is_first, false AS is_active
    FROM customer_purchase_span FINAL
    WHERE {event:String} = 'purchase'
      AND first_purchase_at >= observed_from AND first_purchase_at < observed_until
    UNION ALL
    -- Any event: every span row (the GROUP BY takes each customer's smallest).
    SELECT customer_id, first_purchase_at, true, false
    FROM customer_purchase_span
    WHERE {event:String} = 'any'
    UNION ALL
    SELECT customer_id, occurred_at, false, true
    FROM purchases
    WHERE {event:String} IN ('any', 'purchase') AND kind = 'order'
      AND occurred_at >= observed_from AND occurred_at < observed_until
    UNION ALL
    SELECT customer_id, occurred_at, true,
           occurred_at >= observed_from AND occurred_at < observed_until
    FROM support_events
    WHERE family IN ('any', 'support')
      AND ({event:String} IN ('any', 'support')
           OR {event:String} = concat('support.', toString(action)))
    UNION ALL
    SELECT customer_id, occurred_at, true,
           occurred_at >= observed_from AND occurred_at < observed_until
    FROM survey_responses
    WHERE family IN ('any', 'survey')
      AND ({event:String} IN ('any', 'survey')
           OR {event:String} = concat('survey.', toString(survey)))
),
customers AS (
    -- One pass, one row per customer active in the window: whether their first-ever event
    -- is in the window and its period, and their active periods, sorted.
    SELECT customer_id,
           countIf(is_first) > 0 AS first_seen,
           toDate(dateTrunc({period:String}, toDate(minIf(at, is_first), {tz:String})))
               AS first_active,
           arraySort(groupUniqArrayIf(
               toDate(dateTrunc({period:String}, toDate(at, {tz:String}))), is_active))
               AS active
    FROM customer_events
    GROUP BY customer_id
    HAVING notEmpty(active)
),
activity AS (
    -- One row per (customer, active period): whether it is their first-ever active period
    -- (new) and whether the period before was active too (returning). Neighbours come from
    -- the array shifted by one, not from indexing the array inside a lambda (which copies
    -- it once per element).
    SELECT period_start,
           first_seen AND period_start = first_active AS is_new,
           i > 1 AND previous = period_start - toInterval(1, {period:String}) AS after_active
    FROM customers
    ARRAY JOIN active AS period_start,
               arrayPushFront(arrayPopBack(active), active[1]) AS previous,
               arrayEnumerate(active) AS i
),
counts AS (
    -- Per period: active customers, new ones, returning ones. The rest of the active ones
    -- are resurrecting (active before, not in the period before: neither new nor
    -- returning); the dormant ones are those active in the period before minus the
    -- returning ones (active in both).
    SELECT period_start, count() AS active, countIf(is_new) AS new,
           countIf(after_active) AS returning
    FROM activity
    GROUP BY period_start
),
periods AS (
    -- The reported periods and the one before the first (for its dormant customers).
    SELECT first_period + toInterval(toInt64(number) - 1, {period:String}) AS period_start
    FROM numbers(greatest(dateDiff({period:String}, first_period, end_period), 0) + 1)
),
by_period AS (
    SELECT p.period_start AS period_start, c.active AS active, c.new AS new,
           c.returning AS returning,
           lagInFrame(c.active) OVER (ORDER BY p.period_start
                                      ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
               AS active_before
    FROM periods AS p
    LEFT JOIN counts AS c ON c.period_start = p.period_start
)
SELECT
    period_start,
    new,
    returning,
    active - new - returning AS resurrecting,
    active_before - returning AS dormant,
    active
FROM by_period
WHERE invalid_parameters = 0 AND period_start >= first_period
ORDER BY period_start
