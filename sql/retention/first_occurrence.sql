-- retention/first_occurrence: first-time retention. A customer's cohort is the period of
--   their first-ever start event; cell (cohort, k) counts the cohort's customers with a
--   return event in period k after it ("on"), or in period k or any later one observed
--   ("on_or_after"). k = 0 is the cohort period itself: the whole cohort.
--   share_of_cohort = returned / cohort_size; share_of_previous = returned(k) / returned(k-1).
-- Definitions followed:
--   * PostHog retention insight, "First time": the cohort is the customers who did the start
--     event for the first time in that period; interval 0 is the cohort (100%); a return
--     counts in the calendar period it falls in (posthog.com/docs/product-analytics/retention;
--     PostHog/posthog retention_query_runner.py). Mixpanel calls this "birth" retention.
--   * "on" = Amplitude's "Return On" (N-day): returned in exactly interval k. "on_or_after" =
--     Amplitude's "Return On or After" (unbounded): returned in interval k or any later one
--     (amplitude.com/docs/faq/retention-analysis); PostHog's cumulative option computes it
--     the same way, from the last interval each customer returned in.
-- Periods are calendar days, ISO weeks (Monday) or months of local dates in the reporting
--   time zone {tz}. Only whole periods count: a cohort must start on or after `start` and
--   end on or before `end`; a cell is NULL until its interval is over (it ends after `end`).
-- Events: purchase = an order (refunds are not purchases); support = any support event,
--   support.<action> one action; survey = any answer, survey.nps / survey.csat one survey;
--   any = all of them. Distinct (customer, period) pairs are counted, so a re-delivered
--   event cannot count twice.
-- Grain: one row per (cohort with at least one customer, k = 0..intervals).
-- Parameters: {start:Date}, {end:Date}: cohorts are the whole periods in [start, end), local
--   dates; events are observed before `end`. {period:String}: day, week or month.
--   {intervals:UInt16}: the last k. {start_event:String}, {return_event:String}: see above.
--   {mode:String}: on or on_or_after. {tz:String}: an IANA time zone, e.g. Europe/Berlin.
WITH
    toDate(dateTrunc({period:String}, {start:Date})) AS start_truncated,
    -- The first whole period starting on or after `start`, and the start of the period
    -- holding `end` (periods before it are over by `end`).
    if(start_truncated = {start:Date}, start_truncated,
       start_truncated + toInterval(1, {period:String})) AS first_period,
    toDate(dateTrunc({period:String}, {end:Date})) AS end_period,
    toDateTime64(first_period, 3, {tz:String}) AS observed_from,
    toDateTime64({end:Date}, 3, {tz:String}) AS observed_until,
    '^(any|purchase|support(\\.(opened|replied|resolved|reopened|escalated|closed))?'
        || '|survey(\\.(nps|csat))?)$' AS event_names,
    'an event is any, purchase, support[.<action>] or survey[.nps|.csat]' AS event_names_error,
    splitByChar('.', {start_event:String})[1] AS start_family,
    splitByChar('.', {return_event:String})[1] AS return_family,
    -- Checked before any table is read: a word outside the vocabulary fails with the
    -- reason instead of matching nothing.
    (SELECT throwIf({period:String} NOT IN ('day', 'week', 'month'),
                    'period is day, week or month')
          + throwIf({mode:String} NOT IN ('on', 'on_or_after'), 'mode is on or on_or_after')
          + throwIf(NOT (match({start_event:String}, event_names)
                         AND match({return_event:String}, event_names)), event_names_error)
          + throwIf(toTimeZone(toDateTime(0, 'UTC'), {tz:String}) != toDateTime(0, 'UTC'),
                    'tz is an IANA time zone')) AS invalid_parameters,
