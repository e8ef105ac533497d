"""docs/ops-queries.md: every ```sql block is a sql/cookbook file, runs by name against chDB
with data and answers its question; the console command works as printed."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from retention.analytics.kpis import Period, run_kpi, run_matrix, split_period
from retention.analytics.model_fit import fit_model
from retention.cli.query import query
from retention.settings import get_settings
from sinks.operations import operations
from sinks.rows import COLUMNS
from sinks.sql_files import read_sql

from ..conftest import Db, open_db
from ..histories import random_history, simulated_history

DOC = Path(__file__).resolve().parents[3] / "docs" / "ops-queries.md"
UTC = dt.UTC
PARAMS: dict[str, Any] = {
    "start": dt.date(2024, 1, 1),
    "end": dt.date(2025, 1, 1),
    "cohort_month": dt.date(2024, 3, 1),
    "min_risk_score": 40,
    "max_p_alive": 0.5,
    "customer_id": "c00001",
}
YEAR = Period(PARAMS["start"], PARAMS["end"])


def questions() -> dict[str, tuple[str, str]]:
    """Each section's (question name, ```sql block), keyed by its heading."""
    found: dict[str, tuple[str, str]] = {}
    heading = ""
    for part in re.split(r"(^## .*$)", DOC.read_text(), flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
            continue
        if "runs `sql/retention/" in part:
            continue  # a retention insight: tests/analytics/insights/test_ops_doc.py
        if "runs `sql/customer/" in part:
            continue  # `retention at-risk`: tests/analytics/test_customer_doc.py
        names = re.findall(r"`retention query ([a-z_]+)", part)
        sqls = re.findall(r"```sql\n(.*?)```", part, flags=re.S)
        if names or sqls:
            assert len(names) == len(sqls) == 1, heading
            found[heading] = (names[0], sqls[0])
    return found


def run(db: Db, name: str) -> list[dict[str, Any]]:
    """The question's rows, run by name as the CLI and the worker run it (read-only)."""
    parameters = operations()[f"cookbook/{name}"].parameters
    missing = set(parameters) - set(PARAMS)
    assert not missing, f"give the test a value for {missing}"
    return db.runner.run(f"cookbook/{name}", {n: PARAMS[n] for n in parameters}).dicts()


@pytest.fixture(scope="module")
def ops_db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """Random histories, a fitted model, worker state and alerts for a few customers."""
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("ops"))
    random_history(11).insert(db.client)
    simulated_history(600, seed=5).insert(db.client)
    report = fit_model(db.client, db.settings, dt.date(2024, 12, 31))
    assert report.model is not None, report.reasons
    at = dt.datetime(2024, 12, 1, tzinfo=UTC)
    states = [
        (f"c{i:05d}", 3, at, 4, 100.0 * (i + 1), at, at, 0, None, None, score, rules, "{}")
        for i, (score, rules) in enumerate([(70, ["low_p_alive", "nps_detractor"]),
                                            (40, ["inactive_overdue"]), (10, [])])
    ]
    db.client.insert("customer_state", states, column_names=COLUMNS["customer_state"])
    alerts = [(f"a{i}", f"c{i:05d}", rule, at, at, False, 40, "medium", [rule], "{}")
              for i, rule in enumerate(["low_p_alive", "low_p_alive", "nps_detractor"])]
    db.client.insert("churn_risk_alerts", alerts, column_names=COLUMNS["churn_risk_alerts"])
    yield db
    db.close()


def test_the_doc_has_a_query_per_question() -> None:
    """At least the questions the brief lists, plus a few more, each with SQL."""
    headings = set(questions())
    for question in ("at-risk", "March cohort", "NPS", "first contact"):
        assert any(question in h for h in headings), question
    assert len(headings) >= 7


def test_each_sql_block_is_its_cookbook_file() -> None:
    """The doc shows every sql/cookbook file once, exactly as the named operation runs it."""
    shown = {name: sql for name, sql in questions().values()}
    cookbook = {n.removeprefix("cookbook/") for n in operations() if n.startswith("cookbook/")}
    assert set(shown) == cookbook
    for name, sql in shown.items():
        assert sql == read_sql(f"cookbook/{name}.sql"), name


@pytest.mark.parametrize("heading", sorted(questions()))
def test_every_question_runs_and_answers(ops_db: Db, heading: str) -> None:
    """Each question runs on data, by name and read-only, and returns rows."""
    assert run(ops_db, questions()[heading][0]), heading


