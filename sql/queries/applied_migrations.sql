-- applied_migrations: every migration applied so far and its file's checksum then.
-- Grain: one row per applied version.
SELECT version, checksum
FROM schema_migrations FINAL
