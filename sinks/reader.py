"""Reading ClickHouse from the CLI, wherever it is.

A ClickHouse server, or an embedded chDB folder no worker holds, is queried directly.
An embedded folder held by a running worker (chDB allows one process per folder) is
queried through that worker's `/query/` view; both ends of that exchange are here
(`WorkerRunner` asks, `query_answer` is what the view sends back).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from clickhouse_connect.driver.query import QueryResult as ClientQueryResult

from retention.embedded.runfile import read_run_file
from retention.settings import Settings
from sinks.client import create_client
from sinks.migrations import migrate


class QueryError(RuntimeError):
    """ClickHouse refused a query; the message is the database's own."""


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
    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult: ...

    def close(self) -> None: ...


class ClientRunner:
    """Runs queries on a clickhouse-connect client this process owns (migrated on open)."""

    def __init__(self, settings: Settings) -> None:
        self.client = create_client(settings)
        migrate(self.client)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        try:
            result = self.client.query(sql, parameters=parameters or {})
        except Exception as exc:
            raise QueryError(str(exc)) from exc
        return QueryResult.of(result)

    def close(self) -> None:
        self.client.close()


class WorkerRunner:
    """Runs read-only queries inside the running worker that holds the chDB folder."""

    def __init__(self, worker_url: str, timeout_s: float = 120) -> None:
        self.url = worker_url.rstrip("/") + "/query/"
        self.timeout_s = timeout_s

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        body = json.dumps({"sql": sql, "parameters": parameters or {}}, default=str).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
        if "error" in payload:
            raise QueryError(payload["error"])
        return QueryResult(payload["columns"], payload["rows"])

    def close(self) -> None:
        pass


def query_answer(result: ClientQueryResult) -> dict[str, Any]:
    """What the worker's `/query/` view sends a WorkerRunner: {"columns", "rows"}, values
    made JSON-safe (dates as ISO text); a failure is sent as {"error": message}."""
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


def open_runner(settings: Settings) -> QueryRunner:
    """The running worker's query view when it holds the embedded folder, else a client."""
    if settings.clickhouse.is_embedded:
        run = read_run_file(settings.run_file)
        if run is not None:
            return WorkerRunner(run.worker_url)
    return ClientRunner(settings)
