"""Every dashboard panel's query runs on chDB over a generated history, read-only, as the
plugin would send it, and shows what its title says.

References are independent of the panel SQL: KPIs from the pandas implementation of
kpis.md (tests/analytics/kpis/reference.py) over the stored raw events; alerts, milestones
and dead letters from what the processor emitted and what the test fed it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ..analytics.conftest import assert_matrix_equal
from ..analytics.kpis.reference import Reference
from .dashboards import Panel, dashboards, query_panels, variables
from .history import SPEC, Loaded
from .macros import QueryContext, panel_sql

UTC = dt.UTC
D = dt.date
PANELS = {p.name: p for p in query_panels()}
KPI_VARIABLES = variables(dashboards()["retention-kpis"])
# Grafana's range on the KPI dashboard: starts inside January 2025 (the panel takes the
# whole month), ends on the last second of October 2026.
KPI_RANGE = QueryContext(dt.datetime(2025, 1, 14, 9, 30, tzinfo=UTC),
                         dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
                         dt.timedelta(hours=12))
MONTHS = [D(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 23)]
READ_ONLY = {"readonly": 1}
# The part of each dead-letter reason the test can predict, by kind of bad message.
REASONS = {"invalid_json": "not valid JSON: ", "invalid_field": "occurred_at: ",
           "wrong_key": "keyed b'someone-else' in partition ",
           "tombstone": "empty message (tombstone)"}


def _next_month(day: dt.date) -> dt.date:
    return D(day.year + day.month // 12, day.month % 12 + 1, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return D(index // 12, index % 12 + 1, 1)


def run(loaded: Loaded, name: str, ctx: QueryContext,
        dashboard_variables: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The panel's rows, its JSON query expanded as Grafana and the plugin expand it."""
    panel = PANELS[name]
    sql = panel_sql(panel.query, ctx, dashboard_variables or variables(
        dashboards()[panel.dashboard]))
    result = loaded.db.client.query(sql, settings=READ_ONLY if settings is None else settings)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _whole_history(loaded: Loaded, interval: dt.timedelta) -> QueryContext:
    """A range holding both the history's event times and this run's wall-clock times."""
    start = min(SPEC.end - dt.timedelta(days=30 * SPEC.months), loaded.started)
    end = max(SPEC.end, loaded.finished)
    return QueryContext(start - dt.timedelta(days=1), end + dt.timedelta(days=1), interval)


@pytest.fixture(scope="module")
def reference(loaded: Loaded) -> Reference:
    """kpis.md in pandas over the raw events as stored (duplicates included)."""
    client = loaded.db.client
    frames = [client.query_df(f"SELECT * FROM {table}")
              for table in ("purchases", "support_events", "survey_responses")]
    return Reference(*frames, activity_window_days=loaded.db.settings.activity_window_days)


@pytest.mark.parametrize(("table", "key"), [
    ("churn_risk_alerts", "alert_id"), ("milestones", "milestone_id"),
    ("dead_letters", "(topic, partition, offset)"), ("purchases", "event_id")])
def test_the_history_holds_unmerged_duplicates(loaded: Loaded, table: str, key: str) -> None:
    """Some rows are stored twice (a re-delivery, a retried insert): a panel that forgot
    to deduplicate would count them twice."""
    total, distinct = loaded.db.client.query(
        f"SELECT count(), uniqExact({key}) FROM {table}").result_rows[0]
    assert total > distinct


@pytest.mark.parametrize("name", sorted(PANELS))
def test_every_panel_runs_read_only_and_answers(loaded: Loaded, name: str) -> None:
    """Under readonly = 1 each panel returns rows; a graph's first column is `time`, in
    order, as the plugin needs for a time series."""
    panel: Panel = PANELS[name]
    ctx = KPI_RANGE if panel.dashboard == "retention-kpis" else _whole_history(
        loaded, dt.timedelta(hours=1))
    rows = run(loaded, name, ctx)
    assert rows, f"{panel.title} shows nothing"
    if panel.type == "timeseries":
        times = [r["time"] for r in rows]
        assert next(iter(rows[0])) == "time"
        assert all(isinstance(t, dt.datetime) for t in times)
        assert times == sorted(times)


