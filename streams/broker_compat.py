"""Make Faust read true log ends from brokers whose ListOffsets falls short (tansu).

Faust asks the consumer for "highwaters" to know where changelog recovery ends, and
refuses to start (ConsistencyError) when its RocksDB offsets lie beyond them. The embedded
tansu answers with the last record batch's base offset + 1, so a worker restarted against
a running broker could never start. The corrected answer costs one small fetch per
partition, only when Faust asks (recovery), and is the same as ListOffsets on Apache Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from retention.kafka import true_end_offsets
from retention.settings import Settings


def install(settings: Settings) -> None:
    original = AIOKafkaConsumerThread._highwaters

    async def _true_highwaters(self: AIOKafkaConsumerThread,
                               partitions: list[Any]) -> Mapping[Any, int]:
        reported = await original(self, partitions)
        return await asyncio.to_thread(true_end_offsets, settings, reported)

    AIOKafkaConsumerThread._highwaters = _true_highwaters  # type: ignore[method-assign]
