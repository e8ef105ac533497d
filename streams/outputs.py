"""Publish many records at once: a batch's outputs, or a state flush's changelog records.

`producer.send()` costs ~25 µs of Python per record (a future, a partitioner call and an
accumulator lookup each); a worker raising ~0.7 outputs per event spent more on that than on
its rules. Appending to one aiokafka batch per partition costs ~1 µs per record, and the
partition of a key is cached. Without an explicit partition, records are partitioned exactly
as producer.send() would (murmur2 of the key, as the Java client), so consumers see the same
per-customer order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)


class Record(Protocol):
    topic: str
    key: bytes
    value: bytes


@lru_cache(maxsize=1 << 18)
def partition_for(key: bytes, partitions: int) -> int:
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


class PublisherPort(Protocol):
    """Sends records and says where the last of each (topic, partition) landed."""

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None
                      ) -> dict[tuple[str, int], int]: ...


class BatchProducer(Protocol):
    """The part of aiokafka's AIOKafkaProducer that batch publishing uses."""

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...

    async def partitions_for(self, topic: str) -> set[int]: ...


def discard_outcome(future: asyncio.Future[Any]) -> None:
    """Done callback for a send nobody awaits any more: its failure is not news (what
    abandoned it reports first), and asyncio must not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def _transient(exc: KafkaError) -> bool:
    # Retriable errors aiokafka gave up on after its own retries (a partition with no known
    # leader for a whole delivery timeout: NotLeaderForPartitionError), and a batch that
    # found no room in the producer's buffer in time.
    return exc.retriable or isinstance(exc, KafkaTimeoutError)


class BatchPublisher:
    def __init__(self, producer: BatchProducer, retry_s: float) -> None:
        self.producer = producer
        self.retry_s = retry_s
        self.partition_counts: dict[str, int] = {}

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None) -> dict[tuple[str, int], int]:
        """Send `records` (in order per partition) and wait until the broker has them all.

        `partitions`, if given, names each record's partition. Returns the offset of the
        last record written to each (topic, partition).

        A transient Kafka error sends them all again, in order, every `retry_s` until they
        are written: the worker waits, as it does for ClickHouse, instead of stopping (a
        rebalance still gives the wait up at its deadline). Records the broker already had
        are then written twice, with the same ids (outputs are delivered at least once).
        """
        while True:
            try:
                return await self._publish(records, partitions)
            except KafkaError as exc:
                if not _transient(exc):
                    raise
                log.warning("producing %d records failed (%r); sending them again in %.1f s",
                            len(records), exc, self.retry_s)
                await asyncio.sleep(self.retry_s)

    async def _publish(self, records: Sequence[Record],
                       partitions: Sequence[int] | None) -> dict[tuple[str, int], int]:
        if not records:
            return {}
        producer = self.producer
        open_batches: dict[tuple[str, int], Any] = {}
        sent: list[tuple[asyncio.Future[Any], tuple[str, int], int]] = []

        async def send(tp: tuple[str, int], batch: Any) -> None:
            future = await producer.send_batch(batch, tp[0], partition=tp[1])
            sent.append((future, tp, batch.record_count()))

        try:
            for i, record in enumerate(records):
                if partitions is not None:
                    tp = (record.topic, partitions[i])
                else:
                    count = self.partition_counts.get(record.topic)
                    if count is None:
                        count = await self._partition_count(record.topic)
                    tp = (record.topic, partition_for(record.key, count))
                batch = open_batches.get(tp)
                if batch is None:
                    batch = open_batches[tp] = producer.create_batch()
                if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                    # Full: send it and start the next batch of this partition.
                    await send(tp, batch)
                    batch = open_batches[tp] = producer.create_batch()
                    if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                        raise ValueError(f"a {len(record.value)}-byte record for {tp[0]} is "
                                         "larger than the producer's max batch size")
            for tp, batch in open_batches.items():
                await send(tp, batch)
        except BaseException:
            for future, _, _ in sent:  # abandoned: their errors are nobody's to raise
                future.add_done_callback(discard_outcome)
            raise
        # All awaited, failed or not: a retry must not race batches still in flight.
        outcomes = await asyncio.gather(*(future for future, _, _ in sent),
                                        return_exceptions=True)
        last: dict[tuple[str, int], int] = {}
        for meta, (_, tp, count) in zip(outcomes, sent, strict=True):
            if isinstance(meta, BaseException):
                raise meta
            last[tp] = max(last.get(tp, -1), meta.offset + count - 1)
        return last

    async def _partition_count(self, topic: str) -> int:
        partitions = await self.producer.partitions_for(topic)
        count = self.partition_counts[topic] = len(partitions)
        return count
