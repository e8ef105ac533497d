"""Fixtures for sink tests: a client on a database of its own in the session's chDB folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from retention.settings import Settings
from sinks.client import create_client


@pytest.fixture
def fresh_client(chdb_dsn: str, tmp_path) -> Iterator[Any]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    client = create_client(Settings(clickhouse={"dsn": chdb_dsn, "database": database},
                                    data_dir=tmp_path))
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()
