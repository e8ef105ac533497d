"""The insights that read a customer's first order from customer_purchase_span stay exact
while the span's parts are not merged: a customer can then hold one row per part, and only
the smallest of their first_purchase_at values is their first order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from retention.analytics.insights import (
    CohortQuery,
    PeriodRange,
    parse_brackets,
    run_cohorts,
    run_lifecycle,
)

from ..conftest import Db, open_db
from ..histories import History
from .edge_history import at

D = dt.date
MONTHS = PeriodRange(D(2024, 1, 1), D(2024, 6, 1), "month", "UTC")


@pytest.fixture(scope="module")
def db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """`early` bought in November 2023 (one insert) and again in February 2024 (a later
    insert, so a second span part says February); `new_feb` first bought in February."""
    opened = open_db(chdb_dsn, tmp_path_factory.mktemp("unmerged-span"))
    opened.client.command("SYSTEM STOP MERGES customer_purchase_span")
    before, later = History(), History()
    before.order("early", at("2023-11-20 10:00"), 10.0)
    later.order("early", at("2024-02-10 10:00"), 10.0)
    later.order("new_feb", at("2024-02-05 10:00"), 10.0)
    before.insert(opened.client)
    later.insert(opened.client)
    yield opened
    opened.close()


def test_the_span_holds_two_rows_for_the_customer(db: Db) -> None:
    """The set-up the other tests need: `early` has an unmerged row saying February."""
    rows = db.client.query("SELECT first_purchase_at FROM customer_purchase_span "
                           "WHERE customer_id = 'early' ORDER BY first_purchase_at").result_rows
    assert [r[0].date() for r in rows] == [D(2023, 11, 20), D(2024, 2, 10)]


@pytest.mark.parametrize("brackets", ["", "1-30"])
def test_first_time_cohorts_use_the_first_order_of_all_parts(db: Db, brackets: str) -> None:
    """`early` is in no 2024 cohort: February holds `new_feb` alone."""
    table = run_cohorts(db.runner, CohortQuery(
        MONTHS, intervals=3, brackets=parse_brackets(brackets) if brackets else ()))
    assert [(r.cohort, r.size) for r in table.rows] == [(D(2024, 2, 1), 1)]


def test_lifecycle_new_is_the_first_order_of_all_parts(db: Db) -> None:
    """In February `new_feb` is new and `early` resurrects (first order in November)."""
    february = next(p for p in run_lifecycle(db.runner, MONTHS)
                    if p.period_start == D(2024, 2, 1))
    assert (february.new, february.returning, february.resurrecting) == (1, 0, 1)
