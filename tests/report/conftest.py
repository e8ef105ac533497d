"""Fixtures for report tests: a fresh, migrated database of its own in the session's chDB
folder (as the analytics tests have)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analytics.conftest import Db, open_db


@pytest.fixture
def db(chdb_dsn: str, tmp_path: Path) -> Iterator[Db]:
    opened = open_db(chdb_dsn, tmp_path)
    yield opened
    opened.close()
