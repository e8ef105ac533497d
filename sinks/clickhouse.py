"""The worker's ClickHouse: one insert per table per batch, retried until it lands (or the
worker lets its partitions go), and the few reads the worker makes (seed states, the latest
model, the CLI's named operations), all on one client under one lock."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from retention.analytics.model import FittedModel
from retention.settings import SinkSettings
from sinks.base import RowBatch, SinkBackpressure
from sinks.model_store import load_latest_model
from sinks.operations import OperationRefused, run_operation
from sinks.reader import operation_answer
from sinks.rows import COLUMNS
from sinks.sql_files import read_sql

log = logging.getLogger(__name__)


class OutageSwitch:
    """Fault injection in the write path: inserts fail while `path` names a time ahead.

    Installed only when `RETENTION_SINK__OUTAGE_FILE` is set (tests, `make faults`). The
    file holds the epoch second the outage ends, so a test starts and ends an outage from
    outside the worker's process; the real ClickHouse (chDB or a server) stays underneath
    and the failure is the one clickhouse-connect raises when a server does not answer.
    """

    def __init__(self, path: Path, wall_time: Callable[[], float] = time.time) -> None:
        self.path = path
        self.wall_time = wall_time

    def check(self) -> None:
        try:
            until = float(self.path.read_text())
        except (OSError, ValueError):
            return  # no file (or not written yet): no outage
        if self.wall_time() < until:
            raise OperationalError(f"injected outage: ClickHouse refuses writes until "
                                   f"{until:.0f} ({self.path})")


class ClickHouseSink:
    def __init__(self, client: Client, settings: SinkSettings) -> None:
        self.client = client
        self.settings = settings
        self.rows_written = 0
        self.failed_attempts = 0
        # For the worker's metrics: failed inserts per table, batches written again after one.
        self.write_errors: Counter[str] = Counter()
        self.write_retries = 0
        self.outage = OutageSwitch(settings.outage_file) if settings.outage_file else None
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
                if self.outage is not None:
                    self.outage.check()
                with self.lock:
                    self.client.insert(table, rows, column_names=COLUMNS[table])
            except (ClickHouseError, OSError) as exc:
                self.failed_attempts += 1
                self.write_errors[table] += 1
                delay = min(
                    self.settings.retry_initial_s * 2 ** min(self.failed_attempts, 10),
                    self.settings.retry_max_s,
                )
                raise SinkBackpressure(f"insert into {table} failed: {exc}", delay) from exc
            self.rows_written += len(rows)
            del batch.rows[table]
        self.failed_attempts = 0

    async def write_until_done(self, batch: RowBatch, give_up: asyncio.Event) -> bool:
        """Write the batch, retrying with backoff while ClickHouse refuses it: True once
        written, False if `give_up` is set while it keeps failing.

        The worker sets `give_up` when a rebalance takes its partitions away: an outage must
        not hold up the hand-over, and the batch's messages stay unacknowledged, so their
        next owner writes them. An attempt under way is not interrupted; it runs in a thread,
        so the consumer keeps fetching (and heartbeating) meanwhile.
        """
        while True:
            try:
                await asyncio.to_thread(self.write, batch)
                return True
            except SinkBackpressure as exc:
                log.warning("ClickHouse write failed, retrying in %.1f s: %s",
                            exc.retry_after_s, exc)
                try:
                    await asyncio.wait_for(give_up.wait(), exc.retry_after_s)
                except TimeoutError:
                    self.write_retries += 1
                    continue
                log.warning("ClickHouse write given up: the partitions were handed over")
                return False

    def stored_states(self, partitions: set[int]) -> Iterator[tuple[str, str, int]]:
        """(customer_id, state JSON, partition) of the states last written for `partitions`,
        streamed: where a worker carries on when its table is empty because the changelog
        is gone (the embedded broker keeps topics in memory only). A million states pass
        through as rows, never held at once (parsed, they took ~8 KB each)."""
        if not partitions:
            return
        with self.lock, self.client.query_rows_stream(
                read_sql("queries/customer_states.sql"),
                parameters={"partitions": sorted(partitions)}) as rows:
            for customer_id, state, partition in rows:
                yield customer_id, state, int(partition)

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
