-- reasons: dead letters matching the filters counted by (stage, reason, topic), most
--   frequent first, with how many of them name an event that is now stored (replayed, or
--   sent again correctly), and when the reason was first and last seen.
-- Grain: one row per (stage, reason, topic), at most 200.
-- Parameters: {topic:String} ('' = every topic), {stage:String} ('' = every stage),
--   {reason:String} (a part of the reason, any case; '' = every reason),
--   {since:String} and {until:String} (failed_at in [since, until), ISO 8601).
WITH letters AS (
    SELECT
        topic, stage, reason, failed_at,
        if(payload_encoding = 'utf-8', JSONExtractString(payload, 'event_id'), '')
            AS event_id
    -- FINAL: a bad message re-delivered after a crash has the same (topic, partition, offset).
    FROM dead_letters FINAL
    WHERE ({topic:String} = '' OR topic = {topic:String})
      AND ({stage:String} = '' OR stage = {stage:String})
      AND positionCaseInsensitive(reason, {reason:String}) > 0
      AND failed_at >= parseDateTime64BestEffort({since:String}, 3, 'UTC')
      AND failed_at < parseDateTime64BestEffort({until:String}, 3, 'UTC')
),
named AS (
    SELECT DISTINCT event_id FROM letters WHERE event_id != ''
),
stored AS (
    SELECT event_id FROM purchases WHERE event_id IN (SELECT event_id FROM named)
    UNION DISTINCT
    SELECT event_id FROM support_events WHERE event_id IN (SELECT event_id FROM named)
    UNION DISTINCT
    SELECT event_id FROM survey_responses WHERE event_id IN (SELECT event_id FROM named)
)
SELECT
    stage,
    reason,
    topic,
    count() AS letters,
    countIf(event_id != '' AND event_id IN (SELECT event_id FROM stored)) AS stored,
    min(failed_at) AS first_failed_at,
    max(failed_at) AS last_failed_at
FROM letters
GROUP BY stage, reason, topic
ORDER BY letters DESC, stage, reason, topic
LIMIT 200
