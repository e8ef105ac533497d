"""The edge cases of the retention insights, counted by hand on one or two customers each:
time zones, week and bracket edges, a customer in several recurring cohorts, empty and
unfinished intervals, refunds, re-deliveries, another start event, dormancy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
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
from ..histories import History
from .edge_history import edge_history

D = dt.date


@pytest.fixture(scope="module")
def load(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Callable[..., Db]]:
    """A database holding only the given customers of the edge-case history (one per set
    of customers, shared by the module's tests)."""
    opened: dict[tuple[str, ...], Db] = {}
    folder: Path = tmp_path_factory.mktemp("edges")

    def make(*customers: str) -> Db:
        if customers not in opened:
            full = edge_history()
            keep = History()
            keep.purchases = [r for r in full.purchases if r[1] in customers]
            keep.support = [r for r in full.support if r[1] in customers]
            keep.surveys = [r for r in full.surveys if r[1] in customers]
            keep.redelivered = {t: [r for r in rows if r[1] in customers]
                                for t, rows in full.redelivered.items()}
            opened[customers] = open_db(chdb_dsn, folder)
            keep.insert(opened[customers].client)
        return opened[customers]

    yield make
    for db in opened.values():
        db.close()


def matrix(db: Db, start: dt.date, end: dt.date, period: str, tz: str = "UTC",
           **options: Any) -> dict[str, tuple[int, list[int | None]]]:
    """{cohort: (size, counts per column)}."""
    if "brackets" in options:
        options["brackets"] = parse_brackets(options["brackets"])
    table = run_cohorts(db.runner, CohortQuery(PeriodRange(start, end, period, tz), **options))
    return {r.cohort.isoformat(): (r.size, list(r.counts)) for r in table.rows}


@pytest.mark.parametrize(("tz", "expected"), [
    ("UTC", {"2024-01-01": (1, [1, 0, 1])}),                 # 31 Jan, back 1 Mar
    ("America/Los_Angeles", {"2024-01-01": (1, [1, 1, 0])}),  # 31 Jan, back 29 Feb
    ("Asia/Tokyo", {"2024-02-01": (1, [1, 1, 0])}),           # 1 Feb, back 1 Mar
])
def test_periods_are_cut_in_the_reporting_time_zone(load, tz: str, expected) -> None:
    """An order at 23:30 UTC on 31 January is February's in Tokyo; its return at 00:30 UTC
    on 1 March is February's in Los Angeles."""
    db = load(load, "tz_edge")
    assert matrix(db, D(2024, 1, 1), D(2024, 6, 1), "month", tz, intervals=2) == expected


def test_recurring_puts_a_customer_in_every_cohort_they_started_in(load) -> None:
    """Orders in January, March and April: three recurring cohorts, one first-time cohort;
    February is an empty interval (0), June is not over on 1 June (None)."""
    db = load(load, "two_cohorts")
    assert matrix(db, D(2024, 1, 1), D(2024, 6, 1), "month", cohort="recurring",
                  intervals=3) == {
        "2024-01-01": (1, [1, 0, 1, 1]),
        "2024-03-01": (1, [1, 1, 0, None]),
        "2024-04-01": (1, [1, 0, None, None]),
    }
    assert matrix(db, D(2024, 1, 1), D(2024, 6, 1), "month", intervals=3) == {
        "2024-01-01": (1, [1, 0, 1, 1])}
    # On or after: back in March and April, so counted in every month up to April.
    assert matrix(db, D(2024, 1, 1), D(2024, 6, 1), "month", intervals=3,
                  mode="on_or_after") == {"2024-01-01": (1, [1, 1, 1, 1])}


@pytest.mark.parametrize(("tz", "expected"), [
    ("UTC", [3, 2, 1]),         # day_7 and day_7_utc_8_tokyo on day 7, day_8 on day 8
    ("Asia/Tokyo", [3, 1, 2]),  # 20:00 UTC on the 12th is day 8 in Tokyo
])
def test_brackets_include_both_their_edge_days(load, tz: str, expected) -> None:
    """Day 7 is in 1-7, day 8 in 8-30, counted in the reporting zone's days."""
    db = load(load, "day_7", "day_8", "day_7_utc_8_tokyo")
    assert matrix(db, D(2024, 2, 5), D(2024, 4, 1), "week", tz,
                  brackets="1-7,8-30") == {"2024-02-05": (3, expected)}
    # A bracket is shown once it is over for the cohort's last possible member: the week
    # ends on 12 February, so 8-30 needs `end` >= 13 March.
    assert matrix(db, D(2024, 2, 5), D(2024, 3, 12), "week", tz,
                  brackets="1-7,8-30") == {"2024-02-05": (3, [*expected[:2], None])}


def test_a_week_starts_on_monday(load) -> None:
    """The last millisecond of Sunday 7 January is in the week of 1 January; the next order,
    at midnight, is in the next week."""
    db = load(load, "week_edge")
    assert matrix(db, D(2024, 1, 1), D(2024, 2, 1), "week", intervals=2) == {
        "2024-01-01": (1, [1, 1, 0])}


def test_refunds_do_not_count_and_redeliveries_count_once(load) -> None:
    """A refund-only customer is in no purchase cohort; a re-delivered order is one order."""
    db = load(load, "refund_only", "redelivered")
    assert matrix(db, D(2024, 1, 1), D(2024, 4, 1), "month", intervals=2) == {
        "2024-01-01": (1, [1, 1, 0])}


def test_start_and_return_events_can_differ(load) -> None:
    """A ticket opened in January, a purchase in February: the support.opened cohort of
    January comes back in month 1; as a purchase cohort it starts in February."""
    db = load(load, "support_first")
    assert matrix(db, D(2024, 1, 1), D(2024, 4, 1), "month", intervals=2,
                  start_event="support.opened") == {"2024-01-01": (1, [1, 1, 0])}
    assert matrix(db, D(2024, 1, 1), D(2024, 4, 1), "month", intervals=2) == {
        "2024-02-01": (1, [1, 0, None])}


def test_summer_time_night_belongs_to_the_local_month(load) -> None:
    """22:30 UTC on 31 March 2024 is April in Berlin (summer time began that night)."""
    db = load(load, "dst")
    assert matrix(db, D(2024, 3, 1), D(2024, 6, 1), "month", intervals=1) == {
        "2024-03-01": (1, [1, 0])}
    assert matrix(db, D(2024, 3, 1), D(2024, 6, 1), "month", "Europe/Berlin",
                  intervals=1) == {"2024-04-01": (1, [1, 0])}


def test_lifecycle_of_a_customer_away_for_two_months(load) -> None:
    """Orders in January and April: new, dormant, -, resurrecting, dormant, -."""
    db = load(load, "dormant_back")
    periods = PeriodRange(D(2024, 1, 1), D(2024, 7, 1), "month", "UTC")
    got = [(p.period_start.month, p.new, p.returning, p.resurrecting, p.dormant)
           for p in run_lifecycle(db.runner, periods)]
    assert got == [(1, 1, 0, 0, 0), (2, 0, 0, 0, 1), (3, 0, 0, 0, 0), (4, 0, 0, 1, 0),
                   (5, 0, 0, 0, 1), (6, 0, 0, 0, 0)]


def test_lifecycle_returning_needs_the_period_just_before(load) -> None:
    """Weekly orders on Sunday 7 and Monday 8 January: new, then returning, then dormant;
    a range starting the week after still sees the week before it."""
    db = load(load, "week_edge")
    got = [(p.period_start.isoformat(), p.new, p.returning, p.dormant)
           for p in run_lifecycle(db.runner, PeriodRange(D(2024, 1, 1), D(2024, 1, 22),
                                                         "week", "UTC"))]
    assert got == [("2024-01-01", 1, 0, 0), ("2024-01-08", 0, 1, 0), ("2024-01-15", 0, 0, 1)]
    later = run_lifecycle(db.runner, PeriodRange(D(2024, 1, 8), D(2024, 1, 22), "week", "UTC"))
    assert [(p.new, p.returning, p.dormant) for p in later] == [(0, 1, 0), (0, 0, 1)]


def test_stickiness_counts_exact_and_at_least(load) -> None:
    """Active in three months of 2024 and in one: one customer each in rows 3 and 1."""
    db = load(load, "two_cohorts", "redelivered", "dst")
    rows = run_stickiness(db.runner, PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "month", "UTC"))
    assert len(rows) == 12
    assert [(r.active_periods, r.customers, r.customers_at_least) for r in rows[:4]] == [
        (1, 1, 3), (2, 1, 2), (3, 1, 1), (4, 0, 0)]
    assert rows[0].share_of_active == pytest.approx(1 / 3)
    # Survey answers are activity too: "dst" answered an NPS survey in May.
    any_event = run_stickiness(db.runner, PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "month",
                                                      "UTC"), "any")
    assert [r.customers for r in any_event[:3]] == [0, 2, 1]
