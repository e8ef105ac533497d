-- generate_support_events: the benchmark's tickets, each opened, replied to and resolved
--   (three events) on hashed days and delays; 10% never get a reply, 20% are not resolved.
-- Parameters: {history_start:Date}, {history_days:UInt32}, {customers:UInt64},
--   {tickets:UInt64}.
INSERT INTO support_events
WITH
    intDiv(number, 3) AS ticket, number % 3 AS step,
    cityHash64(ticket, 7) % {history_days:UInt32} AS opened_day,
    toDateTime64({history_start:Date}, 3, 'UTC') + toIntervalDay(opened_day)
        + toIntervalMillisecond(cityHash64(ticket, 8) % 86400000) AS opened_at
SELECT
    concat('s', toString(number)),
    concat('c', toString(cityHash64(ticket, 9) % {customers:UInt64})),
    opened_at + toIntervalMillisecond(
        multiIf(step = 0, 0, step = 1, cityHash64(ticket, 10) % 172800000,
                172800000 + cityHash64(ticket, 11) % 604800000)),
    concat('t', toString(ticket)),
    multiIf(step = 0, 'opened', step = 1, 'replied', 'resolved'),
    'email', NULL, if(step = 2, cityHash64(ticket, 12) % 3 > 0, NULL), NULL, 1, 0, 0, now64(3)
FROM numbers({tickets:UInt64} * 3)
WHERE NOT (step = 1 AND cityHash64(ticket, 13) % 10 = 0)
  AND NOT (step = 2 AND cityHash64(ticket, 14) % 5 = 0)
SETTINGS max_partitions_per_insert_block = 0
