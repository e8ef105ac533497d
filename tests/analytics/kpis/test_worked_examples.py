"""The worked examples of kpis.md, as data: the SQL gives the corrected figures."""

from __future__ import annotations

import datetime as dt

import pytest

from retention.analytics.kpis import Period, run_kpi

from ..histories import History

UTC = dt.UTC
YEAR_2024 = Period(dt.date(2024, 1, 1), dt.date(2025, 1, 1))


def test_repeat_customer_rate_100_of_300_is_one_third(make_db) -> None:
    """100 returning customers among 300 buyers: 33.3%, not the article's 25%."""
    h = History()
    for i in range(300):
        if i < 100:  # bought in 2023 already: their 2024 order is at least their second
            h.order(f"c{i}", dt.datetime(2023, 5, 1, tzinfo=UTC), 20.0)
        h.order(f"c{i}", dt.datetime(2024, 5, 1, tzinfo=UTC), 20.0)
    db = make_db()
    h.insert(db.client)
    value = run_kpi(db.runner, "repeat_customer_rate", YEAR_2024, db.settings)
    assert value["repeat_customer_rate"] == pytest.approx(1 / 3, abs=1e-12)


def test_retention_start_20_lose_8_gain_9(make_db) -> None:
    """S = 20, 8 lost, 9 new -> E = 21: CRR = (21 - 9) / 20 = 60%, churn 40%, not 110%."""
    h = History()
    for i in range(20):  # active at the start: an order within the year before it
        h.order(f"old{i}", dt.datetime(2023, 6, 1, tzinfo=UTC), 30.0)
        if i >= 8:  # 12 stay active
            h.order(f"old{i}", dt.datetime(2024, 6, 1, tzinfo=UTC), 30.0)
    for i in range(9):
        h.order(f"new{i}", dt.datetime(2024, 9, 1, tzinfo=UTC), 30.0)
    db = make_db()
    h.insert(db.client)

    def kpi(name: str) -> float | None:
        return run_kpi(db.runner, name, YEAR_2024, db.settings)[name]

    assert kpi("customer_retention_rate") == pytest.approx(0.6, abs=1e-12)
    assert kpi("churn_rate") == pytest.approx(0.4, abs=1e-12)
    # The sources' literal (S - E) / S: a net gain of one customer, -5%.
    assert kpi("net_customer_loss_rate") == pytest.approx(-0.05, abs=1e-12)
    # One order per buyer at 30: AOV 30 x frequency 1 x lifespan 1 / 0.4 = 2.5 years.
    assert kpi("clv_historic") == pytest.approx(30 * 1 * 2.5, abs=1e-9)
