#!/bin/bash
# ClickHouse image init script, mounted into /docker-entrypoint-initdb.d by
# docker-compose.yml: the image runs it once, when the data volume is empty, while the server
# listens on 127.0.0.1 only. It applies sql/roles/roles.sql (the writer and reader roles),
# then creates Grafana's read-only user (grafana_reader.sql) with CLICKHOUSE_READER_PASSWORD.
# It connects as CLICKHOUSE_USER, to whom compose gives SQL access management
# (CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1), the right to create roles and users.
# Re-runnable (roles IF NOT EXISTS, the user OR REPLACE): on a volume created before this
# script, run `docker compose exec clickhouse bash /docker-entrypoint-initdb.d/create-grafana-reader.sh`.
# RETENTION_INIT_DIR is where compose mounts the two SQL files.

# A subshell: the image may source this file into its entrypoint, whose shell options and
# variables must stay as they are; a failure still fails the entrypoint (set -e there).
(
    set -euo pipefail
    dir=${RETENTION_INIT_DIR:-/retention-init}
    : "${CLICKHOUSE_READER_PASSWORD:?is empty: docker-compose.yml gives it a default}"
    client=(clickhouse-client --host 127.0.0.1 --user "${CLICKHOUSE_USER:-default}"
            --password "${CLICKHOUSE_PASSWORD:-}" --multiquery)
    "${client[@]}" < "$dir/roles.sql"
    # The password as a single-quoted SQL string: backslashes and quotes escaped.
    password=${CLICKHOUSE_READER_PASSWORD//\\/\\\\}
    password=${password//\'/\\\'}
    sql=$(< "$dir/grafana_reader.sql")
    # Quoted replacement: bash 5.2 would otherwise read a `&` in the password as the match.
    "${client[@]}" <<< "${sql//@READER_PASSWORD@/"'$password'"}"
    echo "created ClickHouse user grafana_reader (role retention_reader, read-only)"
)
