"""Fixtures for analytics tests: a fresh, migrated database per test (or per module) in the
session's chDB folder, and comparison helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.settings import Settings
from sinks.reader import ClientRunner


@dataclass
class Db:
    settings: Settings
    runner: ClientRunner

    @property
    def client(self) -> Any:
        return self.runner.client

    def close(self) -> None:
        self.client.command(f"DROP DATABASE IF EXISTS `{self.settings.clickhouse.database}`")
        self.runner.close()


def open_db(chdb_dsn: str, data_dir: Path, **overrides: Any) -> Db:
    """A database of its own (migrated by ClientRunner), so tests never see each other."""
    settings = Settings(
        clickhouse={"dsn": chdb_dsn, "database": f"t_{uuid.uuid4().hex[:12]}"},
        data_dir=data_dir, **overrides,
    )
    return Db(settings, ClientRunner(settings))


@pytest.fixture
def make_db(chdb_dsn: str, tmp_path: Path) -> Iterator[Callable[..., Db]]:
    opened: list[Db] = []

    def make(**overrides: Any) -> Db:
        db = open_db(chdb_dsn, tmp_path, **overrides)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


def assert_outputs_equal(actual: dict[str, Any], expected: dict[str, Any],
                         context: str = "") -> None:
    """Same keys; None where undefined; numbers equal within 1e-9 (relative or absolute)."""
    assert set(actual) == set(expected), context
    for name, want in expected.items():
        got = actual[name]
        if want is None:
            assert got is None, f"{context} {name}: expected None, got {got}"
        else:
            assert got is not None, f"{context} {name}: expected {want}, got None"
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{context} {name}"


def assert_matrix_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]],
                        context: str = "") -> None:
    assert [r["cohort_month"] for r in actual] == [r["cohort_month"] for r in expected], context
    for got, want in zip(actual, expected, strict=True):
        # Cohort sizes are counts: exactly equal.
        assert got["customers"] == want["customers"], f"{context} {want['cohort_month']}"
        cells = {k: v for k, v in want.items() if k.startswith("month_")}
        assert_outputs_equal({k: got[k] for k in cells}, cells,
                             f"{context} {want['cohort_month']}")


# The customer tests' shop: a fixture module that itself builds on open_db above.
from .customer_shop import shop  # noqa: E402, F401
