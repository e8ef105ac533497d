"""Every retention insight (sql/retention/*.sql) equals the reference written from the
definitions, on random histories and the edge-case history, in several time zones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from retention.analytics.insights import (
    CohortQuery,
    PeriodRange,
    parse_brackets,
    run_cohorts,
    run_lifecycle,
    run_stickiness,
)

from ..conftest import Db, open_db
from ..histories import History, random_history
from .edge_history import edge_history
from .reference import InsightReference, mean_row

D = dt.date
# (start, end, period, tz): aligned and unaligned ranges, days, weeks and months, zones on
# both sides of UTC, with and without summer time, one with a half-hour offset.
COHORT_CASES: list[dict[str, Any]] = [
    dict(start=D(2024, 1, 1), end=D(2025, 1, 1), period="month", tz="UTC", intervals=12),
    dict(start=D(2023, 11, 15), end=D(2024, 9, 10), period="month", tz="Asia/Kolkata",
         intervals=6, mode="on_or_after"),
    dict(start=D(2024, 1, 1), end=D(2024, 7, 1), period="month", tz="America/Los_Angeles",
         intervals=4),
    dict(start=D(2024, 1, 1), end=D(2024, 7, 1), period="week", tz="America/Los_Angeles",
         intervals=8, cohort="recurring"),
    dict(start=D(2024, 1, 3), end=D(2024, 6, 15), period="week", tz="Europe/Berlin",
         intervals=10, mode="on_or_after", cohort="recurring"),
    dict(start=D(2024, 2, 1), end=D(2024, 4, 1), period="day", tz="UTC", intervals=30,
         cohort="recurring"),
    dict(start=D(2024, 1, 1), end=D(2024, 12, 1), period="month", tz="Asia/Tokyo",
         intervals=4, start_event="support.opened"),
    dict(start=D(2023, 6, 1), end=D(2024, 6, 1), period="month", tz="UTC", intervals=5,
         cohort="recurring", start_event="any", return_event="survey"),
    dict(start=D(2024, 1, 1), end=D(2025, 3, 1), period="month", tz="Pacific/Kiritimati",
         intervals=3, start_event="survey.nps", return_event="support",
         mode="on_or_after"),
    # Day brackets, weekly and monthly cohorts, first and recurring, both modes.
    dict(start=D(2024, 1, 1), end=D(2024, 9, 1), period="week", tz="UTC",
         brackets="1-7,8-30,31-90"),
    dict(start=D(2023, 10, 1), end=D(2025, 1, 1), period="month", tz="America/Los_Angeles",
         brackets="1,2-3,4-10,11-60", cohort="recurring", mode="on_or_after"),
    dict(start=D(2024, 1, 1), end=D(2024, 3, 1), period="day", tz="Asia/Tokyo",
         brackets="1-1,2-7,9-9", start_event="any", return_event="purchase"),
    dict(start=D(2024, 1, 1), end=D(2024, 12, 1), period="month", tz="Europe/Berlin",
         brackets="1-30,31-60", cohort="recurring", start_event="purchase",
         return_event="support.resolved"),
    # No whole period in the range; no event in the range.
    dict(start=D(2024, 1, 3), end=D(2024, 1, 20), period="month", tz="UTC", intervals=2),
    dict(start=D(2030, 1, 1), end=D(2031, 1, 1), period="month", tz="UTC", intervals=2),
]
ACTIVITY_CASES: list[dict[str, Any]] = [
    dict(start=D(2024, 1, 1), end=D(2025, 1, 1), period="month", tz="UTC", event="purchase"),
    dict(start=D(2023, 12, 20), end=D(2024, 6, 3), period="week", tz="America/Los_Angeles",
         event="purchase"),
    dict(start=D(2024, 2, 1), end=D(2024, 4, 1), period="day", tz="Asia/Kolkata",
         event="any"),
    dict(start=D(2023, 1, 1), end=D(2025, 1, 1), period="month", tz="Europe/Berlin",
         event="support"),
    dict(start=D(2024, 1, 1), end=D(2024, 10, 1), period="week", tz="UTC", event="survey.csat"),
    dict(start=D(2024, 1, 3), end=D(2024, 1, 20), period="month", tz="UTC", event="purchase"),
]


def _cohort_query(case: dict[str, Any]) -> CohortQuery:
    brackets = parse_brackets(case["brackets"]) if "brackets" in case else ()
    return CohortQuery(
        PeriodRange(case["start"], case["end"], case["period"], case["tz"]),
        cohort=case.get("cohort", "first"), intervals=case.get("intervals", 12),
        brackets=brackets, start_event=case.get("start_event", "purchase"),
        return_event=case.get("return_event", "purchase"), mode=case.get("mode", "on"))


def _reference_rows(ref: InsightReference, case: dict[str, Any]) -> list[dict[str, Any]]:
    query = _cohort_query(case)
    brackets = [(b.first_day, b.last_day) for b in query.brackets] or None
    return ref.cohort_rows(start=case["start"], end=case["end"], period=case["period"],
                           tz=case["tz"], cohort=query.cohort, start_event=query.start_event,
                           return_event=query.return_event, mode=query.mode,
                           intervals=None if brackets else query.intervals, brackets=brackets)


def assert_rows_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]],
                      context: str) -> None:
    """Same rows in the same order: counts and dates exactly, shares within 1e-12."""
    assert len(actual) == len(expected), context
    for got, want in zip(actual, expected, strict=True):
        assert set(got) == set(want), context
        for name, value in want.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-12), f"{context} {want} {name}"
            else:
                assert got[name] == value, f"{context} {want} {name}"


def _id(case: dict[str, Any]) -> str:
    return "-".join(str(v) for v in case.values())


@pytest.fixture(scope="module", params=["random-11", "random-22", "edges"])
def loaded(request: pytest.FixtureRequest, chdb_dsn: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Db, InsightReference]]:
    history: History = (edge_history() if request.param == "edges"
                        else random_history(int(request.param.split("-")[1]), customers=150))
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("insights"))
    history.insert(db.client)
    yield db, InsightReference(*history.frames())
    db.close()


@pytest.mark.parametrize("case", COHORT_CASES, ids=_id)
def test_cohort_matrix_matches_reference(loaded: tuple[Db, InsightReference],
                                         case: dict[str, Any]) -> None:
    """Each cohort row and cell of the SQL equals the reference: sizes and counts exactly."""
    db, ref = loaded
    query = _cohort_query(case)
    actual = db.runner.run(query.operation, query.parameters()).dicts()
    assert_rows_equal(actual, _reference_rows(ref, case), _id(case))


@pytest.mark.parametrize("case", COHORT_CASES[:5] + COHORT_CASES[9:11], ids=_id)
@pytest.mark.parametrize("basis", ["cohort", "previous"])
def test_mean_rows_match_reference(loaded: tuple[Db, InsightReference], case: dict[str, Any],
                                   basis: str) -> None:
    """The simple and the size-weighted mean rows equal the reference's, column by column."""
    db, ref = loaded
    table = run_cohorts(db.runner, _cohort_query(case))
    expected = _reference_rows(ref, case)
    column = "j" if "brackets" in case else "k"
    for weighted in (False, True):
        want = mean_row(expected, column, basis, weighted) or [None] * len(table.labels)
        got = table.mean(basis, weighted=weighted)  # type: ignore[arg-type]
        assert [g is None for g in got] == [w is None for w in want], _id(case)
        assert [g for g in got if g is not None] == pytest.approx(
            [w for w in want if w is not None], rel=1e-12), f"{_id(case)} {basis} {weighted}"


