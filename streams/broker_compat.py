"""The worker's consumer thread, and work-arounds for the embedded tansu broker.

`LiveConsumerThread` is Faust's consumer thread with the fetch wait of the settings (Faust
fixes it at 1500 ms; tansu holds a fetch for much of it even when records arrive, which a
live event then waits for). The rest applies only when the broker is tansu:

Faust asks the consumer for "highwaters" to know where changelog recovery ends, and
refuses to start (ConsistencyError) when its RocksDB offsets lie beyond them. Tansu answers
ListOffsets with the last record batch's base offset + 1, so a worker restarted against a
running tansu could never start. The corrected answer costs one small fetch per partition,
only when Faust asks (recovery); on Apache Kafka ListOffsets is right and is used as is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from retention.kafka import true_end_offsets
from retention.settings import Settings


class LiveConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, fetching with `RETENTION_KAFKA__FETCH_MAX_WAIT_MS`."""

    settings: Settings

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher: Faust passes no other
        # way in (tests/contracts/test_private_apis.py pins the name).
        consumer._fetch_max_wait_ms = self.settings.kafka.fetch_max_wait_ms
        return consumer


class TansuConsumerThread(LiveConsumerThread):
    """The live consumer thread, with true log ends for recovery."""

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        reported = await super()._highwaters(partitions)
        return await asyncio.to_thread(true_end_offsets, self.settings, reported)
