"""The insight files refuse values outside their vocabulary with a reason, whoever calls
them by name (the CLI checks first; a script calling the worker's API may not)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from retention.analytics.insights import CohortQuery, PeriodRange, parse_brackets
from sinks.reader import QueryError

from ..conftest import Db, open_db

YEAR = PeriodRange(dt.date(2024, 1, 1), dt.date(2025, 1, 1), "month", "UTC")
FIRST = CohortQuery(YEAR)
BRACKETS = CohortQuery(YEAR, brackets=parse_brackets("1-7,8-30"))
ACTIVITY = {**YEAR.parameters(), "event": "purchase"}


@pytest.fixture(scope="module")
def db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """An empty database: the checks run before any table is read."""
    opened = open_db(chdb_dsn, tmp_path_factory.mktemp("guards"))
    yield opened
    opened.close()


@pytest.mark.parametrize(("name", "values", "reason"), [
    (FIRST.operation, {**FIRST.parameters(), "mode": "after"}, "mode is on or on_or_after"),
    (FIRST.operation, {**FIRST.parameters(), "start_event": "purchases"}, "an event is"),
    ("retention/recurring", {**FIRST.parameters(), "return_event": "support.lost"},
     "an event is"),
    (FIRST.operation, {**FIRST.parameters(), "period": "year"}, "period is day, week or"),
    (FIRST.operation, {**FIRST.parameters(), "tz": "Mars/Olympus"}, "time zone"),
    (BRACKETS.operation, {**BRACKETS.parameters(), "brackets": "8-30,1-7"}, "brackets are"),
    (BRACKETS.operation, {**BRACKETS.parameters(), "brackets": "0-7"}, "brackets are"),
    (BRACKETS.operation, {**BRACKETS.parameters(), "brackets": "1-7;8-30"}, "brackets are"),
    (BRACKETS.operation, {**BRACKETS.parameters(), "cohort": "second"}, "cohort is"),
    ("retention/lifecycle", {**ACTIVITY, "event": "purchases"}, "an event is"),
    ("retention/stickiness", {**ACTIVITY, "event": "order"}, "an event is"),
])
def test_values_outside_the_vocabulary_fail_with_the_reason(db: Db, name: str,
                                                            values: dict[str, Any],
                                                            reason: str) -> None:
    """A wrong word never answers an empty matrix as if nobody came back."""
    with pytest.raises(QueryError, match=reason):
        db.runner.run(name, values)
