-- stream_tail: one small batch re-delivering 0.2% of December's purchase events, so the
--   newest partitions hold unmerged parts with duplicate keys, as on a running pipeline.
-- Parameters: {batch:UInt8}, which batch (a different 0.2% each).
INSERT INTO purchases
SELECT event_id, customer_id, occurred_at, order_id, amount, currency, items,
       channel, kind, source, schema_version, kafka_partition, kafka_offset + 2,
       now64(3)
FROM purchases
WHERE occurred_at >= toDateTime64('2024-12-01 00:00:00', 3, 'UTC')
  AND cityHash64(event_id, {batch:UInt8}) % 500 = 0
