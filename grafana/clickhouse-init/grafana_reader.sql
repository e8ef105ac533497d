-- The user Grafana's data source logs in as (grafana/provisioning/datasources/clickhouse.yaml),
-- created by create-grafana-reader.sh after sql/roles/roles.sql.
-- It holds the retention_reader role: SELECT on the database, under the retention_readonly
-- profile (readonly = 1, which the user cannot change). One setting is let through: the
-- plugin's client (clickhouse-go) sends max_execution_time with every query to enforce the
-- data source's query timeout, and readonly = 1 refuses that unless the setting is
-- CHANGEABLE_IN_READONLY (the plugin's docs, "Configure a read-only user"); MAX bounds what
-- a dashboard may ask for.
-- @READER_PASSWORD@ stands for the quoted password; the script substitutes it.
CREATE USER OR REPLACE grafana_reader IDENTIFIED WITH sha256_password BY @READER_PASSWORD@
    SETTINGS PROFILE 'retention_readonly', max_execution_time MAX 600 CHANGEABLE_IN_READONLY;
GRANT retention_reader TO grafana_reader;
SET DEFAULT ROLE retention_reader TO grafana_reader;
