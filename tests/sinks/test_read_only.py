"""The reader's client: `retention kpi`, `query` and `model show` under the read-only DSN,
in a read-only session, creating and migrating nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from retention.cli.kpi import kpi
from retention.settings import Settings, get_settings
from sinks import client as client_module
from sinks.client import create_client
from sinks.reader import ClientRunner, open_runner

YEAR = {"start": "2024-01-01", "end": "2025-01-01"}


@pytest.fixture
def database(chdb_dsn: str, tmp_path: Path) -> Any:
    """A migrated database holding one NPS promoter and one detractor."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    writer = ClientRunner(Settings(clickhouse={"dsn": chdb_dsn, "database": name},
                                   data_dir=tmp_path))
    for event_id, score in (("e1", 10), ("e2", 3)):
        writer.client.command(
            "INSERT INTO survey_responses (event_id, customer_id, occurred_at, survey, score) "
            f"VALUES ('{event_id}', 'c-{event_id}', '2024-05-01 10:00:00', 'nps', {score})")
    yield name
    writer.client.command(f"DROP DATABASE IF EXISTS `{name}`")
    writer.close()


def _reader_settings(chdb_dsn: str, tmp_path: Path, database: str) -> Settings:
    return Settings(clickhouse={"dsn": chdb_dsn, "readonly_dsn": chdb_dsn,
                                "database": database}, data_dir=tmp_path)


def test_the_reader_reads_and_refuses_writes(chdb_dsn: str, tmp_path: Path,
                                             database: str) -> None:
    """With a read-only DSN configured the CLI's runner answers operations, and its session
    refuses a write (here: an insert, as a dashboard user's would be)."""
    runner = open_runner(_reader_settings(chdb_dsn, tmp_path, database))
    assert isinstance(runner, ClientRunner)
    assert runner.run("kpis/nps", YEAR).rows == [[0.0]]  # one promoter, one detractor
    with pytest.raises(Exception, match="READONLY"):
        runner.client.command("INSERT INTO survey_responses (event_id) VALUES ('x')")
    runner.close()


def test_the_reader_creates_nothing(chdb_dsn: str, tmp_path: Path) -> None:
    """A missing database is an error for the reader, never created (nor migrated)."""
    missing = f"t_{uuid.uuid4().hex[:12]}"
    with pytest.raises(Exception, match=missing):
        runner = ClientRunner(_reader_settings(chdb_dsn, tmp_path, missing), read_only=True)
        runner.run("kpis/nps", YEAR)
    probe = create_client(Settings(clickhouse={"dsn": chdb_dsn}, data_dir=tmp_path))
    assert probe.command("SELECT count() FROM system.databases WHERE name = {d:String}",
                         parameters={"d": missing}) == 0


def test_a_server_reader_connects_with_the_readonly_dsn_only(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Against a server, the reader's client is opened with the read-only DSN and sends no
    statement of its own (no CREATE DATABASE: the role could not, and must not)."""
    opened: list[dict[str, Any]] = []

    class Recording:
        database = None

        def command(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"the reader sent {args}")

    def get_client(**options: Any) -> Recording:
        opened.append(options)
        return Recording()

    monkeypatch.setattr(client_module.clickhouse_connect, "get_client", get_client)
    settings = Settings(clickhouse={
        "dsn": "https://sink:writer-pw@ch.internal:8443/retention",
        "readonly_dsn": "https://ops:reader-pw@ch.internal:8443/retention"}, data_dir=tmp_path)
    reader = create_client(settings, read_only=True)
    assert [o["dsn"] for o in opened] == ["https://ops:reader-pw@ch.internal:8443/retention"]
    assert reader.database == "retention"


def test_retention_kpi_runs_under_the_reader(chdb_dsn: str, tmp_path: Path, database: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`retention kpi nps` with RETENTION_CLICKHOUSE__READONLY_DSN set answers as before."""
    for name, value in {"DSN": chdb_dsn, "READONLY_DSN": chdb_dsn,
                        "DATABASE": database}.items():
        monkeypatch.setenv(f"RETENTION_CLICKHOUSE__{name}", value)
    monkeypatch.setenv("RETENTION_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(kpi, ["nps", "--start", YEAR["start"], "--end", YEAR["end"],
                                          "--format", "json"], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"nps": 0.0}
