-- letters: the dead letters matching the filters, newest first, whole (payload included),
--   each with the event id its payload names (when it is JSON text with a string
--   `event_id`) and whether an event with that id is now stored in a raw table (a replay
--   of it, or the same event sent again correctly): `retention dlq list|export|replay`.
-- Grain: one row per dead letter (topic, partition, offset), at most {max_letters}.
-- Parameters: {topic:String} ('' = every topic), {stage:String} ('' = every stage),
--   {reason:String} (a part of the reason, any case; '' = every reason),
--   {since:String} and {until:String} (failed_at in [since, until), ISO 8601),
--   {max_letters:UInt32}.
WITH letters AS (
    SELECT
        topic, partition, offset, key, stage, reason, payload, payload_encoding,
        payload_bytes, payload_sha256, payload_truncated, failed_at,
        if(payload_encoding = 'utf-8', JSONExtractString(payload, 'event_id'), '')
            AS event_id
    -- FINAL: a bad message re-delivered after a crash has the same (topic, partition, offset).
    FROM dead_letters FINAL
    WHERE ({topic:String} = '' OR topic = {topic:String})
      AND ({stage:String} = '' OR stage = {stage:String})
      AND positionCaseInsensitive(reason, {reason:String}) > 0
      AND failed_at >= parseDateTime64BestEffort({since:String}, 3, 'UTC')
      AND failed_at < parseDateTime64BestEffort({until:String}, 3, 'UTC')
    ORDER BY failed_at DESC, topic, partition, offset
    LIMIT {max_letters:UInt32}
),
named AS (
    SELECT DISTINCT event_id FROM letters WHERE event_id != ''
),
stored AS (
    -- Only the ids the letters name: the raw tables are not read whole.
    SELECT event_id FROM purchases WHERE event_id IN (SELECT event_id FROM named)
    UNION DISTINCT
    SELECT event_id FROM support_events WHERE event_id IN (SELECT event_id FROM named)
    UNION DISTINCT
    SELECT event_id FROM survey_responses WHERE event_id IN (SELECT event_id FROM named)
)
SELECT
    topic, partition, offset, key, stage, reason, failed_at, event_id,
    event_id != '' AND event_id IN (SELECT event_id FROM stored) AS stored,
    payload_encoding, payload_bytes, payload_sha256, payload_truncated, payload
FROM letters
ORDER BY failed_at DESC, topic, partition, offset
