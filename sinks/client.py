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


def create_client(settings: Settings) -> Client:
    ch = settings.clickhouse
    dsn = ch.dsn.get_secret_value()
    database = ch.database_name
    if ch.is_embedded:
        folder = chdb_path(dsn)
        folder.mkdir(parents=True, exist_ok=True)
        client = clickhouse_connect.get_client(interface="chdb", path=str(folder))
    else:
        client = clickhouse_connect.get_client(
            dsn=dsn,
            client_name=ch.client_name,
            connect_timeout=ch.connect_timeout_s,
            database="default",
        )
    if database != "default":
        client.command(read_sql("queries/create_database.sql"), parameters={"database": database})
        client.database = database
    return client
