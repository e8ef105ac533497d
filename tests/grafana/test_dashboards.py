"""The dashboards as files: every panel's query is its SQL file under sql/grafana, the
panels use the provisioned data source the way the plugin expects, and the benchmark bands
are the spec's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retention.analytics.kpis import KPIS

from .dashboards import (
    DASHBOARD_DIR,
    DATASOURCE_TYPE,
    ROOT,
    SQL_DIR,
    Panel,
    all_panels,
    dashboards,
    query_panels,
)
from .macros import PLUGIN_VERSION

PANELS = query_panels()
DATASOURCES = yaml.safe_load(
    (ROOT / "grafana/provisioning/datasources/clickhouse.yaml").read_text())["datasources"]
SYNC = ROOT / "grafana" / "sync_panel_sql.py"


def _panel(title: str) -> Panel:
    return next(p for p in PANELS if p.title == title)


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.name)
def test_each_panel_query_is_its_sql_file(panel: Panel) -> None:
    """The JSON carries exactly the text of the file its description names."""
    path = ROOT / panel.sql_file
    assert path.parent == SQL_DIR, panel.sql_file
    assert path.is_file(), f"{panel.title}: {panel.sql_file} does not exist"
    assert panel.query == path.read_text(), (
        f"{panel.title}: the JSON differs from {panel.sql_file}: "
        "run `python grafana/sync_panel_sql.py`")


def test_every_grafana_sql_file_is_one_panel() -> None:
    """No file under sql/grafana is orphaned, and no two panels share one."""
    files = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    used = sorted(Path(p.sql_file).name for p in PANELS)
    assert used == files


def test_the_sync_tool_reports_and_repairs_drift(tmp_path: Path) -> None:
    """`--check` exits 1 naming the drifted panel; without it the JSON is rewritten from the
    files, after which `--check` passes."""
    boards = tmp_path / "dashboards"
    shutil.copytree(DASHBOARD_DIR, boards)
    path = boards / "retention-kpis.json"
    board = json.loads(path.read_text())
    victim = next(p for p in all_panels(board) if p.get("targets"))
    victim["targets"][0]["rawSql"] = "SELECT 1"
    path.write_text(json.dumps(board, indent=2) + "\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SYNC), "--dashboards", str(boards), *args],
                              capture_output=True, text=True, check=False)

    checked = run("--check")
    assert checked.returncode == 1
    assert victim["title"] in checked.stdout
    assert run().returncode == 0
    assert path.read_text() == (DASHBOARD_DIR / "retention-kpis.json").read_text()
    assert run("--check").returncode == 0


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.name)
def test_panels_query_the_provisioned_data_source_as_the_plugin_expects(panel: Panel) -> None:
    """Raw SQL on the provisioned ClickHouse uid; time series format for graphs (the plugin
    turns long rows into one series per label), table format for tables."""
    (datasource,) = DATASOURCES
    for ref in (panel.raw["datasource"], panel.target["datasource"]):
        assert ref == {"type": DATASOURCE_TYPE, "uid": datasource["uid"]}
    assert panel.target["editorType"] == "sql"
    assert panel.target["pluginVersion"] == PLUGIN_VERSION
    expected = {"timeseries": (0, "timeseries"), "table": (1, "table")}[panel.type]
    assert (panel.target["format"], panel.target["queryType"]) == expected


def test_the_dashboards_cover_what_ops_teams_asked_for() -> None:
    """KPIs over time, the cohort table, alerts and milestones by kind, dead letters, and
    the ingest side of lag, each a panel of its own."""
    titles = {(p.dashboard, p.title) for p in PANELS}
    assert {("retention-kpis", t) for t in (
        "Repeat purchase rate by month", "Churn rate, trailing 12 months",
        "Net Promoter Score by month", "CSAT and first contact resolution by month",
        "Cohort retention")} <= titles
    assert {("retention-pipeline", t) for t in (
        "Churn-risk alerts per hour by rule", "Milestones per hour by kind",
        "Dead letters per minute by topic", "Dead letters by reason",
        "Rows stored per minute by table", "Event-to-store delay by table")} <= titles


def test_the_lag_note_says_what_the_panels_are_not() -> None:
    """The pipeline dashboard says plainly that Kafka consumer lag is not in ClickHouse and
    where to read it."""
    notes = [p for p in all_panels(dashboards()["retention-pipeline"]) if p["type"] == "text"]
    content = " ".join(p["options"]["content"] for p in notes)
    assert "Consumer lag is not on this dashboard" in content
    assert "retention status" in content


def _steps(panel: Panel) -> list[float | None]:
    defaults = panel.raw["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] in ("area", "line+area")
    return [s["value"] for s in defaults["thresholds"]["steps"]]


def test_repeat_purchase_rate_bands_are_the_benchmark() -> None:
    """kpis.md: 19.87%-39.6% reasonable, aim for at least 27%; the registry says the same."""
    benchmark = KPIS["repeat_purchase_rate"].benchmark
    assert benchmark is not None
    assert _steps(_panel("Repeat purchase rate by month")) == [
        None, benchmark.low, benchmark.target, benchmark.high]
    assert (benchmark.low, benchmark.target, benchmark.high) == (0.1987, 0.27, 0.396)


def test_churn_bands_are_the_benchmark() -> None:
    """kpis.md: annual churn above 5-7% is a signal to investigate (registry: above 7%)."""
    benchmark = KPIS["churn_rate"].benchmark
    assert benchmark is not None and benchmark.annual
    assert _steps(_panel("Churn rate, trailing 12 months")) == [None, 0.05, benchmark.high]
    assert benchmark.high == 0.07
