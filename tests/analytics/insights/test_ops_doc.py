"""docs/ops-queries.md, the retention insight questions: each ```sql block is the
sql/retention file its section runs, each command runs as printed and answers with the
numbers of that file, and the clickhouse-client example binds every parameter."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.analytics.insights import (
    CohortQuery,
    PeriodRange,
    parse_brackets,
    run_cohorts,
    run_lifecycle,
)
from retention.cli.main import cli
from retention.settings import get_settings
from sinks.operations import operations
from sinks.sql_files import read_sql

from ..conftest import Db, open_db
from ..histories import random_history

DOC = Path(__file__).resolve().parents[3] / "docs" / "ops-queries.md"
D = dt.date


def sections() -> dict[str, tuple[str, str, str]]:
    """Heading -> (file run, the command before "runs", the ```sql block) of each section
    that runs a sql/retention file."""
    found = {}
    for part in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        runs = re.search(r"`(retention [^`]+)` runs `sql/(retention/[a-z_]+)\.sql`", body)
        if runs is None:
            continue
        blocks = re.findall(r"```sql\n(.*?)```", body, flags=re.S)
        assert len(blocks) == 1, heading
        found[heading] = (runs.group(2), runs.group(1), blocks[0])
    return found


@pytest.fixture(scope="module")
def db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    opened = open_db(chdb_dsn, tmp_path_factory.mktemp("insights-doc"))
    random_history(33, customers=150).insert(opened.client)
    yield opened
    opened.close()


def run_as_printed(db: Db, command: str, monkeypatch: pytest.MonkeyPatch) -> str:
    ch = db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    monkeypatch.setenv("RETENTION_DATA_DIR", str(db.settings.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, [*shlex.split(command)[1:], "--format", "json"],
                                    catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_doc_answers_the_two_questions() -> None:
    """30-day retention week by week, and customers back after going dormant."""
    headings = " / ".join(sections())
    assert "30-day retention" in headings and "week by week" in headings
    assert "dormant" in headings


@pytest.mark.parametrize("heading", sorted(sections()))
def test_each_sql_block_is_the_file_its_command_runs(heading: str) -> None:
    """The doc shows the SQL exactly as the named operation runs it."""
    name, _, sql = sections()[heading]
    assert sql == read_sql(f"{name}.sql")


def test_30_day_retention_week_by_week_runs_as_printed(db: Db,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Weekly first-time cohorts, the days 1-30 bracket: the command's numbers are the
    file's, and the later cohorts' 30 days are not over yet."""
    name, command, _ = next(v for h, v in sections().items() if "30-day" in h)
    assert name == "retention/brackets"
    answer = json.loads(run_as_printed(db, command, monkeypatch))
    table = run_cohorts(db.runner, CohortQuery(
        PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "week", "UTC"),
        brackets=parse_brackets("1-30")))
    assert answer["labels"] == ["0", "1-30"]
    assert answer["cohorts"] == {
        r.cohort.isoformat(): {"size": r.size, "counts": list(r.counts),
                               "shares": list(r.share_of_cohort)} for r in table.rows}
    # A week's cell waits until 30 days after the week's last day are over.
    for cohort, values in answer["cohorts"].items():
        over = D.fromisoformat(cohort) + dt.timedelta(days=7 + 30) <= D(2025, 1, 1)
        assert (values["counts"][1] is not None) == over, cohort
    assert any(v["counts"][1] for v in answer["cohorts"].values())


def test_back_after_dormant_runs_as_printed(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lifecycle command answers per month, with customers resurrecting."""
    name, command, _ = next(v for h, v in sections().items() if "dormant" in h)
    assert name == "retention/lifecycle"
    answer = json.loads(run_as_printed(db, command, monkeypatch))
    expected = run_lifecycle(db.runner, PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "month",
                                                    "UTC"))
    assert [r["resurrecting"] for r in answer] == [p.resurrecting for p in expected]
    assert len(answer) == 12 and sum(r["resurrecting"] for r in answer) > 0


def test_the_clickhouse_client_example_binds_every_parameter() -> None:
    """The console example passes exactly the parameters brackets.sql declares."""
    text = DOC.read_text()
    example = re.search(r"clickhouse-client[^`]*?--queries-file sql/retention/brackets\.sql",
                        text)
    assert example is not None
    given = set(re.findall(r"--param_(\w+)=", example.group(0)))
    assert given == set(operations()["retention/brackets"].parameters)
