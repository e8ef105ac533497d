-- retention/brackets: retention in custom day brackets, e.g. days 1-7 / 8-30 / 31-90. Each
--   member's day 0 is the local day of their start event: cohort "first", the first-ever
--   one (their cohort is its period); cohort "recurring", the first one in each period with
--   a start event (one cohort per such period). Cell (cohort, j) counts the members with a
--   return event on a day in bracket j ("on"), or on the first day of bracket j or any later
--   day observed ("on_or_after"). j = 0 is day 0, the cohort itself: the whole cohort.
--   share_of_cohort = returned / cohort_size; share_of_previous = returned(j) / returned(j-1).
-- Definitions followed:
--   * Custom brackets as in Amplitude ("Bracket Retention") and PostHog
--     (retentionCustomBrackets: bracket j covers the days after bracket j-1, the cohort
--     column first; PostHog/posthog retention_query_runner.py), "on" and "on_or_after" as
--     Amplitude's "Return On" / "Return On or After" (amplitude.com/docs/faq/
--     retention-analysis). PostHog counts bracket days from the cohort's period start;
--     here they count from each member's own start day, so weekly or monthly cohorts get
--     day brackets ("30-day retention, week by week"). With period day the two agree.
--   * Cohorts "first" and "recurring" as PostHog's "First time" and "Recurring"
--     (posthog.com/docs/product-analytics/retention).
-- Days and periods are local dates in the reporting time zone {tz}; weeks start on Monday.
--   Only whole periods count: a cohort must start on or after `start` and end on or before
--   `end`; cell j is NULL until bracket j is over for every member (period end + last day of
--   the bracket <= `end`).
-- Events: purchase = an order (refunds are not purchases); support = any support event,
--   support.<action> one action; survey = any answer, survey.nps / survey.csat one survey;
--   any = all of them. Distinct (customer, day) pairs are counted, so a re-delivered event
--   cannot count twice.
-- Grain: one row per (cohort with at least one customer, j = 0..number of brackets).
-- Parameters: {start:Date}, {end:Date}: cohorts are the whole periods in [start, end), local
--   dates; events are observed before `end`. {period:String}: day, week or month.
--   {brackets:String}: increasing day ranges from day 1, "first-last" or one day, comma
--   separated, e.g. '1-7,8-30,31-90'. {cohort:String}: first or recurring.
--   {start_event:String}, {return_event:String}: see above. {mode:String}: on or
--   on_or_after. {tz:String}: an IANA time zone, e.g. Europe/Berlin.
WITH
    toDate(dateTrunc({period:String}, {start:Date})) AS start_truncated,
    -- The first whole period starting on or after `start`, and the start of the period
    -- holding `end` (periods before it are over by `end`).
    if(start_truncated = {start:Date}, start_truncated,
       start_truncated + toInterval(1, {period:String})) AS first_period,
    toDate(dateTrunc({period:String}, {end:Date})) AS end_period,
    toDateTime64(first_period, 3, {tz:String}) AS observed_from,
    toDateTime64({end:Date}, 3, {tz:String}) AS observed_until,
    -- (first day, last day) of each bracket.
    arrayMap(b -> (toUInt32(splitByChar('-', b)[1]), toUInt32(splitByChar('-', b)[-1])),
             splitByChar(',', {brackets:String})) AS bracket_days,
    -- The bracket of each day 0 .. the last bracket's last day (0: none), looked up per
    -- return day instead of testing every bracket.
    arrayMap(d -> arrayFirstIndex(b -> d BETWEEN b.1 AND b.2, bracket_days),
             range(arrayMax(arrayMap(b -> b.2, bracket_days)) + 1)) AS bracket_of_day,
    '^(any|purchase|support(\\.(opened|replied|resolved|reopened|escalated|closed))?'
        || '|survey(\\.(nps|csat))?)$' AS event_names,
    'an event is any, purchase, support[.<action>] or survey[.nps|.csat]' AS event_names_error,
    splitByChar('.', {start_event:String})[1] AS start_family,
    splitByChar('.', {return_event:String})[1] AS return_family,
    {cohort:String} = 'first' AS first_time,
    -- Checked before any table is read: a word outside the vocabulary fails with the
    -- reason instead of matching nothing.
    (SELECT throwIf({period:String} NOT IN ('day', 'week', 'month'),
                    'period is day, week or month')
          + throwIf({mode:String} NOT IN ('on', 'on_or_after'), 'mode is on or on_or_after')
          + throwIf({cohort:String} NOT IN ('first', 'recurring'), 'cohort is first or recurring')
          + throwIf(NOT (match({start_event:String}, event_names)
                         AND match({return_event:String}, event_names)), event_names_error)
          + throwIf(NOT match({brackets:String}, '^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$')
                    OR NOT arrayAll((b, i) -> b.1 >= 1 AND b.2 >= b.1
                                           AND (i = 1 OR b.1 > bracket_days[i - 1].2),
                                 bracket_days, arrayEnumerate(bracket_days)),
                    'brackets are increasing day ranges from day 1, e.g. 1-7,8-30,31-90')
          + throwIf(toTimeZone(toDateTime(0, 'UTC'), {tz:String}) != toDateTime(0, 'UTC'),
                    'tz is an IANA time zone')) AS invalid_parameters,
