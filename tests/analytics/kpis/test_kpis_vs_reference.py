"""Every SQL KPI equals the pandas reference written from kpis.md, on edge-case histories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from retention.analytics.kpis import KPIS, Period, run_kpi, run_matrix

from ..conftest import Db, assert_matrix_equal, assert_outputs_equal, open_db
from ..histories import History, random_history, single_customer_history
from .reference import Reference

D = dt.date
PERIODS = [
    Period(D(2024, 1, 1), D(2025, 1, 1)),  # a calendar year
    Period(D(2024, 3, 1), D(2024, 4, 1)),  # a month
    Period(D(2023, 12, 31), D(2024, 1, 2)),  # two days around midnight of a new year
    Period(D(2023, 6, 15), D(2024, 9, 20)),  # longer than the activity window
    Period(D(2022, 1, 1), D(2022, 6, 1)),  # before any event
    Period(D(2030, 1, 1), D(2030, 2, 1)),  # after every event
]
COHORT_PERIODS = [
    Period(D(2023, 1, 1), D(2024, 1, 1)),
    Period(D(2024, 3, 1), D(2025, 3, 1)),
    Period(D(2024, 1, 1), D(2024, 3, 15)),  # `end` inside a month
    Period(D(2030, 1, 1), D(2031, 1, 1)),  # no cohort
]


def _reference(history: History, db: Db) -> Reference:
    s = db.settings
    return Reference(*history.frames(), activity_window_days=s.activity_window_days,
                     lifespan_cap_years=s.lifespan_cap_years)


def _sql_outputs(db: Db, period: Period) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for kpi in KPIS.values():
        if not kpi.matrix and kpi.name != "clv_predicted":
            out.update(run_kpi(db.runner, kpi, period, db.settings))
    return out


@pytest.fixture(scope="module", params=[11, 22, 33])
def loaded(request: pytest.FixtureRequest, chdb_dsn: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Db, Reference]]:
    history = random_history(request.param)
    # A 90-day window as well as the default: "active" must follow the setting.
    window = 365 if request.param != 33 else 90
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("kpis"), activity_window_days=window)
    history.insert(db.client)
    yield db, _reference(history, db)
    db.close()


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.start}..{p.end}")
def test_scalar_kpis_match_reference(loaded: tuple[Db, Reference], period: Period) -> None:
    """Each scalar KPI over a random history equals the reference for the same period."""
    db, ref = loaded
    assert_outputs_equal(_sql_outputs(db, period), ref.scalar_outputs(period.start, period.end),
                         f"{period}")


@pytest.mark.parametrize("period", COHORT_PERIODS, ids=lambda p: f"{p.start}..{p.end}")
def test_cohort_matrix_matches_reference(loaded: tuple[Db, Reference], period: Period) -> None:
    """The cohort matrix equals the reference, cohort sizes exactly, cells within 1e-9."""
    db, ref = loaded
    assert_matrix_equal(run_matrix(db.runner, "cohort_retention", period, db.settings),
                        ref.cohort_retention(period.start, period.end), f"{period}")


def test_random_histories_exercise_the_edge_cases(loaded: tuple[Db, Reference]) -> None:
    """The generated data really holds duplicates, refunds and non-UTC offsets."""
    db, _ = loaded
    dupes, refunds, days = db.client.query(
        "SELECT count() - uniqExact(event_id), countIf(kind = 'refund'), uniqExact(toDate("
        "occurred_at)) FROM purchases"
    ).result_rows[0]
    assert dupes > 0 and refunds > 0 and days > 50


def test_single_customer(make_db) -> None:
    """One customer: local dates differ from UTC dates, a re-delivered order, a refund."""
    db = make_db()
    history = single_customer_history()
    history.insert(db.client)
    ref = _reference(history, db)
    for period in [Period(D(2024, 1, 1), D(2025, 1, 1)), Period(D(2024, 2, 29), D(2024, 3, 1)),
                   Period(D(2024, 3, 1), D(2024, 6, 11))]:
        assert_outputs_equal(_sql_outputs(db, period),
                             ref.scalar_outputs(period.start, period.end), f"{period}")
    year = Period(D(2024, 1, 1), D(2025, 1, 1))
    outputs = _sql_outputs(db, year)
    # Three orders on two UTC days (08:00 +09:00 on 1 March is 29 February UTC).
    assert outputs["purchase_frequency"] == 3
    assert outputs["average_order_value"] == pytest.approx((40 + 10 + 25.5) / 3)
    assert outputs["repeat_purchase_rate"] == 1.0
    assert outputs["nps"] == 100.0
    assert outputs["time_to_first_response_median_hours"] == 1.5
    assert_matrix_equal(run_matrix(db.runner, "cohort_retention", year, db.settings),
                        ref.cohort_retention(year.start, year.end))


def test_empty_database_gives_none_everywhere(make_db) -> None:
    """No events: every KPI is undefined (None), none fails or divides by zero."""
    db = make_db()
    outputs = _sql_outputs(db, PERIODS[0])
    outputs.update(run_kpi(db.runner, "clv_predicted", PERIODS[0], db.settings))
    assert all(v is None for v in outputs.values()), outputs
    assert run_matrix(db.runner, "cohort_retention", PERIODS[0], db.settings) == []