customer_events AS (
    -- Every row that can make a customer's cohort or a return, tagged: the first-ever start
    -- event is looked for in all history (purchases: the span pre-aggregate, read FINAL so
    -- each customer's first order is one row whether or not parts have merged), returns
    -- only in the observed window. When purchases alone start cohorts, customers whose
    -- first order falls outside the cohorts' window are left out here, before the GROUP BY
    -- (with other start events in play, an earlier purchase may still be the first one).
    -- A branch whose event family is not asked for reads nothing (its WHERE is constant
    -- false).
    SELECT customer_id, first_purchase_at AS at, true AS is_start, false AS is_return
    FROM customer_purchase_span FINAL
    WHERE {start_event:String} = 'purchase'
      AND first_purchase_at >= observed_from AND first_purchase_at < observed_until
    UNION ALL
    -- Any event: every span row (the GROUP BY takes each customer's smallest).
    SELECT customer_id, first_purchase_at, true, false
    FROM customer_purchase_span
    WHERE {start_event:String} = 'any'
    UNION ALL
    SELECT customer_id, occurred_at, false, true
    FROM purchases
    WHERE {return_event:String} IN ('any', 'purchase') AND kind = 'order'
      AND occurred_at >= observed_from AND occurred_at < observed_until
    UNION ALL
    SELECT customer_id, occurred_at,
           {start_event:String} IN ('any', 'support')
               OR {start_event:String} = concat('support.', toString(action)) AS is_start,
           ({return_event:String} IN ('any', 'support')
               OR {return_event:String} = concat('support.', toString(action)))
               AND occurred_at >= observed_from AND occurred_at < observed_until AS is_return
    FROM support_events
    WHERE (start_family IN ('any', 'support') OR return_family IN ('any', 'support'))
      AND (is_start OR is_return)
    UNION ALL
    SELECT customer_id, occurred_at,
           {start_event:String} IN ('any', 'survey')
               OR {start_event:String} = concat('survey.', toString(survey)) AS is_start,
           ({return_event:String} IN ('any', 'survey')
               OR {return_event:String} = concat('survey.', toString(survey)))
               AND occurred_at >= observed_from AND occurred_at < observed_until AS is_return
    FROM survey_responses
    WHERE (start_family IN ('any', 'survey') OR return_family IN ('any', 'survey'))
      AND (is_start OR is_return)
),
customers AS (
    -- One pass, one row per customer: the first-ever start event, and the periods with a
    -- return event (distinct, so a re-delivered event cannot count twice).
    SELECT customer_id,
           minIf(at, is_start) AS first_at,
           groupUniqArrayIf(toDate(dateTrunc({period:String}, toDate(at, {tz:String}))),
                            is_return) AS return_periods
    FROM customer_events
    GROUP BY customer_id
    HAVING countIf(is_start) > 0
),
cohort_members AS (
    -- Per member: the cohort, and k of every later period with a return event.
    SELECT toDate(dateTrunc({period:String}, toDate(first_at, {tz:String}))) AS cohort,
           arrayFilter(k -> k > 0, arrayMap(p -> dateDiff({period:String}, cohort, p),
                                            return_periods)) AS returned_k
    FROM customers
    WHERE cohort >= first_period AND cohort < end_period
),
cohorts AS (
    -- Per cohort and k, the members counted in cell k, one ARRAY JOIN row each: k = 0 every
    -- member (the cohort's size); "on", k of each interval they returned in; "on_or_after",
    -- k = 1 .. their last return's interval.
    SELECT cohort, k, count() AS members
    FROM cohort_members
    ARRAY JOIN arrayPushFront(
        if({mode:String} = 'on', arrayFilter(k -> k <= {intervals:UInt16}, returned_k),
           range(1, least(arrayMax(returned_k), {intervals:UInt16}) + 1)), 0) AS k
    GROUP BY cohort, k
),
cells AS (
    -- k = 0 .. intervals, 0 where nobody is counted.
    SELECT cohort,
           arrayMap(k -> members_of[indexOf(k_of, k)],
                    range(toUInt32({intervals:UInt16}) + 1)) AS counts,
           counts[1] AS cohort_size
    FROM (SELECT cohort, groupArray(k) AS k_of, groupArray(members) AS members_of
          FROM cohorts
          GROUP BY cohort)
)
SELECT
    cohort,
    cohort_size,
    k,
    cohort + toInterval(k, {period:String}) AS interval_start,
    -- NULL until the interval is over: cells are whole intervals only.
    if(interval_start + toInterval(1, {period:String}) > {end:Date}, NULL, counts[k + 1])
        AS returned,
    returned / cohort_size AS share_of_cohort,
    if(k = 0 OR counts[k] = 0, NULL, returned / counts[k]) AS share_of_previous
FROM cells
ARRAY JOIN range(length(counts)) AS k
WHERE invalid_parameters = 0
ORDER BY cohort, k
