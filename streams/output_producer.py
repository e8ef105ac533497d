"""The worker's producers for outputs and state changelogs, started and stopped with it.

Producers of our own (not Faust's, which is reachable only through a private method):
aiokafka's public batch API is what `BatchPublisher` needs, and their configuration comes
from the same settings as every other Kafka client of the project.

Two producers, one per lane: aiokafka sends one produce request per broker at a time, so
with one producer an alert waited behind a state flush's changelog records (thousands of
them, ~0.3 s at 2,000 live events/s on tansu). Outputs (alerts, milestones, re-routed
events, dead letters) have a producer of their own; changelogs never delay them.
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
        self.max_batch_bytes = settings.kafka.max_message_bytes
        self._producers: dict[str, AIOKafkaProducer] = {}
        retry_s = settings.kafka.produce_retry_s
        self.publisher = BatchPublisher(_Lane(self, "outputs"), retry_s)
        self.changelog = BatchPublisher(_Lane(self, "changelog"), retry_s)

    async def on_start(self) -> None:
        for lane in ("outputs", "changelog"):
            # acks=all: a record counts as sent only once the broker has it durably, since
            # the input offsets that caused it are committed after this returns. Batches
            # are whole when handed over (BatchPublisher): no linger, and as large as the
            # broker takes, so a batch's outputs per partition are one round trip (at
            # aiokafka's 16 KiB, a thousand alerts took a dozen, each waiting for the event
            # loop between processed batches: a second and more).
            producer = AIOKafkaProducer(acks="all", linger_ms=0,
                                        max_batch_size=self.max_batch_bytes, **self.config)
            await producer.start()
            self._producers[lane] = producer

    async def on_stop(self) -> None:
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            await producer.stop()

    def producer(self, lane: str) -> AIOKafkaProducer:
        producer = self._producers.get(lane)
        if producer is None:
            raise RuntimeError("the output producer is not started")
        return producer


class _Lane:
    """The three calls BatchPublisher makes, delegated to one lane's started producer."""

    def __init__(self, service: OutputProducer, lane: str) -> None:
        self.service = service
        self.lane = lane

    def create_batch(self) -> Any:
        return self.service.producer(self.lane).create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        return await self.service.producer(self.lane).send_batch(batch, topic,
                                                                 partition=partition)

    async def partitions_for(self, topic: str) -> set[int]:
        partitions: set[int] = await self.service.producer(self.lane).partitions_for(topic)
        return partitions
