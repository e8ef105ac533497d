"""Work-arounds for the embedded tansu broker, applied only when the broker is tansu.

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

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from retention.kafka import true_end_offsets
from retention.settings import Settings


class TansuConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, with true log ends for recovery."""

    settings: Settings

    async def _highwaters(self, partitions: list[Any]) -> Mapping[Any, int]:
        reported = await super()._highwaters(partitions)
        return await asyncio.to_thread(true_end_offsets, self.settings, reported)
