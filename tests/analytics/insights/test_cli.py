"""`retention cohorts`, `lifecycle` and `stickiness`: the JSON contract, the CSV and table
outputs, the reporting time zone setting, and usage errors (exit 2)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from retention.analytics.insights import (
    CohortQuery,
    PeriodRange,
    parse_brackets,
    run_cohorts,
    run_lifecycle,
    run_stickiness,
)
from retention.cli.main import cli
from retention.settings import get_settings

from ..conftest import Db, open_db
from ..histories import random_history

D = dt.date
YEAR = ["--start", "2024-01-01", "--end", "2025-01-01"]
MONTHS = PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "month", "UTC")


@pytest.fixture(scope="module")
def db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    opened = open_db(chdb_dsn, tmp_path_factory.mktemp("insights-cli"))
    random_history(11, customers=120).insert(opened.client)
    yield opened
    opened.close()


@pytest.fixture
def invoke(db: Db, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Run `retention ...` against the module's database (directly: no worker runs)."""
    ch = db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    monkeypatch.setenv("RETENTION_DATA_DIR", str(db.settings.data_dir))
    get_settings.cache_clear()

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_cohorts_json_maps_each_cohort_to_size_counts_and_shares(db: Db, invoke) -> None:
    """The JSON is the table run_cohorts computes: per cohort its size, counts and shares
    (of the cohort), the column labels and both mean rows."""
    result = invoke("cohorts", *YEAR, "--intervals", "6", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    table = run_cohorts(db.runner, CohortQuery(MONTHS, intervals=6))
    assert answer["labels"] == ["0", "1", "2", "3", "4", "5", "6"]
    assert answer["cohorts"] == {
        r.cohort.isoformat(): {"size": r.size, "counts": list(r.counts),
                               "shares": list(r.share_of_cohort)} for r in table.rows}
    assert answer["mean"] == {"simple": table.mean("cohort", weighted=False),
                              "weighted": table.mean("cohort", weighted=True)}
    assert len(answer["cohorts"]) >= 10
    latest = answer["cohorts"][max(answer["cohorts"])]
    assert latest["counts"][0] == latest["size"] and latest["counts"][-1] is None
    assert (answer["cohort"], answer["mode"], answer["timezone"]) == ("first", "on", "UTC")


def test_cohorts_options_reach_the_query(db: Db, invoke) -> None:
    """Recurring, brackets, on-or-after, other events, percent of previous, a zone."""
    result = invoke("cohorts", "--start", "2024-01-01", "--end", "2024-10-01", "--period",
                    "week", "--cohort", "recurring", "--brackets", "0,1-7,8-30",
                    "--start-event", "any", "--return-event", "purchase", "--on-or-after",
                    "--percent-of", "previous", "--tz", "Asia/Kolkata", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    query = CohortQuery(PeriodRange(D(2024, 1, 1), D(2024, 10, 1), "week", "Asia/Kolkata"),
                        cohort="recurring", brackets=parse_brackets("1-7,8-30"),
                        start_event="any", mode="on_or_after")
    table = run_cohorts(db.runner, query)
    assert answer["labels"] == ["0", "1-7", "8-30"]
    assert {c: v["shares"] for c, v in answer["cohorts"].items()} == {
        r.cohort.isoformat(): list(r.share_of_previous) for r in table.rows}
    assert answer["mean"]["weighted"] == table.mean("previous", weighted=True)


def test_cohorts_csv_has_a_row_per_cohort_and_the_mean_rows(db: Db, invoke) -> None:
    """Counts then shares per column, one row per cohort, the two mean rows last."""
    result = invoke("cohorts", *YEAR, "--intervals", "3", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["cohort", "size", "count_0", "count_1", "count_2", "count_3",
                       "share_0", "share_1", "share_2", "share_3"]
    table = run_cohorts(db.runner, CohortQuery(MONTHS, intervals=3))
    assert [r[:6] for r in rows[1:-2]] == [
        [r.cohort.isoformat(), str(r.size), *("" if c is None else str(c) for c in r.counts)]
        for r in table.rows]
    assert [r[0] for r in rows[-2:]] == ["mean", "weighted_mean"]
    assert float(rows[-1][7]) == pytest.approx(table.mean("cohort", weighted=True)[1])


def test_cohorts_table_shows_percentages_and_both_means(invoke) -> None:
    """A header line, percentages per column, the mean and weighted mean rows last."""
    result = invoke("cohorts", *YEAR, "--intervals", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["cohort", "size", "month", "0", "month", "1", "month", "2"]
    assert lines[3].split()[2] == "100.0%"
    assert lines[-2].startswith("mean") and lines[-1].startswith("weighted mean")


def test_the_reporting_time_zone_setting_is_the_default(invoke,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """RETENTION_REPORTING_TIMEZONE cuts the periods when --tz is not given."""
    monkeypatch.setenv("RETENTION_REPORTING_TIMEZONE", "Pacific/Kiritimati")
    by_setting = invoke("cohorts", *YEAR, "--format", "json")
    monkeypatch.delenv("RETENTION_REPORTING_TIMEZONE")
    by_option = invoke("cohorts", *YEAR, "--tz", "Pacific/Kiritimati", "--format", "json")
    in_utc = invoke("cohorts", *YEAR, "--format", "json")
    assert json.loads(by_setting.stdout) == json.loads(by_option.stdout)
    assert json.loads(by_setting.stdout)["timezone"] == "Pacific/Kiritimati"
    assert json.loads(in_utc.stdout)["cohorts"] != json.loads(by_option.stdout)["cohorts"]


def test_lifecycle_and_stickiness_json(db: Db, invoke) -> None:
    """One object per period (lifecycle) or per number of active periods (stickiness)."""
    result = invoke("lifecycle", *YEAR, "--period", "week", "--format", "json")
    assert result.exit_code == 0, result.output
    weeks = PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "week", "UTC")
    assert json.loads(result.stdout) == [
        {"period_start": p.period_start.isoformat(), "new": p.new, "returning": p.returning,
         "resurrecting": p.resurrecting, "dormant": p.dormant, "active": p.active}
        for p in run_lifecycle(db.runner, weeks)]
    result = invoke("stickiness", *YEAR, "--period", "month", "--event", "any",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [vars(s) for s in
                                         run_stickiness(db.runner, MONTHS, "any")]


def test_lifecycle_and_stickiness_tables(invoke) -> None:
    """Each status a column, one line per whole month; stickiness as CSV."""
    lifecycle = invoke("lifecycle", *YEAR)
    assert lifecycle.exit_code == 0, lifecycle.output
    assert lifecycle.stdout.splitlines()[1].split() == [
        "period_start", "new", "returning", "resurrecting", "dormant", "active"]
    assert len(lifecycle.stdout.splitlines()) == 3 + 12
    stickiness = invoke("stickiness", *YEAR, "--format", "csv")
    assert stickiness.stdout.splitlines()[0] == (
        "active_periods,customers,customers_at_least,share_of_active")


@pytest.mark.parametrize("args", [
    ["cohorts", *YEAR, "--brackets", "1-7", "--intervals", "3"],
    ["cohorts", *YEAR, "--brackets", "8-30,1-7"],
    ["cohorts", *YEAR, "--tz", "Mars/Olympus"],
    ["cohorts", "--start", "2024-02-01", "--end", "2024-01-01"],
    ["cohorts", *YEAR, "--start-event", "order"],
    ["lifecycle", *YEAR, "--period", "year"],
    ["stickiness", *YEAR, "--event", "purchases"],
])
def test_bad_options_are_usage_errors(invoke, args: list[Any]) -> None:
    """Refused before any query, with exit 2."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
