"""The ClickHouse sink: one insert per table per batch, retried until it lands."""

from __future__ import annotations

import asyncio
import logging
import threading

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from retention.settings import SinkSettings
from sinks.base import RowBatch, SinkBackpressure
from sinks.rows import COLUMNS

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