def _series(rows: list[dict[str, Any]], value: str) -> dict[dt.date, float]:
    return {r["time"].date(): r[value] for r in rows}


def _assert_monthly(got: dict[dt.date, float], expected: dict[dt.date, float | None]) -> None:
    """Months with an undefined KPI are absent; the others equal the reference."""
    assert set(got) == {m for m, v in expected.items() if v is not None}
    for month, value in got.items():
        assert value == pytest.approx(expected[month], rel=1e-9, abs=1e-12), month


def test_repeat_purchase_rate_is_the_kpi_of_each_month(loaded: Loaded,
                                                       reference: Reference) -> None:
    """One point per month, equal to repeat_purchase_rate over that month."""
    got = _series(run(loaded, "repeat_purchase_rate_by_month", KPI_RANGE),
                  "repeat_purchase_rate")
    _assert_monthly(got, {m: reference.repeat_purchase_rate(m, _next_month(m))
                          for m in MONTHS})
    assert len(got) >= 20


def test_the_last_month_is_month_to_date(loaded: Loaded, reference: Reference) -> None:
    """A range ending mid-month shows that month up to the end's day, whole days."""
    ctx = QueryContext(KPI_RANGE.time_from, dt.datetime(2026, 6, 15, 8, 0, tzinfo=UTC))
    got = _series(run(loaded, "repeat_purchase_rate_by_month", ctx), "repeat_purchase_rate")
    assert max(got) == D(2026, 6, 1)
    assert got[D(2026, 6, 1)] == pytest.approx(
        reference.repeat_purchase_rate(D(2026, 6, 1), D(2026, 6, 16)))


def test_nps_is_the_kpi_of_each_month(loaded: Loaded, reference: Reference) -> None:
    got = _series(run(loaded, "nps_by_month", KPI_RANGE), "nps")
    _assert_monthly(got, {m: reference.nps(m, _next_month(m)) for m in MONTHS})


def test_csat_and_fcr_are_the_kpis_of_each_month(loaded: Loaded,
                                                 reference: Reference) -> None:
    """Two series in long format, one per KPI, each equal to its KPI over the month."""
    rows = run(loaded, "csat_and_fcr_by_month", KPI_RANGE)
    assert {r["kpi"] for r in rows} == {"csat", "first_contact_resolution_rate"}
    for kpi in ("csat", "first_contact_resolution_rate"):
        got = {r["time"].date(): r["value"] for r in rows if r["kpi"] == kpi}
        _assert_monthly(got, {m: getattr(reference, kpi)(m, _next_month(m)) for m in MONTHS})


def _churn_expected(reference: Reference, last_month: dt.date) -> dict[dt.date, float | None]:
    return {m: reference.churn_rate(_add_months(m, -11), _next_month(m))
            for m in MONTHS if m <= last_month}


def test_churn_is_the_annual_kpi_of_the_year_ending_each_month(loaded: Loaded,
                                                               reference: Reference) -> None:
    """churn_rate over [M - 11 months, M + 1 month) for each month M that has ended; months
    whose year starts before anyone was active are absent."""
    got = _series(run(loaded, "churn_rate_trailing_year", KPI_RANGE), "churn_rate")
    _assert_monthly(got, _churn_expected(reference, D(2026, 10, 1)))
    assert len(got) >= 10
    # Mid-June: June has not ended, May is the last point.
    ctx = QueryContext(KPI_RANGE.time_from, dt.datetime(2026, 6, 15, tzinfo=UTC))
    assert max(_series(run(loaded, "churn_rate_trailing_year", ctx), "churn_rate")) == \
        D(2026, 5, 1)


