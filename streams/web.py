"""The worker's HTTP views: status for `retention status`, queries for the CLI.

An embedded chDB folder is open in one process at a time (the worker's), so while the
worker runs the CLI asks it to run read-only queries instead of opening the folder itself.
"""

from __future__ import annotations

import asyncio

import faust
from faust.web import Request, Response, View

from streams.pipeline import Pipeline
from streams.ports import LazySink


def register(app: faust.App, pipeline: Pipeline, sink: LazySink) -> None:
    @app.page("/status/")
    class StatusView(View):
        async def get(self, request: Request) -> Response:
            return self.json(pipeline.status())

    @app.page("/query/")
    class QueryView(View):
        async def post(self, request: Request) -> Response:
            body = await request.json()
            answer = await asyncio.to_thread(sink.open().answer_query, body)
            return self.json(answer, status=400 if "error" in answer else 200)
