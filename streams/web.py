"""The worker's HTTP views: status for `retention status`, queries for the CLI.

An embedded chDB folder is open in one process at a time (the worker's), so while the
worker runs the CLI asks it to run read-only queries instead of opening the folder itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid
from typing import Any

import faust
from faust.web import Request, Response, View

from streams.pipeline import Pipeline
from streams.ports import LazySink


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


def register(app: faust.App, pipeline: Pipeline, sink: LazySink) -> None:
    @app.page("/status/")
    class StatusView(View):
        async def get(self, request: Request) -> Response:
            return self.json(pipeline.status())

    @app.page("/query/")
    class QueryView(View):
        async def post(self, request: Request) -> Response:
            body = await request.json()
            clickhouse = sink.open()

            def run() -> dict[str, Any]:
                with clickhouse.lock:
                    result = clickhouse.client.query(
                        body["sql"], parameters=body.get("parameters") or {},
                        settings={"readonly": 2},
                    )
                return {"columns": list(result.column_names),
                        "rows": _jsonable([list(r) for r in result.result_rows])}

            try:
                return self.json(await asyncio.to_thread(run))
            except Exception as exc:  # the caller gets the database's own message
                return self.json({"error": str(exc)}, status=400)