def test_churn_follows_the_activity_window_variable(loaded: Loaded) -> None:
    """With the dashboard constant at 90 days the panel is the 90-day-window KPI, which
    differs from the 365-day one: the window is read from the variable, not built in."""
    client = loaded.db.client
    frames = [client.query_df(f"SELECT * FROM {t}")
              for t in ("purchases", "support_events", "survey_responses")]
    reference = Reference(*frames, activity_window_days=90)
    got = _series(run(loaded, "churn_rate_trailing_year", KPI_RANGE,
                      {"activity_window_days": "90"}), "churn_rate")
    _assert_monthly(got, _churn_expected(reference, D(2026, 10, 1)))
    default = _series(run(loaded, "churn_rate_trailing_year", KPI_RANGE), "churn_rate")
    assert got != default


def test_cohort_table_is_the_kpi_matrix(loaded: Loaded, reference: Reference) -> None:
    """Cohorts from the month containing the range's start, observed up to its end day."""
    rows = run(loaded, "cohort_retention", KPI_RANGE)
    got = [{**r, "cohort_month": r["cohort_month"].isoformat()} for r in rows]
    assert_matrix_equal(got, reference.cohort_retention(D(2025, 1, 1), D(2026, 11, 1)))
    assert len(got) >= 20


@pytest.mark.parametrize("name", [n for n, p in sorted(PANELS.items())
                                  if p.dashboard == "retention-kpis"])
def test_kpi_panels_do_not_depend_on_the_servers_time_zone(loaded: Loaded, name: str) -> None:
    """Month boundaries are UTC whatever the session's time zone (+05:45 here)."""
    utc = run(loaded, name, KPI_RANGE)
    elsewhere = run(loaded, name, KPI_RANGE, settings={"session_timezone": "Asia/Kathmandu"})
    assert [list(r.values()) for r in elsewhere] == [list(r.values()) for r in utc]


def _hour(at: dt.datetime, seconds: int) -> dt.datetime:
    ts = int(at.timestamp()) // seconds * seconds
    return dt.datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


@pytest.mark.parametrize(("name", "label", "value"), [
    ("alerts_per_hour_by_rule", "rule_id", "alerts_per_hour"),
    ("milestones_per_hour_by_kind", "kind", "milestones_per_hour"),
])
def test_outputs_per_hour_are_the_processors_outputs(loaded: Loaded, name: str, label: str,
                                                     value: str) -> None:
    """Per hour of decided_at and label, the count of distinct outputs the processor
    emitted (a retried insert wrote some twice); zoomed out to 6-hour buckets the values
    stay per hour, so bucket hours x value adds up to the same totals."""
    outputs = loaded.alerts if label == "rule_id" else loaded.milestones
    ctx = _whole_history(loaded, dt.timedelta(minutes=1))
    expected = Counter((_hour(o.decided_at, 3600), getattr(o, label))
                       for o in outputs.values())
    rows = run(loaded, name, ctx)
    assert {(r["time"], r[label]): r[value] for r in rows} == dict(expected)

    wide = run(loaded, name, QueryContext(ctx.time_from, ctx.time_to, dt.timedelta(hours=6)))
    assert all(r["time"] == _hour(r["time"].replace(tzinfo=UTC), 6 * 3600) for r in wide)
    totals: Counter[str] = Counter()
    for r in wide:
        totals[r[label]] += round(r[value] * 6)
    assert totals == Counter(getattr(o, label) for o in outputs.values())


def test_output_panels_keep_to_the_time_range(loaded: Loaded) -> None:
    """A range of one month shows only alerts decided in it."""
    ctx = QueryContext(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC),
                       dt.timedelta(minutes=1))
    rows = run(loaded, "alerts_per_hour_by_rule", ctx)
    expected = sum(1 for a in loaded.alerts.values()
                   if ctx.time_from <= a.decided_at <= ctx.time_to)
    assert sum(r["alerts_per_hour"] for r in rows) == expected > 0


def _ops_range(loaded: Loaded, interval: dt.timedelta) -> QueryContext:
    """Around this run, as `now-6h` to `now` would be for a live worker."""
    return QueryContext(loaded.started - dt.timedelta(hours=1),
                        loaded.finished + dt.timedelta(minutes=1), interval)


