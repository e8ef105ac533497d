-- roles: who may do what in the pipeline's database on a ClickHouse server (not chDB, which
--   has no access control). Apply once as an administrator, for the database `retention`
--   as written here, or for the configured database with
--   `retention db roles | clickhouse-client --multiquery`.
-- retention_writer: the worker's sink, `retention db migrate` and `retention model fit`:
--   read, insert, and create the tables and materialized views of sql/migrations.
--   Nothing is ever dropped, altered or truncated. (ON CLUSTER migrations also need
--   `GRANT CLUSTER ON *.*`.)
-- retention_reader: ops teams, dashboards and `retention kpi`/`query`/`model show`/
--   `customer`/`at-risk` (RETENTION_CLICKHOUSE__READONLY_DSN): SELECT only, under a
--   readonly = 1 profile that the user cannot change, which also refuses file(), url() and
--   remote(). SELECT on the database covers the predictive profiles (`customer_profile`,
--   the latest model's, a view over `customer_profiles`: a view is read with the reader's
--   own SELECT on the tables under it).
-- Users are the administrator's to create, each with its own password, for example:
--   CREATE USER retention_sink IDENTIFIED WITH sha256_password BY '...'
--       DEFAULT ROLE retention_writer;
--   GRANT retention_writer TO retention_sink;
--   CREATE USER ops_dashboard IDENTIFIED WITH sha256_password BY '...'
--       SETTINGS PROFILE 'retention_readonly' DEFAULT ROLE retention_reader;
--   GRANT retention_reader TO ops_dashboard;
CREATE SETTINGS PROFILE IF NOT EXISTS retention_readonly SETTINGS readonly = 1 CONST;
CREATE ROLE IF NOT EXISTS retention_writer;
CREATE ROLE IF NOT EXISTS retention_reader SETTINGS PROFILE 'retention_readonly';
GRANT SELECT, INSERT, CREATE TABLE, CREATE VIEW, CREATE DATABASE ON retention.* TO retention_writer;
GRANT SELECT ON retention.* TO retention_reader;
