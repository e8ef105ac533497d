"""`retention report` as a command: writes one file, says so, shows plain progress lines
when not on a terminal, and refuses bad arguments before touching any database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.cli.main import cli
from retention.settings import get_settings
from tests.analytics.conftest import Db
from tests.analytics.histories import random_history


@pytest.fixture
def env(db: Db, monkeypatch: pytest.MonkeyPatch) -> Db:
    """The command's settings point at the test's database (no worker holds it)."""
    ch = db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    monkeypatch.setenv("RETENTION_DATA_DIR", str(db.settings.data_dir))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_writes_the_report_with_plain_progress(env: Db, tmp_path: Path) -> None:
    """One HTML file, its KPIs those of `retention kpi all` for the same period; one
    progress line per step on stderr (not a terminal here), the summary on stdout."""
    random_history(11).insert(env.client)
    out = tmp_path / "report.html"
    args = ["--start", "2024-01-01", "--end", "2024-07-01"]
    result = CliRunner().invoke(cli, ["report", *args, "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no partial file left
    assert result.stdout.startswith(f"wrote {out} (")
    lines = result.stderr.splitlines()
    # KPIs, cohorts, six months, at risk, alerts, milestones; then the end.
    assert len(lines) == 12
    assert lines[0] == "report: KPIs (1/11)" and lines[-2] == "report: milestones (11/11)"
    assert lines[-1] == "report: done"
    assert "report: trends 2024-03 (5/11)" in lines

    kpis = CliRunner().invoke(cli, ["kpi", "all", *args, "--format", "json"])
    assert kpis.exit_code == 0, kpis.output
    rpr = json.loads(kpis.stdout)["repeat_purchase_rate"]
    assert f'data-output="repeat_purchase_rate" data-value="{json.dumps(rpr)}"' in html


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "2024-07-01", "--end", "2024-07-01"], "must end after it starts"),
    (["--start", "2024-01-01", "--end", "2024-07-01", "--out", "/no/such/dir/r.html"],
     "no folder /no/such/dir"),
    (["--start", "2024-01-01", "--end", "2024-07-01", "--top", "0"], "--top"),
])
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    """A period ending before it starts, a missing folder or a zero list size: usage
    errors (exit 2), before any database is opened."""
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 2
    assert message in result.output
