"""The insights run through a running worker's HTTP API (named operations) and answer
exactly as they do on a database opened directly; the CLI asks the worker that holds the
embedded folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from retention.analytics.insights import (
    CohortQuery,
    PeriodRange,
    parse_brackets,
    run_cohorts,
    run_lifecycle,
    run_stickiness,
)
from retention.cli.main import cli
from retention.embedded.broker import free_loopback_port
from retention.embedded.runfile import RunInfo, write_run_file
from retention.settings import Settings, get_settings
from sinks.reader import QueryRunner, WorkerRunner
from streams import web
from streams.app import build_faust_app
from streams.ports import LazySink

from ..conftest import Db, open_db
from ..histories import random_history

T = TypeVar("T")
D = dt.date
WEEKS = PeriodRange(D(2024, 1, 1), D(2024, 10, 1), "week", "Europe/Berlin")


class NoStatus:
    def status(self) -> dict[str, Any]:
        return {}


@pytest.fixture(scope="module")
def db(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    opened = open_db(chdb_dsn, tmp_path_factory.mktemp("insights-worker"),
                     worker={"web_port": free_loopback_port()})
    random_history(22, customers=120).insert(opened.client)
    yield opened
    opened.close()


def serve(settings: Settings, client: Callable[[str], T]) -> T:
    """Run `client(base_url)` in a thread while the worker's web server serves `settings`'
    database (the views streams/web.py registers, over the worker's own sink)."""

    async def main() -> T:
        app = build_faust_app(settings, "127.0.0.1:9")
        web.register(app, settings.worker, NoStatus(), LazySink(settings))
        app.web.init_server()
        await app.web.start_server()
        try:
            w = settings.worker
            return await asyncio.to_thread(client, f"http://{w.web_host}:{w.web_port}")
        finally:
            await app.web.stop_server()

    return asyncio.run(main())


def every_insight(runner: QueryRunner) -> list[Any]:
    return [
        run_cohorts(runner, CohortQuery(WEEKS, intervals=6)),
        run_cohorts(runner, CohortQuery(WEEKS, cohort="recurring", mode="on_or_after",
                                        brackets=parse_brackets("1-7,8-30"))),
        run_lifecycle(runner, WEEKS),
        run_stickiness(runner, WEEKS, "any"),
    ]


def test_the_worker_answers_as_the_database_does(db: Db) -> None:
    """Cohorts (intervals and brackets), lifecycle and stickiness through the worker's API
    equal the direct answers, dates and all."""
    through_worker = serve(db.settings, lambda base: every_insight(WorkerRunner(base)))
    direct = every_insight(db.runner)
    assert through_worker == direct
    assert direct[0].rows and direct[2] and direct[3]


def test_the_cli_asks_the_worker_holding_the_folder(db: Db, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With a live run file, `retention cohorts` runs on the worker: here the CLI's own
    database is empty, the worker's holds the history."""
    empty = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", db.settings.clickhouse.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", empty)
    monkeypatch.setenv("RETENTION_DATA_DIR", str(tmp_path))
    args = ["cohorts", "--start", "2024-01-01", "--end", "2024-10-01", "--period", "week",
            "--tz", "Europe/Berlin", "--intervals", "6", "--format", "json"]

    def client(base: str) -> dict[str, Any]:
        write_run_file(tmp_path / "run.json", RunInfo("127.0.0.1:9", base, os.getpid()))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    answer = serve(db.settings, client)
    expected = every_insight(db.runner)[0]
    assert answer["cohorts"] == {
        r.cohort.isoformat(): {"size": r.size, "counts": list(r.counts),
                               "shares": list(r.share_of_cohort)} for r in expected.rows}
    assert answer["cohorts"]
