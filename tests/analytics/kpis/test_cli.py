"""`retention kpi` and `retention model`: outputs, the JSON contract and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from retention.analytics.kpis import KPIS, Period, run_all, run_kpi, run_matrix, split_period
from retention.cli.kpi import kpi
from retention.cli.model import model
from retention.settings import get_settings

from ..conftest import Db
from ..histories import random_history, simulated_history

YEAR = ["--start", "2024-01-01", "--end", "2025-01-01"]
PERIOD = Period(dt.date(2024, 1, 1), dt.date(2025, 1, 1))


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point get_settings() (what the commands read) at a test database."""

    def point(db: Db) -> None:
        ch = db.settings.clickhouse
        monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
        monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
        # No run file there: the commands open the database directly, not a worker.
        monkeypatch.setenv("RETENTION_DATA_DIR", str(db.settings.data_dir))
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


@pytest.fixture
def loaded_db(make_db, use_db) -> Db:
    db = make_db()
    random_history(11).insert(db.client)
    use_db(db)
    return db


def invoke(command, args: list[str]) -> Result:
    return CliRunner().invoke(command, args, catch_exceptions=False)


def test_json_of_one_kpi_is_an_object_name_to_number(loaded_db: Db) -> None:
    """`kpi NAME --format json` prints {"NAME": value}, the value the runner computes."""
    result = invoke(kpi, ["repeat_purchase_rate", *YEAR, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == run_kpi(loaded_db.runner, "repeat_purchase_rate",
                                                PERIOD, loaded_db.settings)


def test_json_of_all_maps_every_output(loaded_db: Db) -> None:
    """`kpi all --format json`: one object with every scalar output, nulls included."""
    result = invoke(kpi, ["all", *YEAR, "--format", "json"])
    assert result.exit_code == 0, result.output
    expected = {v.output: v.value for v in run_all(loaded_db.runner, PERIOD, loaded_db.settings)}
    assert json.loads(result.stdout) == expected
    assert "clv_predicted_mean" in expected and expected["clv_predicted_mean"] is None


def test_all_table_shows_benchmarks_and_verdicts(loaded_db: Db) -> None:
    """The table lists each KPI with its benchmark range and whether the value is inside."""
    result = invoke(kpi, ["all", *YEAR])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rpr = next(line for line in lines if line.startswith("repeat_purchase_rate"))
    assert "19.87%-39.6% (aim >= 27%)" in rpr
    assert rpr.rstrip().endswith(("inside", "OUTSIDE"))
    churn = next(line for line in lines if line.startswith("churn_rate"))
    assert "<= 7% annual" in churn
    monthly = invoke(kpi, ["churn_rate", "--start", "2024-03-01", "--end", "2024-04-01"])
    assert "n/a (31-day period)" in monthly.stdout


def test_by_month_gives_a_list_with_period_starts(loaded_db: Db) -> None:
    """--by month: a list of {period_start, kpi: value}, one per calendar month."""
    result = invoke(kpi, ["purchase_frequency", *YEAR, "--by", "month", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    months = split_period(PERIOD, "month")
    assert [g["period_start"] for g in got] == [m.start.isoformat() for m in months]
    for entry, month in zip(got, months, strict=True):
        assert entry["purchase_frequency"] == run_kpi(
            loaded_db.runner, "purchase_frequency", month, loaded_db.settings
        )["purchase_frequency"]
    quarters = invoke(kpi, ["nps", *YEAR, "--by", "quarter", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(quarters.stdout)))
    assert rows[0] == ["period_start", "nps"] and len(rows) == 5


def test_cohort_matrix_outputs(loaded_db: Db) -> None:
    """cohort_retention prints a matrix; its JSON is the list of cohort rows."""
    result = invoke(kpi, ["cohort_retention", *YEAR, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == run_matrix(loaded_db.runner, "cohort_retention",
                                                   PERIOD, loaded_db.settings)
    table = invoke(kpi, ["cohort_retention", *YEAR])
    assert "m11" in table.stdout and "2024-01" in table.stdout
    as_csv = invoke(kpi, ["cohort_retention", *YEAR, "--format", "csv"])
    header = next(csv.reader(io.StringIO(as_csv.stdout)))
    assert header == list(KPIS["cohort_retention"].outputs)


def test_csv_of_all(loaded_db: Db) -> None:
    """CSV: one line per output with value, benchmark and verdict."""
    result = invoke(kpi, ["all", *YEAR, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["kpi"] for r in rows][:2] == ["repeat_customer_rate", "repeat_purchase_rate"]
    assert rows[1]["benchmark"] == "19.87%-39.6% (aim >= 27%)"


@pytest.mark.parametrize("args", [
    ["no_such_kpi", *YEAR],
    ["nps", "--start", "2024-05-01", "--end", "2024-05-01"],
    ["nps", "--start", "2024-13-01", "--end", "2025-01-01"],
    ["cohort_retention", *YEAR, "--by", "month"],
    ["nps", *YEAR, "--format", "xml"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    """A bad command line exits 2 before touching the database."""
    result = CliRunner().invoke(kpi, args)
    assert result.exit_code == 2, result.output


def test_unreachable_database_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No ClickHouse at the configured address: exit 3 and say so."""
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", "http://127.0.0.1:9/default")
    monkeypatch.setenv("RETENTION_CLICKHOUSE__CONNECT_TIMEOUT_S", "2")
    monkeypatch.setenv("RETENTION_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(kpi, ["nps", *YEAR])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3
    assert "cannot open ClickHouse" in result.stderr


def test_query_error_exits_3_with_the_database_message(loaded_db: Db) -> None:
    """A query the database refuses (here: a dropped table) exits 3 with its message."""
    loaded_db.client.command("DROP VIEW purchase_days_mv")
    loaded_db.client.command("DROP TABLE purchase_days")
    result = CliRunner().invoke(kpi, ["average_order_value", *YEAR])
    assert result.exit_code == 3
    assert "query failed" in result.stderr and "purchase_days" in result.stderr


def test_model_fit_not_ready_exits_4(loaded_db: Db) -> None:
    """60 random customers are too few: exit 4, the reasons on stderr, nothing stored."""
    result = invoke(model, ["fit", "--as-of", "2024-12-31"])
    assert result.exit_code == 4
    assert "buyers" in result.stderr
    assert loaded_db.client.query("SELECT count() FROM model_params").result_rows[0][0] == 0
    assert invoke(model, ["show"]).exit_code == 4


def test_model_fit_stores_and_show_prints(make_db, use_db) -> None:
    """Enough data: exit 0, a stored version, and `model show` prints its parameters."""
    db = make_db()
    simulated_history(1000, seed=4).insert(db.client)
    use_db(db)
    result = invoke(model, ["fit", "--as-of", "2024-12-31"])
    assert result.exit_code == 0, result.output
    assert "stored model v1" in result.stdout
    shown = invoke(model, ["show"])
    assert shown.exit_code == 0 and "model v1: as of 2024-12-31" in shown.stdout
    predicted = invoke(kpi, ["clv_predicted", *YEAR, "--format", "json"])
    assert json.loads(predicted.stdout)["clv_predicted_mean"] > 0
