"""The worker's HTTP API over a real aiohttp server: named operations only, Faust's own pages
off, and the bearer token when one is configured."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from retention.embedded.broker import free_loopback_port
from retention.settings import Settings, WorkerSettings
from sinks.reader import QueryError, WorkerRunner
from streams import web
from streams.app import build_faust_app
from streams.ports import LazySink

TOKEN = "s3cret-token-0123456789"
PASSWD_LINE = "root:"
STATUS = {"rows_pending": 0, "counters": {"events": 7}}
T = TypeVar("T")


class FixedStatus:
    def status(self) -> dict[str, Any]:
        return STATUS


def _settings(chdb_dsn: str, tmp_path: Path, **worker: Any) -> Settings:
    return Settings(clickhouse={"dsn": chdb_dsn, "database": f"t_{uuid.uuid4().hex[:12]}"},
                    data_dir=tmp_path,
                    worker={"web_port": free_loopback_port(), **worker})


def _serve(settings: Settings, client: Callable[[str], T]) -> T:
    """Run `client(base_url)` in a thread while the worker's web server serves."""

    async def main() -> T:
        app = build_faust_app(settings, "127.0.0.1:9")
        web.register(app, settings.worker, FixedStatus(), LazySink(settings))
        app.web.init_server()
        await app.web.start_server()
        try:
            w = settings.worker
            return await asyncio.to_thread(client, f"http://{w.web_host}:{w.web_port}")
        finally:
            await app.web.stop_server()

    return asyncio.run(main())


def _call(url: str, body: Any = None, headers: dict[str, str] | None = None,
          raw: bytes | None = None) -> tuple[int, str]:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {},
                                     method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def open_api(chdb_dsn: str, tmp_path: Path) -> Iterator[Settings]:
    """A loopback worker without a token, its database migrated and holding one alert."""
    settings = _settings(chdb_dsn, tmp_path)
    sink = LazySink(settings).open()
    sink.client.command("INSERT INTO churn_risk_alerts (alert_id, customer_id, rule_id, "
                        "decided_at, raised_at, score, level, rules, payload) VALUES "
                        "('a1', 'c1', 'low_csat', '2024-05-01 12:00:00', "
                        "'2024-05-01 12:00:00', 40, 'medium', ['low_csat'], '{}')")
    yield settings
    sink.client.command(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")


def test_the_cli_runs_named_operations_through_the_worker(open_api: Settings) -> None:
    """WorkerRunner gets a KPI and a cookbook question's rows, and status is served."""

    def client(base: str) -> tuple[Any, Any, tuple[int, str]]:
        runner = WorkerRunner(base)
        nps = runner.run("kpis/nps", {"start": "2024-01-01", "end": "2025-01-01"})
        alerts = runner.run("cookbook/customer_alerts", {"customer_id": "c1"})
        return nps, alerts, _call(base + "/status/")

    nps, alerts, status = _serve(open_api, client)
    assert (nps.columns, nps.rows) == (["nps"], [[None]])  # nobody answered: undefined
    assert [(r["alert_id"], r["rule_id"]) for r in alerts.dicts()] == [("a1", "low_csat")]
    assert (status[0], json.loads(status[1])) == (200, STATUS)


@pytest.mark.parametrize("request_body", [
    {"sql": "SELECT * FROM file('/etc/passwd', 'LineAsString')"},
    {"sql": "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')"},
    {"sql": "SELECT * FROM remote('127.0.0.1:9', system.one)"},
    {"operation": "SELECT * FROM file('/etc/passwd', 'LineAsString')"},
    {"operation": "kpis/nps", "parameters": {
        "start": "2024-01-01", "end": "2025-01-01') UNION ALL SELECT * FROM file('/etc/passwd"}},
    {"operation": "kpis/nps", "parameters": {
        "start": "2024-01-01", "end": "2025-01-01", "readonly": 0}},
    {"operation": "kpis/nps", "parameters": {"start": "2024-01-01", "end": "2025-01-01"},
     "settings": {"readonly": 0}},
    {"operation": "queries/create_database", "parameters": {"database": "x"}},
    ["kpis/nps"],
])
def test_sql_table_functions_and_overrides_are_refused(open_api: Settings,
                                                       request_body: Any) -> None:
    """No request body reaches ClickHouse as SQL, a setting or an unknown operation: 400,
    and no file content comes back."""
    code, text = _serve(open_api, lambda base: _call(base + "/operations/", request_body))
    assert code == 400, text
    assert PASSWD_LINE not in text and "error" in json.loads(text)


def test_the_old_query_view_is_gone(open_api: Settings) -> None:
    """POST /query/ with file() returned /etc/passwd before; now there is no such view."""
    code, text = _serve(open_api, lambda base: _call(
        base + "/query/", {"sql": "SELECT * FROM file('/etc/passwd', 'LineAsString')"}))
    assert code in (404, 405)
    assert PASSWD_LINE not in text


def test_a_body_that_is_not_json_is_refused(open_api: Settings) -> None:
    code, text = _serve(open_api, lambda base: _call(base + "/operations/", raw=b"{not json"))
    assert code == 400, text


@pytest.mark.parametrize("path", ["/table/", "/table/customer-state/", "/router/",
                                  "/graph/", "/stats/", "/assignment/", "/performance/"])
def test_fausts_own_pages_are_off(open_api: Settings, path: str) -> None:
    """Faust's table, router, graph, stats and metrics pages are not served."""
    code, _ = _serve(open_api, lambda base: _call(base + path))
    assert code == 404


@pytest.fixture
def guarded_api(chdb_dsn: str, tmp_path: Path) -> Settings:
    return _settings(chdb_dsn, tmp_path, api_token=TOKEN)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"},
])
def test_a_missing_or_wrong_token_is_401(guarded_api: Settings,
                                         headers: dict[str, str]) -> None:
    """Both views answer 401 without the configured bearer token, and never echo it."""

    def client(base: str) -> list[tuple[int, str]]:
        return [_call(base + "/status/", headers=headers),
                _call(base + "/operations/", {"operation": "kpis/nps", "parameters": {
                    "start": "2024-01-01", "end": "2025-01-01"}}, headers=headers)]

    for code, text in _serve(guarded_api, client):
        assert code == 401
        assert TOKEN not in text