def _block(word: str) -> str:
    return next(name for heading, (name, _) in questions().items() if word in heading)


def test_at_risk_customers_are_the_risky_ones_by_revenue(ops_db: Db) -> None:
    """Only risk >= 40, most revenue first, with the model's p_alive beside them."""
    rows = run(ops_db, _block("at-risk"))
    assert [r["customer_id"] for r in rows] == ["c00001", "c00000"]
    assert rows[1]["open_risk_rules"] == ["low_p_alive", "nps_detractor"]
    assert all(r["p_alive"] is not None for r in rows)


def test_march_cohort_matches_the_matrix(ops_db: Db) -> None:
    """Month k of the March cohort equals cell k of cohort_retention's March row."""
    rows = run(ops_db, _block("March cohort"))
    matrix = run_matrix(ops_db.runner, "cohort_retention",
                        Period(dt.date(2024, 3, 1), dt.date(2025, 3, 1)), ops_db.settings)
    march = next(r for r in matrix if r["cohort_month"] == "2024-03-01")
    assert rows[0]["k"] == 0 and rows[0]["retention"] == 1.0
    for row in rows:
        assert row["retention"] == pytest.approx(march[f"month_{row['k']}"], abs=5e-5)


def test_nps_trend_matches_the_kpi_by_month(ops_db: Db) -> None:
    """The monthly NPS equals `retention kpi nps --by month`."""
    rows = {r["month"]: r["nps"] for r in run(ops_db, _block("NPS"))}
    for month in split_period(YEAR, "month"):
        value = run_kpi(ops_db.runner, "nps", month, ops_db.settings)["nps"]
        if value is None:
            assert month.start not in rows
        else:
            assert rows[month.start] == pytest.approx(value, abs=0.05)


def test_fcr_by_channel_adds_up_to_the_kpi(ops_db: Db) -> None:
    """Summed over channels, first-contact resolutions over resolved tickets is the KPI."""
    rows = run(ops_db, _block("first contact"))
    total = sum(r["tickets_resolved"] for r in rows)
    fcr = sum(r["first_contact"] for r in rows) / total
    kpi = run_kpi(ops_db.runner, "first_contact_resolution_rate", YEAR, ops_db.settings)
    assert fcr == pytest.approx(kpi["first_contact_resolution_rate"], rel=1e-12)


def test_monthly_sales_match_average_order_value(ops_db: Db) -> None:
    """Each month's revenue / orders is that month's average_order_value KPI."""
    rows = {r["month"]: r for r in run(ops_db, _block("sell"))}
    for month in split_period(YEAR, "month"):
        aov = run_kpi(ops_db.runner, "average_order_value", month, ops_db.settings)
        if aov["average_order_value"] is not None:
            assert rows[month.start]["average_order_value"] == pytest.approx(
                aov["average_order_value"], abs=0.01)


def test_win_back_list_is_lapsed_repeat_buyers(ops_db: Db) -> None:
    rows = run(ops_db, _block("win-back"))
    assert all(r["p_alive"] < 0.5 and r["purchase_days"] >= 3 for r in rows)


def test_health_check_sees_the_unmerged_duplicates(ops_db: Db) -> None:
    rows = {r["event_table"]: r for r in run(ops_db, _block("healthy"))}
    assert rows["purchases"]["unmerged_duplicates"] > 0


def test_customer_alerts_are_that_customers_only(ops_db: Db) -> None:
    """The String parameter selects exactly one customer's alerts, oldest first."""
    rows = run(ops_db, _block("this customer"))
    assert [(r["alert_id"], r["rule_id"]) for r in rows] == [("a1", "low_p_alive")]


def test_console_command_runs_as_printed(ops_db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The doc's `retention query at_risk_customers ...` prints the at-risk customers."""
    ch = ops_db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    monkeypatch.setenv("RETENTION_DATA_DIR", str(ops_db.settings.data_dir))
    get_settings.cache_clear()
    command = re.search(r"`retention query (at_risk_customers[^`]*)`", DOC.read_text())
    assert command is not None
    try:
        result = CliRunner().invoke(query, [*command.group(1).split(), "--format", "json"],
                                    catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["customer_id"] for r in rows] == ["c00001", "c00000"]
