"""Session fixtures shared by every test package."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's one embedded chDB folder: chDB opens a single folder per process, so
    every test uses this DSN and isolates itself in a database of its own."""
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"
