"""Fixtures for the Grafana tests: the generated history in a chDB database of its own, and
a client for ClickHouse's parser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retention.settings import Settings
from sinks.client import create_client

from ..analytics.conftest import open_db
from .history import Loaded, load_history


@pytest.fixture(scope="session")
def loaded(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Two years of synthetic customers through the processor and the sink (~20 s), shared
    by every panel test: panels only read."""
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("grafana"))
    history = load_history(db)
    yield history
    db.close()


@pytest.fixture
def parser(chdb_dsn: str, tmp_path: Path) -> Iterator[Any]:
    """A chDB client on a database of its own, for EXPLAIN AST and formatQuery."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    client = create_client(Settings(clickhouse={"dsn": chdb_dsn, "database": database},
                                    data_dir=tmp_path))
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{database}`")
    client.close()
