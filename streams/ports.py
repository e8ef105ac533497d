"""What the pipeline needs from the outside world, and the adapters that give it.

The pipeline talks to these protocols only, so its unit tests run it over fakes (a consumer
that records acks, an in-memory store and sink, a publisher that can fail) and the worker
over Faust, RocksDB, ClickHouse and aiokafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

import faust
from faust.transport.consumer import Consumer
from faust.types import TP

from retention.analytics.model.fitted import FittedModel
from retention.settings import Settings
from sinks.base import RowBatch
from sinks.clickhouse import ClickHouseSink
from sinks.client import create_client
from sinks.migrations import migrate
from streams.outputs import PublisherPort


class InputMessage(Protocol):
    """A consumed message as the transport hands it over (a Faust `Message`)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def generation_id(self) -> int | None: ...


class ConsumerPort(Protocol):
    def generation(self) -> int:
        """The consumer group generation now: messages of an older one are not ours."""

    def end_offset(self, topic: str, partition: int) -> int | None:
        """The log end as of the consumer's last fetch (None if unknown or not assigned);
        0 when the group's committed offset is already there: nothing is left to deliver."""

    def ack(self, messages: Iterable[Any]) -> None:
        """Let the offsets of `messages` be committed."""

    def assigned_partitions(self) -> set[int]: ...


class StateStorePort(Protocol):
    def read(self, customer_id: str, partition: int | None = None) -> dict[str, Any] | None: ...

    def stored(self) -> Iterable[dict[str, Any]]:
        """Every stored state, read one at a time (a million do not fit in memory at once)."""

    async def store(self, states: Iterable[tuple[str, str, int]],
                    publisher: PublisherPort) -> None: ...

    def seed(self, states: Iterable[tuple[str, str, int]]) -> int:
        """Put (customer_id, state JSON, partition) triples in the local table only (no
        changelog); how many."""


class SinkPort(Protocol):
    @property
    def rows_written(self) -> int: ...

    async def write_until_done(self, batch: RowBatch, give_up: asyncio.Event) -> bool:
        """True once `batch` is written; False if `give_up` is set while it keeps failing."""

    def stored_states(self, partitions: set[int]) -> Iterable[tuple[str, str, int]]:
        """(customer_id, state JSON, partition) last written for `partitions`, streamed."""

    def latest_model(self) -> Any: ...


class FaustConsumer:
    """ConsumerPort over a Faust app's consumer."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    def generation(self) -> int:
        return self.app.consumer_generation_id

    def end_offset(self, topic: str, partition: int) -> int | None:
        # The high watermark of the consumer's last fetch (right on tansu too, unlike its
        # ListOffsets); None before the first fetch or for a partition not assigned here.
        tp = TP(topic, partition)
        consumer = cast(Consumer, self.app.consumer)
        try:
            end: int | None = consumer.highwater(tp)
        except Exception:  # aiokafka raises IllegalStateError for an unassigned partition
            return None
        # After a restart or rebalance nothing is taken in from a partition committed up to
        # its end, and nothing will be: 0 says so, or the watermark would wait for it
        # (streams/processor/reorder.py). Committed offsets only move past acknowledged
        # messages, so this never hides one still to come.
        committed = consumer._committed_offset.get(tp)  # Faust's, since its seek
        if end is not None and committed is not None and end <= committed:
            return 0
        return end

    def ack(self, messages: Iterable[Any]) -> None:
        consumer = self.app.consumer
        for message in messages:
            message.ack(consumer)

    def assigned_partitions(self) -> set[int]:
        return {tp.partition for tp in self.app.assignor.assigned_actives()}


class LazySink:
    """The ClickHouse sink, opened (and migrated) on first use: `open()` fails fast."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sink: ClickHouseSink | None = None

    def open(self) -> ClickHouseSink:
        if self._sink is None:
            client = create_client(self.settings)
            migrate(client)
            self._sink = ClickHouseSink(client, self.settings.sink)
        return self._sink

    @property
    def rows_written(self) -> int:
        return self._sink.rows_written if self._sink is not None else 0

    def write_errors(self) -> Mapping[str, int]:
        return self._sink.write_errors if self._sink is not None else {}

    def write_retries(self) -> int:
        return self._sink.write_retries if self._sink is not None else 0

    async def write_until_done(self, batch: RowBatch, give_up: asyncio.Event) -> bool:
        return await self.open().write_until_done(batch, give_up)

    def stored_states(self, partitions: set[int]) -> Iterable[tuple[str, str, int]]:
        return self.open().stored_states(partitions)

    def latest_model(self) -> FittedModel | None:
        return self.open().latest_model()