@pytest.mark.parametrize("case", ACTIVITY_CASES, ids=_id)
def test_lifecycle_matches_reference(loaded: tuple[Db, InsightReference],
                                     case: dict[str, Any]) -> None:
    """New, returning, resurrecting and dormant per period equal the reference."""
    db, ref = loaded
    periods = PeriodRange(case["start"], case["end"], case["period"], case["tz"])
    actual = [vars(p) | {"active": p.active}
              for p in run_lifecycle(db.runner, periods, case["event"])]
    assert_rows_equal(actual, ref.lifecycle(**case), _id(case))


@pytest.mark.parametrize("case", ACTIVITY_CASES, ids=_id)
def test_stickiness_matches_reference(loaded: tuple[Db, InsightReference],
                                      case: dict[str, Any]) -> None:
    """Customers by number of active periods equal the reference, zeros included."""
    db, ref = loaded
    periods = PeriodRange(case["start"], case["end"], case["period"], case["tz"])
    actual = [vars(s) for s in run_stickiness(db.runner, periods, case["event"])]
    assert_rows_equal(actual, ref.stickiness(**case), _id(case))


def test_the_histories_hold_what_the_cases_need(loaded: tuple[Db, InsightReference]) -> None:
    """Cohorts have members, some cells are empty and some customers sit in several
    recurring cohorts: the comparisons above are not comparisons of empty tables."""
    _, ref = loaded
    month = dict(start=D(2024, 1, 1), end=D(2025, 1, 1), period="month", tz="UTC",
                 start_event="purchase", return_event="purchase", mode="on")
    first = ref.cohort_rows(cohort="first", intervals=12, **month)
    recurring = ref.cohort_rows(cohort="recurring", intervals=12, **month)
    assert sum(r["cohort_size"] for r in first if r["k"] == 0) > 0
    assert any(r["returned"] == 0 for r in first)
    assert (sum(r["cohort_size"] for r in recurring if r["k"] == 0)
            > len({c for c, days in ref.days("purchase", "UTC").items()
                   if any(D(2024, 1, 1) <= d < D(2025, 1, 1) for d in days)}))
