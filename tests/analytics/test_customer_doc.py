"""docs/ops-queries.md, "Whom do we call today?": the ```sql block is sql/customer/at_risk.sql,
the command runs as printed and answers like the query, the clickhouse-client examples bind
every parameter and run under readonly = 1."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.analytics.customer import at_risk
from retention.cli.main import cli
from retention.settings import get_settings
from sinks.operations import operations
from sinks.sql_files import read_sql

from .conftest import Db

DOC = Path(__file__).resolve().parents[2] / "docs" / "ops-queries.md"


def section() -> str:
    part = re.split(r"^## Whom do we call today\?\n", DOC.read_text(), flags=re.M)[1]
    return part.split("\n## ")[0]


def test_the_sql_block_is_the_file_the_command_runs() -> None:
    """The doc shows sql/customer/at_risk.sql exactly as the named operation runs it."""
    body = section()
    assert "`retention at-risk --min-value 20 --limit 25` runs `sql/customer/at_risk.sql`" in body
    blocks = re.findall(r"```sql\n(.*?)```", body, flags=re.S)
    assert blocks == [read_sql("customer/at_risk.sql")]


def test_the_command_runs_as_printed(shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """`retention at-risk --min-value 20 --limit 25` lists what the query lists."""
    db: Db = shop[0]
    command = re.search(r"`(retention at-risk [^`]+)` runs", section())
    assert command is not None
    ch = db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, [*shlex.split(command.group(1))[1:], "--format",
                                          "json"], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == json.loads(json.dumps(at_risk(db.runner, 20.0, 25)))


def test_the_clickhouse_client_examples_run(shop) -> None:
    """The file example binds exactly the file's parameters; the plain query over the
    customer_profile view runs read-only."""
    body = section()
    example = re.search(r"clickhouse-client[^`]*?--queries-file sql/customer/at_risk\.sql", body)
    assert example is not None
    given = set(re.findall(r"--param_(\w+)=", example.group(0)))
    assert given == set(operations()["customer/at_risk"].parameters)
    plain = re.search(r'--query "(.*?)"', body, flags=re.S)
    assert plain is not None
    rows = shop[0].client.query(plain.group(1), settings={"readonly": 1}).result_rows
    assert len(rows) == 10
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
