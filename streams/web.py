"""The worker's HTTP API: status for `retention status`, named read operations for the CLI.

An embedded chDB folder is open in one process at a time (the worker's), so while the worker
runs the CLI asks it to run named operations (sinks/operations.py: a KPI, a cookbook
question, the latest model, each with typed parameters, read-only) instead of opening the
folder itself. No view takes SQL. When an API token is configured (required for any
non-loopback bind, see WorkerSettings) every view answers 401 unless the request carries it
as a bearer token; /metrics too (Prometheus sends it with `authorization` in its scrape
config, README "Metrics").
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any, Protocol

import faust
from faust.web import Request, Response, View

from retention.settings import WorkerSettings
from sinks.reader import OPERATIONS_PATH
from streams.metrics import WorkerMetrics
from streams.ports import LazySink

STATUS_PATH = "/status/"
# Where Prometheus looks by default (its `metrics_path`).
METRICS_PATH = "/metrics"


class StatusSource(Protocol):
    def status(self) -> dict[str, Any]: ...


def authorized(request: Request, worker: WorkerSettings) -> bool:
    """True when no token is configured, or the request carries it (constant-time compare)."""
    if worker.api_token is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = worker.api_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(view: View) -> Response:
    return view.json({"error": "missing or wrong API token"}, status=401,
                     headers={"WWW-Authenticate": "Bearer"})


def register(app: faust.App, worker: WorkerSettings, pipeline: StatusSource,
             sink: LazySink) -> None:
    @app.page(STATUS_PATH)
    class StatusView(View):
        async def get(self, request: Request) -> Response:
            if not authorized(request, worker):
                return unauthorized(self)
            return self.json(pipeline.status())

    @app.page(OPERATIONS_PATH)
    class OperationsView(View):
        async def post(self, request: Request) -> Response:
            if not authorized(request, worker):
                return unauthorized(self)
            try:
                body = await request.json()
            except ValueError:
                return self.json({"error": "the body is not JSON"}, status=400)
            code, answer = await asyncio.to_thread(sink.open().answer_query, body)
            return self.json(answer, status=code)


def register_metrics(app: faust.App, worker: WorkerSettings, metrics: WorkerMetrics) -> None:
    @app.page(METRICS_PATH)
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            if not authorized(request, worker):
                return unauthorized(self)
            # In the event loop, not a thread: the scrape reads the pipeline's live state.
            body, content_type = metrics.exposition(request.headers.get("Accept", ""))
            # As a header: aiohttp refuses a charset in `content_type`, the formats name one.
            return self.bytes(body, headers={"Content-Type": content_type})
