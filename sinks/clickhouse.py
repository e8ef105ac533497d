"""The worker's ClickHouse: one insert per table per batch, retried until it lands, and the
few reads the worker makes (seed states, the latest model, the CLI's named operations), all
on one client under one lock."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from retention.analytics.model import FittedModel
from retention.settings import SinkSettings
from sinks.base import RowBatch, SinkBackpressure
from sinks.model_store import load_latest_model
from sinks.operations import OperationRefused, run_operation
from sinks.reader import operation_answer
from sinks.rows import COLUMNS
from sinks.sql_files import read_sql

log = logging.getLogger(__name__)


class ClickHouseSink:
    def __init__(self, client: Client, settings: SinkSettings) -> None:
        self.client = client
        self.settings = settings
        self.rows_written = 0
        self.failed_attempts = 0
        # One chDB/HTTP client is not safe for concurrent queries; the worker's web
        # queries and its inserts share it through this lock.
        self.lock = threading.Lock()

    def write(self, batch: RowBatch) -> None:
        """Insert every table's rows; raise SinkBackpressure on a failure worth retrying.

        Tables already inserted before a failure may be inserted again on retry: that is
        safe because every table is a ReplacingMergeTree keyed by the row's identity.
        """
        for table, rows in list(batch.rows.items()):
            if not rows:
                continue
            try:
                with self.lock:
                    self.client.insert(table, rows, column_names=COLUMNS[table])
            except (ClickHouseError, OSError) as exc:
                self.failed_attempts += 1
                delay = min(
                    self.settings.retry_initial_s * 2 ** min(self.failed_attempts, 10),
                    self.settings.retry_max_s,
                )
                raise SinkBackpressure(f"insert into {table} failed: {exc}", delay) from exc
            self.rows_written += len(rows)
            del batch.rows[table]
        self.failed_attempts = 0

    async def write_until_done(self, batch: RowBatch) -> None:
        """Return once the batch is written; offsets stay unacknowledged meanwhile.

        The insert runs in a thread so the consumer keeps fetching (and heartbeating).
        """
        while True:
            try:
                await asyncio.to_thread(self.write, batch)
                return
            except SinkBackpressure as exc:
                log.warning("ClickHouse write failed, retrying in %.1f s: %s",
                            exc.retry_after_s, exc)
                await asyncio.sleep(exc.retry_after_s)

    def stored_states(self, partitions: set[int]) -> list[dict[str, Any]]:
        """The customer states last written for `partitions`, parsed: where a worker carries
        on when its table is empty because the changelog is gone (the embedded broker keeps
        topics in memory only)."""
        with self.lock:
            rows = self.client.query(read_sql("queries/customer_states.sql")).result_rows
        states: list[dict[str, Any]] = [json.loads(r[0]) for r in rows]
        return [s for s in states if s.get("partition") in partitions]

    def latest_model(self) -> FittedModel | None:
        """The newest `retention model fit` result, None before the first."""
        with self.lock:
            return load_latest_model(self.client)

    def answer_query(self, request: Any) -> tuple[int, dict[str, Any]]:
        """Run a named operation for the worker's HTTP API: (HTTP status, JSON body).

        `request` is the caller's JSON, {"operation": name, "parameters": {...}}; SQL is
        never taken from it (sinks/operations.py). 400: refused before any query; 500: the
        database failed (its own message)."""
        if not isinstance(request, dict) or set(request) - {"operation", "parameters"}:
            return 400, {"error": 'expected {"operation": name, "parameters": {...}}'}
        parameters = request.get("parameters") or {}
        if not isinstance(parameters, dict):
            return 400, {"error": "parameters must be an object"}
        try:
            with self.lock:
                result = run_operation(self.client, request.get("operation"), parameters)
        except OperationRefused as exc:  # raised before any query runs
            return 400, {"error": str(exc)}
        except Exception as exc:  # the caller gets the database's own message
            return 500, {"error": str(exc)}
        return 200, operation_answer(result)
