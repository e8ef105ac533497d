"""The worker's producer for outputs and state changelogs, started and stopped with it.

A producer of our own (not Faust's, which is reachable only through a private method):
aiokafka's public batch API is what `BatchPublisher` needs, and its configuration comes
from the same settings as every other Kafka client of the project.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from retention.kafka import client_config
from retention.settings import Settings
from streams.outputs import BatchPublisher


class OutputProducer(Service):
    def __init__(self, settings: Settings, servers: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = client_config(settings, servers)
        self._producer: AIOKafkaProducer | None = None
        self.publisher = BatchPublisher(self)

    async def on_start(self) -> None:
        # acks=all: an output counts as sent only once the broker has it durably, since
        # the input offsets that caused it are committed after this returns.
        self._producer = AIOKafkaProducer(acks="all", linger_ms=5, **self.config)
        await self._producer.start()

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the output producer is not started")
        return self._producer

    # The three calls BatchPublisher makes, delegated to the started producer.
    def create_batch(self) -> Any:
        return self.producer.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        return await self.producer.send_batch(batch, topic, partition=partition)

    async def partitions_for(self, topic: str) -> set[int]:
        partitions: set[int] = await self.producer.partitions_for(topic)
        return partitions
