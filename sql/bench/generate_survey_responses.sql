-- generate_survey_responses: one survey answer per customer-sized number, a third CSAT
--   (1-5), the rest NPS (0-10), on hashed instants of the history.
-- Parameters: {history_start:Date}, {history_days:UInt32}, {customers:UInt64}.
INSERT INTO survey_responses
SELECT
    concat('r', toString(number)),
    concat('c', toString(cityHash64(number, 15) % {customers:UInt64})),
    toDateTime64({history_start:Date}, 3, 'UTC')
        + toIntervalMillisecond(cityHash64(number, 16) % ({history_days:UInt32} * 86400000)),
    if(number % 3 = 0, 'csat', 'nps'),
    if(number % 3 = 0, 1 + cityHash64(number, 17) % 5, cityHash64(number, 17) % 11),
    NULL, NULL, NULL, 1, 0, 0, now64(3)
FROM numbers({customers:UInt64})
SETTINGS max_partitions_per_insert_block = 0
