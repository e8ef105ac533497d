"""Reading ClickHouse from the CLI, wherever it is, through named operations only.

A ClickHouse server, or an embedded chDB folder no worker holds, is read directly
(`ClientRunner`). An embedded folder held by a running worker (chDB allows one process per
folder) is read through that worker's HTTP API (`WorkerRunner`), which runs the same named
operations (sinks/operations.py) and nothing else; `operation_answer` is what it sends back.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from clickhouse_connect.driver.query import QueryResult as ClientQueryResult

from retention.embedded.runfile import read_run_file
from retention.settings import Settings
from sinks.client import create_client
from sinks.migrations import migrate
from sinks.operations import run_operation

# The worker's view of named operations; the CLI posts {"operation", "parameters"} to it.
OPERATIONS_PATH = "/operations/"


class QueryError(RuntimeError):
    """A query was refused or failed; the message is the database's or the worker's own."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    @classmethod
    def of(cls, result: ClientQueryResult) -> QueryResult:
        """A clickhouse-connect result, rows as lists."""
        return cls(list(result.column_names), [list(r) for r in result.result_rows])


class QueryRunner(Protocol):
    def run(self, operation: str, parameters: Mapping[str, Any]) -> QueryResult:
        """The rows of a named operation (sinks/operations.py)."""

    def close(self) -> None: ...


class ClientRunner:
    """Runs operations on a clickhouse-connect client this process owns.

    The writer (default) migrates on open; `read_only` connects with the read-only DSN
    when one is configured, in a read-only session, and never migrates or creates anything.
    `query` runs any SQL: for code that holds the database itself (the demo, bench, tests).
    """

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.client = create_client(settings, read_only=read_only)
        if not read_only:
            migrate(self.client)

    def run(self, operation: str, parameters: Mapping[str, Any]) -> QueryResult:
        try:
            return QueryResult.of(run_operation(self.client, operation, parameters))
        except Exception as exc:  # refused or failed: the caller gets the message
            raise QueryError(str(exc)) from exc

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        try:
            result = self.client.query(sql, parameters=parameters or {})
        except Exception as exc:
            raise QueryError(str(exc)) from exc
        return QueryResult.of(result)

    def close(self) -> None:
        self.client.close()


class WorkerRunner:
    """Runs named operations inside the running worker that holds the chDB folder."""

    def __init__(self, worker_url: str, headers: Mapping[str, str] | None = None,
                 timeout_s: float = 120) -> None:
        self.url = worker_url.rstrip("/") + OPERATIONS_PATH
        # headers: WorkerSettings.auth_headers(), the API token when one is set.
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.timeout_s = timeout_s

    def run(self, operation: str, parameters: Mapping[str, Any]) -> QueryResult:
        body = json.dumps({"operation": operation, "parameters": _jsonable(dict(parameters))})
        request = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                         headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise QueryError("the worker refused the API token: set "
                                 "RETENTION_WORKER__API_TOKEN to the worker's") from exc
            payload = _error_payload(exc)
        except OSError as exc:
            raise QueryError(f"the worker at {self.url} does not answer: {exc}") from exc
        if "error" in payload:
            raise QueryError(payload["error"])
        return QueryResult(payload["columns"], payload["rows"])

    def close(self) -> None:
        pass


def _error_payload(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        payload = json.loads(exc.read() or b"{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict) or "error" not in payload:
        return {"error": f"the worker answered HTTP {exc.code}"}
    return payload


def operation_answer(result: ClientQueryResult) -> dict[str, Any]:
    """What the worker's operations view sends a WorkerRunner: {"columns", "rows"}, values
    made JSON-safe (dates as ISO text)."""
    return {"columns": list(result.column_names),
            "rows": _jsonable([list(r) for r in result.result_rows])}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def worker_holding_folder(settings: Settings) -> str | None:
    """The URL of the running worker that holds the embedded chDB folder, if one does."""
    if not settings.clickhouse.is_embedded:
        return None
    run = read_run_file(settings.run_file)
    return run.worker_url if run is not None else None


def open_runner(settings: Settings) -> QueryRunner:
    """The running worker's operations view when it holds the embedded folder, else a
    client: the read-only one when a read-only DSN is configured."""
    worker_url = worker_holding_folder(settings)
    if worker_url is not None:
        return WorkerRunner(worker_url, settings.worker.auth_headers())
    return ClientRunner(settings, read_only=settings.clickhouse.readonly_dsn is not None)