def test_the_right_token_is_let_through(guarded_api: Settings) -> None:
    """The CLI's headers (WorkerSettings.auth_headers) open both views; without them
    WorkerRunner says to set the token."""

    def client(base: str) -> tuple[tuple[int, str], Any, str]:
        status = _call(base + "/status/", headers=guarded_api.worker.auth_headers())
        rows = WorkerRunner(base, guarded_api.worker.auth_headers()).run("model/latest_model",
                                                                        {})
        try:
            WorkerRunner(base).run("model/latest_model", {})
        except QueryError as exc:
            return status, rows, str(exc)
        raise AssertionError("an unauthenticated run went through")

    status, rows, refusal = _serve(guarded_api, client)
    assert status[0] == 200
    assert rows.rows == []  # no model fitted yet
    assert "RETENTION_WORKER__API_TOKEN" in refusal


def test_any_non_loopback_bind_needs_a_token(tmp_path: Path) -> None:
    """The worker will not be configured to listen beyond loopback without a token (and a
    token must be long enough to be one)."""
    for host in ("0.0.0.0", "10.1.2.3", "worker.internal", "::"):
        with pytest.raises(ValidationError, match="RETENTION_WORKER__API_TOKEN"):
            WorkerSettings(web_host=host)
        assert WorkerSettings(web_host=host, api_token=TOKEN).api_token is not None
    for host in ("127.0.0.1", "::1", "localhost"):
        assert WorkerSettings(web_host=host).web_is_loopback
    with pytest.raises(ValidationError, match="at least"):
        WorkerSettings(api_token="short")


def test_a_non_loopback_worker_still_checks_the_token(chdb_dsn: str, tmp_path: Path) -> None:
    """Bound to every interface (as in a container), the API answers only with the token."""
    settings = _settings(chdb_dsn, tmp_path, web_host="0.0.0.0", api_token=TOKEN)
    port = settings.worker.web_port

    def client(_: str) -> tuple[int, int]:
        url = f"http://127.0.0.1:{port}/status/"
        return (_call(url)[0], _call(url, headers=settings.worker.auth_headers())[0])

    assert _serve(settings, client) == (401, 200)
