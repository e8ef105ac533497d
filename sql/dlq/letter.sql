-- letter: one dead letter, whole, by where its message is (`retention dlq show`), with the
--   event id its payload names and whether that event is now stored.
-- Grain: one row, or none.
-- Parameters: {topic:String}, {partition:UInt32}, {offset:UInt64}.
WITH letter AS (
    SELECT
        topic, partition, offset, key, stage, reason, payload, payload_encoding,
        payload_bytes, payload_sha256, payload_truncated, failed_at,
        if(payload_encoding = 'utf-8', JSONExtractString(payload, 'event_id'), '')
            AS event_id
    FROM dead_letters FINAL
    WHERE topic = {topic:String} AND partition = {partition:UInt32}
      AND offset = {offset:UInt64}
)
SELECT
    topic, partition, offset, key, stage, reason, failed_at, event_id,
    event_id != '' AND (
        event_id IN (SELECT event_id FROM purchases WHERE event_id IN (SELECT event_id FROM letter))
        OR event_id IN (SELECT event_id FROM support_events
                        WHERE event_id IN (SELECT event_id FROM letter))
        OR event_id IN (SELECT event_id FROM survey_responses
                        WHERE event_id IN (SELECT event_id FROM letter))
    ) AS stored,
    payload_encoding, payload_bytes, payload_sha256, payload_truncated, payload
FROM letter
