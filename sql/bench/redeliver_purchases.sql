-- redeliver_purchases: 0.5% of the purchase events delivered again (same event, a later
--   Kafka offset and ingested_at), as after a worker crash before its commit.
INSERT INTO purchases
SELECT event_id, customer_id, occurred_at, order_id, amount, currency, items, channel,
       kind, source, schema_version, kafka_partition, kafka_offset + 1, now64(3)
FROM purchases WHERE cityHash64(event_id) % 200 = 0
SETTINGS max_partitions_per_insert_block = 0
