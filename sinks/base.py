"""The sink contract: rows are added per (table), written as one batch, kept until written.

The worker calls `write()` at the end of every stream batch, before the batch's offsets
are acknowledged: a row is in ClickHouse before Kafka forgets the message that carried it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from sinks.rows import Row


class SinkBackpressure(RuntimeError):
    """The store refuses writes for now; retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RowBatch:
    """Rows waiting to be written, grouped by table."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = defaultdict(list)

    def add(self, table: str, row: Row) -> None:
        self.rows[table].append(row)

    def extend(self, other: RowBatch) -> None:
        """Add every row of `other`, after this batch's rows of the same table."""
        for table, rows in other.rows.items():
            self.rows[table].extend(rows)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())


class Sink(Protocol):
    def write(self, batch: RowBatch) -> None:
        """Write every row of `batch` or raise; never write part of a table's rows twice."""
