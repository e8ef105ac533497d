"""One ClickHouse client per process, built from settings (chDB folder or server DSN)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from retention.settings import Settings
from sinks.sql_files import read_sql


def chdb_path(dsn: str) -> Path:
    """The folder of a `chdb://` DSN; `chdb:///./x` and `chdb:///../x` are relative to cwd."""
    path = urlsplit(dsn).path
    # clickhouse-connect reads chdb:///./var as the absolute /./var; users mean ./var.
    if path.startswith(("/./", "/../")):
        return Path(path[1:]).resolve()
    return Path(path).resolve()


def create_client(settings: Settings, *, read_only: bool = False) -> Client:
    """The writer's client (the sink, migrations, model fit), or with `read_only` the
    reader's: the read-only DSN when configured, in a read-only session, creating nothing."""
    ch = settings.clickhouse
    dsn = ch.dsn.get_secret_value()
    if read_only and ch.readonly_dsn is not None:
        dsn = ch.readonly_dsn.get_secret_value()
    database = ch.database_name
    session = {"readonly": 1} if read_only else {}
    if dsn.startswith("chdb://"):
        folder = chdb_path(dsn)
        folder.mkdir(parents=True, exist_ok=True)
        # The setting belongs to this client's own chDB session (each client has one).
        client = clickhouse_connect.get_client(interface="chdb", path=str(folder),
                                               settings=session)
    else:
        # A server applies the read-only user's profile itself (sql/roles/roles.sql).
        client = clickhouse_connect.get_client(
            dsn=dsn,
            client_name=ch.client_name,
            connect_timeout=ch.connect_timeout_s,
            database="default",
        )
    if database != "default":
        if not read_only:
            client.command(read_sql("queries/create_database.sql"),
                           parameters={"database": database})
        client.database = database
    return client
