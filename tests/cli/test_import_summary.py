"""The pieces of `retention import`'s summary that need no broker, and its refusal to
start without a worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.analytics.kpis import Period
from retention.cli import exit_codes
from retention.cli.import_summary import last_complete_year, outputs_added
from retention.cli.importer import import_command
from retention.embedded.broker import free_loopback_port
from retention.settings import get_settings

D = dt.date
UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("first", "last", "expected"), [
    # three years from mid-2021 to mid-2024: 2023 is the last whole one
    (at(2021, 5, 3), at(2024, 4, 30, 22), Period(D(2023, 1, 1), D(2024, 1, 1))),
    # the last event on 31 December closes that year
    (at(2021, 5, 3), at(2023, 12, 31, 23, 59), Period(D(2023, 1, 1), D(2024, 1, 1))),
    # ... one on 30 December does not
    (at(2021, 5, 3), at(2023, 12, 30, 12), Period(D(2022, 1, 1), D(2023, 1, 1))),
    # a first event on 1 January opens that year
    (at(2023, 1, 1, 8), at(2024, 2, 1), Period(D(2023, 1, 1), D(2024, 1, 1))),
    # less than one whole calendar year
    (at(2023, 1, 2), at(2024, 2, 1), None),
    (at(2023, 3, 1), at(2023, 11, 1), None),
    (None, None, None),
])
def test_last_complete_year(first: dt.datetime | None, last: dt.datetime | None,
                            expected: Period | None) -> None:
    """The KPI year is the last calendar year lying whole between the first and last
    event days; none when the history covers no whole year."""
    assert last_complete_year(first, last) == expected


def test_outputs_added_lists_every_kind_with_the_difference() -> None:
    """Outputs of this import = after - before per (topic, kind), zeros listed too."""
    before = {("churn-risk", "inactive_overdue"): (5, 2), ("milestones", "anniversary"): (9, 0)}
    after = {("churn-risk", "inactive_overdue"): (8, 2), ("milestones", "anniversary"): (9, 0),
             ("milestones", "win_back"): (0, 3)}
    added = outputs_added(before, after)
    assert added[("churn-risk", "inactive_overdue")] == (3, 0)
    assert added[("milestones", "win_back")] == (0, 3)
    assert added[("milestones", "anniversary")] == (0, 0)
    assert added[("churn-risk", "nps_detractor")] == (0, 0)
    assert len(added) == 8 + 7  # every rule and every milestone kind


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings pointing at a worker port nothing listens on, and no run file."""
    monkeypatch.setenv("RETENTION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RETENTION_WORKER__WEB_PORT", str(free_loopback_port()))
    monkeypatch.setenv("RETENTION_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_import_without_a_worker_exits_3_before_sending(nowhere: None, tmp_path: Path) -> None:
    """No worker answers: exit 3 with what to do, before anything is read or sent."""
    path = tmp_path / "h.jsonl"
    path.write_text("{}\n")
    result = CliRunner().invoke(import_command, [str(path)])
    assert result.exit_code == exit_codes.BACKEND
    assert "retention up" in result.stderr
    assert "publishing" not in result.stderr