def test_dead_letters_per_minute_add_up_to_the_bad_messages(loaded: Loaded) -> None:
    """Each bad message counts once per topic (one was delivered twice), per minute."""
    for interval in (dt.timedelta(seconds=15), dt.timedelta(minutes=10)):
        rows = run(loaded, "dead_letters_per_minute_by_topic", _ops_range(loaded, interval))
        minutes = max(60, int(interval.total_seconds())) / 60
        totals: Counter[str] = Counter()
        for r in rows:
            totals[r["topic"]] += round(r["dead_letters_per_minute"] * minutes)
        expected: Counter[str] = Counter()
        for (topic, _), n in loaded.bad.items():
            expected[topic] += n
        assert totals == expected


def test_dead_letters_by_reason_name_each_kind_of_bad_message(loaded: Loaded) -> None:
    """One row per (reason, topic) with the number of distinct letters; its first
    (partition, offset) is a letter with that reason."""
    rows = run(loaded, "dead_letters_by_reason", _ops_range(loaded, dt.timedelta(minutes=1)))
    got: Counter[tuple[str, str]] = Counter()
    for r in rows:
        (kind,) = [k for k, text in REASONS.items() if r["reason"].startswith(text)]
        got[(r["topic"], kind)] += r["letters"]
        assert r["first_failed_at"] <= r["last_failed_at"]
        reason = loaded.db.client.query(
            "SELECT reason FROM dead_letters WHERE topic = {t:String} AND partition = {p:Int32}"
            " AND offset = {o:Int64}",
            parameters={"t": r["topic"], "p": r["first_partition"], "o": r["first_offset"]},
        ).result_rows[0][0]
        assert reason == r["reason"]
    assert got == loaded.bad
    assert [r["letters"] for r in rows] == sorted((r["letters"] for r in rows), reverse=True)


def test_rows_stored_per_minute_add_up_to_the_rows_stored(loaded: Loaded) -> None:
    """Rows per minute x minutes is every row each raw table holds, re-deliveries included
    (they count until a merge folds them), which is more than the events."""
    rows = run(loaded, "rows_stored_per_minute_by_table",
               _ops_range(loaded, dt.timedelta(minutes=5)))
    totals: Counter[str] = Counter()
    for r in rows:
        totals[r["event_table"]] += round(r["rows_per_minute"] * 5)
    assert totals == loaded.stored
    assert totals["purchases"] > loaded.events["purchases"]


def test_store_delay_is_the_percentiles_of_the_stored_delays(loaded: Loaded) -> None:
    """Median and p95 of ingested_at - occurred_at per bucket and table, as numpy's
    default (linear) percentiles of the stored rows."""
    bucket = 600
    rows = run(loaded, "store_delay_by_table", _ops_range(loaded, dt.timedelta(seconds=bucket)))
    got = {(r["time"], r["event_table"]): (r["p50_delay_s"], r["p95_delay_s"]) for r in rows}
    expected = {}
    for table in loaded.events:
        frame = loaded.db.client.query_df(f"SELECT occurred_at, ingested_at FROM {table}")
        delay = (frame["ingested_at"] - frame["occurred_at"]).dt.total_seconds()
        starts = frame["ingested_at"].map(
            lambda at: _hour(pd.Timestamp(at).tz_localize(UTC).to_pydatetime(), bucket))
        for start, delays in delay.groupby(starts):
            expected[(start, table)] = (np.percentile(delays, 50), np.percentile(delays, 95))
    assert got.keys() == expected.keys()
    for key, (p50, p95) in got.items():
        assert (p50, p95) == pytest.approx(expected[key], rel=1e-9), key


def test_ops_panels_are_empty_before_anything_was_stored(loaded: Loaded) -> None:
    """A range that ends before this run shows no dead letters and no stored rows."""
    ctx = QueryContext(loaded.started - dt.timedelta(days=2),
                       loaded.started - dt.timedelta(days=1))
    for name in ("dead_letters_per_minute_by_topic", "dead_letters_by_reason",
                 "rows_stored_per_minute_by_table", "store_delay_by_table"):
        assert run(loaded, name, ctx) == [], name