customer_events AS (
    -- Start and return events, tagged: a first-time cohort looks for the first-ever start
    -- event in all history (purchases: the span pre-aggregate, read FINAL so each
    -- customer's first order is one row whether or not parts have merged), everything else
    -- is read in the observed window. When purchases alone start cohorts, customers whose
    -- first order falls outside the cohorts' window are left out here, before the GROUP BY
    -- (with other start events in play, an earlier purchase may still be the first one).
    -- A branch whose event family is not asked for reads nothing (its WHERE is constant
    -- false).
    SELECT customer_id, first_purchase_at AS at, true AS is_start, false AS is_return
    FROM customer_purchase_span FINAL
    WHERE first_time AND {start_event:String} = 'purchase'
      AND first_purchase_at >= observed_from AND first_purchase_at < observed_until
    UNION ALL
    -- Any event: every span row (the GROUP BY takes each customer's smallest).
    SELECT customer_id, first_purchase_at, true, false
    FROM customer_purchase_span
    WHERE first_time AND {start_event:String} = 'any'
    UNION ALL
    SELECT customer_id, occurred_at,
           NOT first_time AND {start_event:String} IN ('any', 'purchase') AS is_start,
           {return_event:String} IN ('any', 'purchase') AS is_return
    FROM purchases
    WHERE (is_start OR is_return) AND kind = 'order'
      AND occurred_at >= observed_from AND occurred_at < observed_until
    UNION ALL
    SELECT customer_id, occurred_at,
           ({start_event:String} IN ('any', 'support')
               OR {start_event:String} = concat('support.', toString(action)))
               AND (first_time OR occurred_at >= observed_from AND occurred_at < observed_until)
               AS is_start,
           ({return_event:String} IN ('any', 'support')
               OR {return_event:String} = concat('support.', toString(action)))
               AND occurred_at >= observed_from AND occurred_at < observed_until AS is_return
    FROM support_events
    WHERE (start_family IN ('any', 'support') OR return_family IN ('any', 'support'))
      AND (is_start OR is_return)
    UNION ALL
    SELECT customer_id, occurred_at,
           ({start_event:String} IN ('any', 'survey')
               OR {start_event:String} = concat('survey.', toString(survey)))
               AND (first_time OR occurred_at >= observed_from AND occurred_at < observed_until)
               AS is_start,
           ({return_event:String} IN ('any', 'survey')
               OR {return_event:String} = concat('survey.', toString(survey)))
               AND occurred_at >= observed_from AND occurred_at < observed_until AS is_return
    FROM survey_responses
    WHERE (start_family IN ('any', 'survey') OR return_family IN ('any', 'survey'))
      AND (is_start OR is_return)
),
customers AS (
    -- One pass, one row per customer: the days with a start event, sorted, and the days
    -- with a return event. A day twice (a re-delivered event, two orders) changes nothing
    -- below: day 0 is the first day of its period, a return counts once per bracket.
    SELECT customer_id,
           arraySort(groupArrayIf(toDate(at, {tz:String}), is_start)) AS start_days,
           groupArrayIf(toDate(at, {tz:String}), is_return) AS return_days
    FROM customer_events
    GROUP BY customer_id
    HAVING notEmpty(start_days)
),
cohort_members AS (
    -- One row per (customer, cohort) with the member's day 0: the first-ever start day, or
    -- the first start day of each period; and the days after it with a return event.
    SELECT toDate(dateTrunc({period:String}, day_0)) AS cohort,
           arrayFilter(d -> d > 0, arrayMap(r -> r - day_0, return_days))
               AS returned_days
    FROM customers
    -- The day before each start day comes from the array shifted by one, not from
    -- indexing the array inside the lambda (which copies it once per element).
    ARRAY JOIN if(first_time, [start_days[1]],
                  arrayFilter((d, before, i) -> i = 1
                                  OR dateTrunc({period:String}, d)
                                      != dateTrunc({period:String}, before),
                              start_days, arrayPushFront(arrayPopBack(start_days), start_days[1]),
                              arrayEnumerate(start_days))) AS day_0
    WHERE cohort >= first_period AND cohort < end_period
),
cohorts AS (
    -- Per cohort and bracket j, the members counted in cell j, one ARRAY JOIN row each:
    -- j = 0 every member (the cohort's size); "on", the brackets they returned in;
    -- "on_or_after", the brackets whose first day is on or before their last return.
    SELECT cohort, j, count() AS members
    FROM (
        SELECT cohort,
               if({mode:String} = 'on',
                  arrayDistinct(arrayFilter(j -> j > 0, arrayMap(
                      d -> bracket_of_day[d + 1],
                      arrayFilter(d -> d <= length(bracket_of_day) - 1, returned_days)))),
                  arrayFilter((j, last) -> bracket_days[j].1 <= last,
                              range(1, length(bracket_days) + 1),
                              arrayWithConstant(length(bracket_days), arrayMax(returned_days))))
                   AS counted_j
        FROM cohort_members
    )
    ARRAY JOIN arrayPushFront(counted_j, 0) AS j
    GROUP BY cohort, j
),
cells AS (
    -- j = 0 .. the number of brackets, 0 where nobody is counted.
    SELECT cohort,
           arrayMap(j -> members_of[indexOf(j_of, j)], range(length(bracket_days) + 1))
               AS counts,
           counts[1] AS cohort_size
    FROM (SELECT cohort, groupArray(j) AS j_of, groupArray(members) AS members_of
          FROM cohorts
          GROUP BY cohort)
)
SELECT
    cohort,
    cohort_size,
    j,
    if(j = 0, 0, bracket_days[j].1) AS first_day,
    if(j = 0, 0, bracket_days[j].2) AS last_day,
    -- NULL until the bracket is over for the cohort's last possible member.
    if(cohort + toInterval(1, {period:String}) + toIntervalDay(last_day) > {end:Date}, NULL,
       counts[j + 1]) AS returned,
    returned / cohort_size AS share_of_cohort,
    if(j = 0 OR counts[j] = 0, NULL, returned / counts[j]) AS share_of_previous
FROM cells
ARRAY JOIN range(length(counts)) AS j
WHERE invalid_parameters = 0
ORDER BY cohort, j
