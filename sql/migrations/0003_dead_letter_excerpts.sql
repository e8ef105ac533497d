-- 0003: dead letters say where a message was refused, and keep its payload once, bounded.
-- `stage`: size, parse, event_time, placement or processing (schemas/alerts.py DeadLetter).
-- `payload` is now the original value as text when it is valid UTF-8, else base64
-- (`payload_encoding`), and only a prefix when `payload_truncated` (a message over
-- RETENTION_KAFKA__MAX_MESSAGE_BYTES): `payload_bytes` and `payload_sha256` describe the
-- whole original, which stays readable at (topic, partition, offset) in the input topic.
-- Rows written before this migration get the defaults: an empty stage, and their payload
-- was the text with invalid bytes replaced, so its size and hash are left empty too.

ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS stage LowCardinality(String) DEFAULT '' AFTER key,
    ADD COLUMN IF NOT EXISTS payload_encoding LowCardinality(String) DEFAULT 'utf-8'
        AFTER payload,
    ADD COLUMN IF NOT EXISTS payload_bytes UInt64 DEFAULT 0 AFTER payload_encoding,
    ADD COLUMN IF NOT EXISTS payload_sha256 String DEFAULT '' AFTER payload_bytes,
    ADD COLUMN IF NOT EXISTS payload_truncated Bool DEFAULT false AFTER payload_sha256;
