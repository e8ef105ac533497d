-- migration_ledger: the table recording which sql/migrations files are applied, with the
--   checksum each had then (an applied file must never change).
-- Not a migration itself: the runner reads it before it knows what to apply.
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
