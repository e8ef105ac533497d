"""The registry and the SQL files agree: parameters, outputs, headers, period splitting."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from retention.analytics.kpis import KPIS, Benchmark, Period, load_sql, split_period
from retention.analytics.kpis.registry import PARAMETER_TYPES

SPEC_KPIS = {
    "repeat_customer_rate", "repeat_purchase_rate", "purchase_frequency", "average_order_value",
    "customer_retention_rate", "churn_rate", "net_customer_loss_rate", "clv_historic",
    "clv_predicted", "cohort_retention", "nps", "csat", "first_contact_resolution_rate",
    "time_to_first_response", "time_to_resolution",
}
_PLACEHOLDER = re.compile(r"\{(\w+):([^}]+)\}")


def test_every_kpi_of_the_spec_is_registered() -> None:
    """kpis.md lists 15 KPIs; each has a registry entry and its own SQL file."""
    assert set(KPIS) == SPEC_KPIS


@pytest.mark.parametrize("name", sorted(SPEC_KPIS))
def test_sql_binds_exactly_the_registered_parameters(name: str) -> None:
    """Each file binds the registry's parameters, with the registry's types, and no others."""
    kpi = KPIS[name]
    found = dict(_PLACEHOLDER.findall(load_sql(kpi)))
    assert set(found) == set(kpi.parameters)
    for param, ch_type in found.items():
        assert ch_type == PARAMETER_TYPES[param], param


@pytest.mark.parametrize("name", sorted(SPEC_KPIS))
def test_sql_opens_with_formula_grain_and_parameters(name: str) -> None:
    """House style: a header comment stating the formula, the grain and the parameters."""
    sql = load_sql(KPIS[name])
    header = sql.split("\nWITH")[0]
    assert all(line.startswith("--") for line in header.splitlines())
    # Each KPI's formula starts a header line, also in a file several KPIs share.
    formulas = [line.removeprefix("--").strip() for line in header.splitlines()]
    assert any(re.match(rf"{name}\b", f) for f in formulas), f"no formula line for {name}"
    assert "Grain:" in header and "Parameters:" in header


@pytest.mark.parametrize("name", sorted(SPEC_KPIS))
def test_sql_returns_the_registered_outputs(name: str, make_db) -> None:
    """The final select's columns are the outputs of the KPIs registered on the file, in
    order: nothing computed that no KPI reports, nothing reported that is not computed."""
    db = make_db()
    kpi = KPIS[name]
    expected = [o for k in KPIS.values() if k.sql_path == kpi.sql_path for o in k.outputs]
    params = {"start": dt.date(2024, 1, 1), "end": dt.date(2025, 1, 1),
              "activity_window_days": 365, "lifespan_cap_years": 20.0}
    # DESCRIBE: an empty result carries no column names, a described one always does.
    result = db.runner.query(f"DESCRIBE TABLE ({load_sql(kpi)})",
                             {p: params[p] for p in kpi.parameters})
    assert [row[0] for row in result.rows] == expected


def test_split_period_by_month_and_quarter() -> None:
    """Calendar months / quarters clipped to the period; they tile it exactly."""
    period = Period(dt.date(2024, 1, 15), dt.date(2024, 5, 10))
    months = split_period(period, "month")
    assert [(p.start.isoformat(), p.end.isoformat()) for p in months] == [
        ("2024-01-15", "2024-02-01"), ("2024-02-01", "2024-03-01"),
        ("2024-03-01", "2024-04-01"), ("2024-04-01", "2024-05-01"),
        ("2024-05-01", "2024-05-10")]
    quarters = split_period(Period(dt.date(2023, 11, 1), dt.date(2024, 12, 31)), "quarter")
    assert [p.start.isoformat() for p in quarters] == [
        "2023-11-01", "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]
    assert quarters[-1].end == dt.date(2024, 12, 31)


def test_a_period_must_not_be_empty() -> None:
    """start >= end is refused before any query runs."""
    with pytest.raises(ValueError):
        Period(dt.date(2024, 1, 1), dt.date(2024, 1, 1))


def test_benchmarks_from_the_spec() -> None:
    """RPR 19.87%-39.6% (aim >= 27%); churn <= 7% applies to one-year periods only."""
    rpr = KPIS["repeat_purchase_rate"].benchmark
    assert rpr is not None and rpr.describe() == "19.87%-39.6% (aim >= 27%)"
    assert rpr.inside(0.30, 31) is True and rpr.inside(0.41, 31) is False
    churn = KPIS["churn_rate"].benchmark
    assert churn == Benchmark(high=0.07, annual=True, note=churn.note)
    assert churn.inside(0.05, 366) is True
    assert churn.inside(0.08, 365) is False
    assert churn.inside(0.01, 31) is None  # a monthly churn is not an annual one
    assert churn.inside(None, 365) is None
