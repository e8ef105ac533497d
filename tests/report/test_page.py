"""The page: tiles carry exact values and verdicts, nothing is fetched, input is escaped."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest

from retention.analytics.kpis import KPIS, KpiValue, Period
from retention.report.data import (
    AtRiskCustomer,
    Episode,
    MonthTrend,
    ReportData,
    retention_curve,
)
from retention.report.page import render_page

UTC = dt.UTC
HALF_YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 7, 2))  # 182 days
YEAR = Period(dt.date(2025, 1, 1), dt.date(2026, 1, 1))


class Tiles(HTMLParser):
    """Each KPI tile's data attributes and visible value."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None
        self._in_value = False
        self._in_badge = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-output" in a and "tile" in (a.get("class") or ""):
            self._current = self.tiles[str(a["data-output"])] = {**a, "text": "", "badge": ""}
        self._in_value = a.get("class") == "tile-value"
        self._in_badge = (a.get("class") or "").startswith("badge ")

    def handle_data(self, data: str) -> None:
        if self._current is not None and self._in_value:
            self._current["text"] += data
        if self._current is not None and self._in_badge:
            self._current["badge"] += data

    def handle_endtag(self, tag: str) -> None:
        self._in_value = self._in_badge = False


def _value(name: str, output: str, value: float | None, period: Period) -> KpiValue:
    kpi = KPIS[name]
    inside = kpi.benchmark.inside(value, period.days) if kpi.benchmark else None
    return KpiValue(kpi, output, value, inside)


def _data(period: Period, kpis: list[KpiValue], **overrides: Any) -> ReportData:
    fields: dict[str, Any] = {
        "period": period, "kpis": kpis, "cohorts": [], "at_risk": [],
        "months": [MonthTrend(period, {"repeat_purchase_rate": 0.25,
                                       "customer_retention_rate": 0.9, "churn_rate": 0.1,
                                       "nps": -12.5, "csat": None})],
        "alerts": {("low_csat", "low"): 3, ("low_csat", "medium"): 0,
                   ("low_csat", "high"): 1},
        "milestones": {"first_purchase": 4, "promoter": 0},
    }
    return ReportData(**{**fields, **overrides})


def _tiles(data: ReportData) -> dict[str, dict[str, Any]]:
    parser = Tiles()
    parser.feed(render_page(data, dt.datetime(2026, 7, 3, tzinfo=UTC), "a test"))
    return parser.tiles


def test_tiles_carry_exact_values_and_the_benchmark_verdict() -> None:
    """A value inside the spec's range (19.87%-39.6%) is inside, one above it outside; an
    annual benchmark on a half year is not judged; an undefined KPI shows n/a."""
    rpr = 0.30000000000000004  # full precision survives the attribute
    tiles = _tiles(_data(HALF_YEAR, [
        _value("repeat_purchase_rate", "repeat_purchase_rate", rpr, HALF_YEAR),
        _value("churn_rate", "churn_rate", 0.5, HALF_YEAR),
        _value("nps", "nps", None, HALF_YEAR),
        _value("time_to_resolution", "time_to_resolution_p90_hours", 48.25, HALF_YEAR),
    ]))
    assert float(tiles["repeat_purchase_rate"]["data-value"]) == rpr
    assert tiles["repeat_purchase_rate"]["data-inside"] == "true"
    assert tiles["repeat_purchase_rate"]["text"] == "30.0%"
    assert tiles["churn_rate"]["data-inside"] == ""
    assert tiles["churn_rate"]["badge"] == "annual benchmark: not for a 182-day period"
    assert tiles["nps"]["data-value"] == "" and tiles["nps"]["text"] == "n/a"
    assert tiles["time_to_resolution_p90_hours"]["text"] == "48.2 h"
    assert tiles["time_to_resolution_p90_hours"]["badge"] == ""

    year = _tiles(_data(YEAR, [_value("repeat_purchase_rate", "repeat_purchase_rate", 0.41,
                                      YEAR),
                               _value("churn_rate", "churn_rate", 0.05, YEAR)]))
    assert year["repeat_purchase_rate"]["data-inside"] == "false"
    assert year["repeat_purchase_rate"]["badge"] == "outside the benchmark"
    assert year["churn_rate"]["data-inside"] == "true"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No element points at a URL: scripts and styles are inline (the browser test also
    watches the network)."""
    html = render_page(_data(YEAR, []), dt.datetime(2026, 1, 2, tzinfo=UTC), "a test")
    assert not re.search(r"<(script|img|link|iframe|source|embed)\b[^>]*\b(src|href)=", html,
                         re.I)
    # plotly.js, then one per chart: no cohort here, so no heatmap and no curve.
    assert html.count("<script") == 1 + 4


def test_a_chart_with_nothing_to_draw_is_a_sentence() -> None:
    """An empty database gives notes where the charts would be, not empty axes."""
    empty = _data(HALF_YEAR, [], alerts=dict.fromkeys(
                      [(rule, level) for rule in ("low_csat", "nps_detractor")
                       for level in ("low", "medium", "high")], 0),
                  milestones={"promoter": 0},
                  months=[MonthTrend(HALF_YEAR, dict.fromkeys(
                      ("repeat_purchase_rate", "customer_retention_rate", "churn_rate",
                       "nps", "csat")))])
    html = render_page(empty, dt.datetime(2026, 7, 3, tzinfo=UTC), "a test")
    assert html.count("<script") == 1 and 'class="chart"' not in html
    for note in ("No customer made a first order in a month starting in the period.",
                 "No month of the period has an NPS answer.",
                 "No churn-risk alert was decided in the period.",
                 "No milestone was decided in the period.",
                 "No customer has an open risk episode."):
        assert note in html


def test_customer_text_is_escaped() -> None:
    """Customer ids and rule details come from input events: they are shown as text."""
    evil = '<img src=x onerror="alert(1)">'
    at = dt.datetime(2026, 3, 1, tzinfo=UTC)
    customer = AtRiskCustomer(evil, 70, "high", 10.0, 2, at,
                              [Episode("low_csat", 25, at, f"detail {evil}")])
    html = render_page(_data(YEAR, [], at_risk=[customer]), at, "a test")
    assert evil not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_retention_curve_pools_cohorts_weighted_by_size() -> None:
    """Month k of the curve is the buyers of every cohort observed at k over their
    customers; unobserved (None) cells are left out, not counted as zero."""
    cohorts = [
        {"cohort_month": "2026-01-01", "customers": 100,
         **{f"month_{k}": (1.0 if k == 0 else 0.5 if k < 3 else None) for k in range(12)}},
        {"cohort_month": "2026-02-01", "customers": 300,
         **{f"month_{k}": (1.0 if k == 0 else 0.1 if k < 2 else None) for k in range(12)}},
    ]
    frame = pd.DataFrame(cohorts).melt(id_vars=["cohort_month", "customers"],
                                       var_name="k", value_name="share").dropna()
    frame["k"] = frame["k"].str.removeprefix("month_").astype(int)
    frame["buyers"] = frame["share"] * frame["customers"]
    sums = frame.groupby("k")[["buyers", "customers"]].sum()
    expected = (sums["buyers"] / sums["customers"]).to_dict()
    curve = retention_curve(cohorts)
    assert [p.k for p in curve] == list(range(12))
    for point in curve:
        if point.k in expected:
            assert point.retention == pytest.approx(expected[point.k], rel=1e-12)
            assert point.customers == sums.loc[point.k, "customers"]
        else:
            assert point.retention is None and point.customers == 0
    assert curve[1].retention == pytest.approx((50 + 30) / 400)
