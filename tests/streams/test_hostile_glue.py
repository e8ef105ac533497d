"""Hostile input through the pipeline's glue: what reaches the broker fits its size limit
(finding 3), and a re-routed message is acknowledged only once its copy is on the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from streams.outputs import BatchPublisher, Record
from tests.streams.helpers import at, purchase, wire
from tests.streams.test_pipeline_glue import FakeMessage, FakePublisher, Glue, Timeline, build

# Apache Kafka's default message.max.bytes: the largest record batch a broker accepts.
BROKER_MAX_MESSAGE_BYTES = 1_048_588


class SizeLimitedBroker(FakePublisher):
    """A publisher that refuses, as Apache Kafka does, any record whose one-record batch
    (as aiokafka builds it) is over message.max.bytes; tansu, the embedded broker, took a
    7 MB record when tried."""

    def __init__(self, timeline: Timeline, limit: int = BROKER_MAX_MESSAGE_BYTES) -> None:
        super().__init__(timeline)
        self.limit = limit

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None) -> dict[tuple[str, int], int]:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")  # never started
        for record in records:
            batch = producer.create_batch()
            batch.append(key=record.key, value=record.value, timestamp=None)
            if batch.size() > self.limit:
                raise MessageSizeTooLargeError(f"a {batch.size()}-byte record batch")
        return await super().publish(records, partitions)


def with_broker(glue: Glue, broker: SizeLimitedBroker) -> Glue:
    glue.publisher = broker
    glue.pipeline.publisher = broker
    return glue


async def process_and_settle(glue: Glue, batch: list[FakeMessage]) -> None:
    await glue.pipeline.process(batch)
    await glue.settle()


def test_a_3_mb_message_no_longer_stops_a_worker_on_a_1_mib_broker() -> None:
    """Finding 3: a 3 MB invalid message used to become a 7 MB dead letter, which a broker
    with the default 1 MiB limit refuses, and the failed write stopped the worker (again
    after each restart). Now its dead letter fits, is produced and the message acked."""
    async def scenario() -> None:
        glue = build()
        with_broker(glue, SizeLimitedBroker(glue.timeline))
        huge = FakeMessage("purchases", 1, 0, b"c1", b"x" * 3_000_000)
        await process_and_settle(glue, [huge])
        assert glue.crashes == []
        (letter,) = glue.publisher.records
        assert letter.topic == "dead-letter" and len(letter.value) < 1_048_576
        await glue.pipeline.hand_over({0, 1})  # forces the flush that releases acks
        assert [m.offset for m in glue.consumer.acked] == [0]
    asyncio.run(scenario())


def test_a_record_over_the_brokers_limit_stops_the_worker_unacknowledged() -> None:
    """Why the dead letter must fit: a write the broker refuses for its size stops the
    worker, unacknowledged, so a RETENTION_KAFKA__MAX_MESSAGE_BYTES above the brokers'
    message.max.bytes would bring the crash loop back."""
    async def scenario() -> None:
        glue = build()
        with_broker(glue, SizeLimitedBroker(glue.timeline, limit=20_000))
        huge = FakeMessage("purchases", 1, 0, b"c1", b"x" * 500_000)
        await process_and_settle(glue, [huge])
        assert len(glue.crashes) == 1
        assert isinstance(glue.crashes[0], MessageSizeTooLargeError)
        assert glue.consumer.acked == []
    asyncio.run(scenario())


def test_aiokafka_batches_take_a_record_larger_than_any_limit() -> None:
    """From the code: BatchPublisher's own check never fires for one large record (aiokafka
    always takes a batch's first record), so only the broker refuses it."""
    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")  # never started
        sent: list[int] = []

        class Recorder:
            def create_batch(self) -> object:
                return producer.create_batch()

            async def send_batch(self, batch: object, topic: str, *, partition: int) -> object:
                sent.append(batch.size())  # type: ignore[attr-defined]
                future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                future.set_result(type("Meta", (), {"offset": 0})())
                return future

            async def partitions_for(self, topic: str) -> set[int]:
                return {0}

        record = type("R", (), {"topic": "dead-letter", "key": b"k",
                                "value": b"x" * 3_000_000})()
        await BatchPublisher(Recorder(), retry_s=0.01).publish([record])
        assert sent and sent[0] > 3_000_000
    asyncio.run(scenario())


def test_a_rerouted_message_is_acked_only_after_its_copy_is_published() -> None:
    """The repartition hop: the keyless original is acknowledged after its copy keyed by
    customer_id is on the broker, and never if publishing fails."""
    async def scenario() -> None:
        glue = build()
        keyless = FakeMessage("purchases", 0, 0, None, wire(purchase("c1", at(0))))
        await process_and_settle(glue, [keyless])
        await glue.pipeline.hand_over({0, 1})
        (copy,) = glue.publisher.records
        assert (copy.topic, copy.key) == ("purchases", b"c1")
        assert glue.timeline.index("published 1") < glue.timeline.index("ack purchases:0")
        assert glue.store.states == {}  # applied nowhere yet: it comes back in partition 1

        failing = build()
        failing.publisher.error = RuntimeError("broker down")
        await process_and_settle(failing, [keyless])
        assert failing.consumer.acked == [] and len(failing.crashes) == 1
    asyncio.run(scenario())


def test_a_stream_of_nothing_but_bad_input_is_acknowledged() -> None:
    """Dead letters and duplicates change no state, yet their flush still comes: without it
    a partition receiving only bad input was never acknowledged (status never idle)."""
    async def scenario() -> None:
        glue = build()
        bad = [FakeMessage("purchases", 1, n, b"c1", b"{broken") for n in range(3)]
        await process_and_settle(glue, bad)
        glue.clock.advance(2.0)  # past the commit interval
        await glue.pipeline.tick()
        await glue.settle()
        assert [m.offset for m in glue.consumer.acked] == [0, 1, 2]
        assert glue.pipeline.status()["rows_pending"] == 0
    asyncio.run(scenario())
