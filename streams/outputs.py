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
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from aiokafka.partitioner import murmur2


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


class BatchPublisher:
    def __init__(self, producer: BatchProducer) -> None:
        self.producer = producer
        self.partition_counts: dict[str, int] = {}

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None) -> dict[tuple[str, int], int]:
        """Send `records` (in order per partition) and wait until the broker has them all.

        `partitions`, if given, names each record's partition. Returns the offset of the
        last record written to each (topic, partition).
        """
        if not records:
            return {}
        producer = self.producer
        open_batches: dict[tuple[str, int], Any] = {}
        sent: list[tuple[asyncio.Future[Any], tuple[str, int], int]] = []

        async def send(tp: tuple[str, int], batch: Any) -> None:
            future = await producer.send_batch(batch, tp[0], partition=tp[1])
            sent.append((future, tp, batch.record_count()))

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
        metadata = await asyncio.gather(*(future for future, _, _ in sent))
        last: dict[tuple[str, int], int] = {}
        for meta, (_, tp, count) in zip(metadata, sent, strict=True):
            last[tp] = max(last.get(tp, -1), meta.offset + count - 1)
        return last

    async def _partition_count(self, topic: str) -> int:
        partitions = await self.producer.partitions_for(topic)
        count = self.partition_counts[topic] = len(partitions)
        return count
