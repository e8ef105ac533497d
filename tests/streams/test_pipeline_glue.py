"""The pipeline's glue over fakes: when messages are acknowledged, and when they never are.

The pipeline talks to its consumer, state store, ClickHouse sink and publisher through the
ports of streams/ports.py; here each is a fake that records what happened in one shared
timeline, so a test can say "the ack came after the rows, the outputs and the state".
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from retention.settings import Settings
from schemas import InputEvent
from sinks.base import RowBatch
from streams.outputs import Record, partition_for
from streams.pipeline import Pipeline
from streams.processor import StreamProcessor
from streams.signals import SignalEngine
from tests.streams.helpers import FakeClock, at, purchase, wire

IDLE_S = 10.0
PARTITIONS = 2  # c0 maps to partition 0, c1 and c2 to partition 1


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    generation_id: int | None = 1


class Timeline(list[str]):
    """What the fakes did, in order."""


class FakeConsumer:
    def __init__(self, timeline: Timeline, generation: int = 1) -> None:
        self.timeline = timeline
        self.generation_now = generation
        self.acked: list[FakeMessage] = []

    def generation(self) -> int:
        return self.generation_now

    def end_offset(self, topic: str, partition: int) -> int | None:
        return None

    def ack(self, messages: Iterable[Any]) -> None:
        for m in messages:
            self.acked.append(m)
            self.timeline.append(f"ack {m.topic}:{m.offset}")

    def assigned_partitions(self) -> set[int]:
        return {0, 1}


class FakeStore:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.states: dict[str, dict[str, Any]] = {}

    def read(self, customer_id: str, partition: int | None = None) -> dict[str, Any] | None:
        return self.states.get(customer_id)

    def stored(self) -> list[dict[str, Any]]:
        return list(self.states.values())

    async def store(self, states: Iterable[tuple[str, str, int]], publisher: Any) -> None:
        for customer_id, data, _ in states:
            self.states[customer_id] = json.loads(data)
        self.timeline.append("state stored")


class FakeSink:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.gate: asyncio.Event | None = None  # writes wait for it when set
        self.error: Exception | None = None
        self.seed: list[dict[str, Any]] = []

    @property
    def rows_written(self) -> int:
        return sum(len(r) for r in self.rows.values())

    async def write_until_done(self, batch: RowBatch) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        for table, rows in batch.rows.items():
            self.rows.setdefault(table, []).extend(rows)
        self.timeline.append("rows written")

    def stored_states(self, partitions: set[int]) -> list[dict[str, Any]]:
        return [s for s in self.seed if s["partition"] in partitions]

    def latest_model(self) -> Any:
        return None


class FakePublisher:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.records: list[Record] = []
        self.error: Exception | None = None

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None) -> dict[tuple[str, int], int]:
        if self.error is not None:
            raise self.error
        self.records.extend(records)
        if records:
            self.timeline.append(f"published {len(records)}")
        return {}


@dataclass
class Glue:
    pipeline: Pipeline
    consumer: FakeConsumer
    store: FakeStore
    sink: FakeSink
    publisher: FakePublisher
    clock: FakeClock
    timeline: Timeline
    crashes: list[BaseException]

    async def settle(self) -> None:
        """Let the writer task finish everything queued."""
        writes = self.pipeline.writes
        if writes is not None:
            await asyncio.wait_for(writes.join(), 5)


def build(commit_interval_s: float = 1.0, generation: int = 1) -> Glue:
    settings = Settings(kafka={"partitions": PARTITIONS},  # type: ignore[arg-type]
                        worker={"commit_interval_s": commit_interval_s},  # type: ignore[arg-type]
                        signals={"idle_watermark_after_s": IDLE_S,  # type: ignore[arg-type]
                                 "live_watermark": False,
                                 # events dated 2026 against the real wall clock: publish
                                 # them as live, the glue is about acks, not delivery
                                 "live_horizon_s": math.inf})
    timeline = Timeline()
    clock = FakeClock(1000.0)
    consumer, store = FakeConsumer(timeline, generation), FakeStore(timeline)
    sink, publisher = FakeSink(timeline), FakePublisher(timeline)
    crashes: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashes.append(exc)

    pipeline = Pipeline(settings, consumer=consumer, store=store, sink=sink,
                        publisher=publisher, crash=crash, monotonic=clock)
    # The same processor the worker builds, with a clock the test moves.
    pipeline.processor = StreamProcessor(settings, SignalEngine(settings.signals),
                                         pipeline._load_state, monotonic=clock,
                                         end_offset=consumer.end_offset)
    return Glue(pipeline, consumer, store, sink, publisher, clock, timeline, crashes)


def msg(event: InputEvent, offset: int, generation: int = 1) -> FakeMessage:
    """The message in the partition its key maps to, as a producer would send it."""
    key = event.customer_id.encode()
    return FakeMessage("purchases", partition_for(key, PARTITIONS), offset, key, wire(event),
                       generation)


async def process_and_release(glue: Glue, batch: list[FakeMessage]) -> None:
    """One intake batch, then the quiet topics' watermark moves (as the clock timer does)."""
    await glue.pipeline.process(batch)
    glue.clock.advance(IDLE_S + 1)
    await glue.pipeline.tick()
    await glue.settle()


def test_ack_comes_after_rows_outputs_and_state_are_durable() -> None:
    """A message is acknowledged only after its rows, its outputs and its state are stored."""
    async def scenario() -> None:
        glue = build()
        glue.sink.gate = asyncio.Event()
        await glue.pipeline.process([msg(purchase("c1", at(0)), 0)])
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        await asyncio.sleep(0.05)
        assert glue.consumer.acked == []  # ClickHouse has not answered yet
        glue.sink.gate.set()
        await glue.settle()
        assert [m.offset for m in glue.consumer.acked] == [0]
        first_ack = next(i for i, e in enumerate(glue.timeline) if e.startswith("ack"))
        before = glue.timeline[:first_ack]
        assert "rows written" in before and "state stored" in before
        assert any(e.startswith("published") for e in before)
        assert glue.store.states["c1"]["orders"] == 1
        assert {"purchases", "milestones", "customer_state"} <= set(glue.sink.rows)
        assert glue.pipeline.status()["rows_pending"] == 0
    asyncio.run(scenario())


def test_written_messages_wait_for_the_state_flush() -> None:
    """Rows and outputs written are not enough: the ack waits for the state flush too."""
    async def scenario() -> None:
        glue = build(commit_interval_s=3600)
        await process_and_release(glue, [msg(purchase("c1", at(0)), 0)])
        assert "rows written" in glue.timeline
        assert glue.consumer.acked == [] and glue.store.states == {}
        assert glue.pipeline.status()["rows_pending"] == 1
    asyncio.run(scenario())


def test_a_batch_of_only_redeliveries_is_acknowledged() -> None:
    """Events already applied change no state, and still get acknowledged at the next flush."""
    async def scenario() -> None:
        glue = build()
        event = purchase("c1", at(0))
        await process_and_release(glue, [msg(event, 0)])
        assert [m.offset for m in glue.consumer.acked] == [0]
        await process_and_release(glue, [msg(event, 1)])  # the same event, re-sent
        assert [m.offset for m in glue.consumer.acked] == [0, 1]
        assert glue.pipeline.processor.counters["duplicates"] == 1
        assert glue.pipeline.status()["rows_pending"] == 0
    asyncio.run(scenario())


def test_batch_taken_before_a_rebalance_is_never_applied() -> None:
    """Messages of an older consumer generation change nothing and are not acknowledged."""
    async def scenario() -> None:
        glue = build(generation=2)
        await process_and_release(glue, [msg(purchase("c1", at(0)), 0, generation=1)])
        assert glue.pipeline.processor.counters["events"] == 0
        assert glue.sink.rows == {} and glue.publisher.records == []
        assert glue.consumer.acked == [] and glue.store.states == {}
    asyncio.run(scenario())


def test_hand_over_flushes_before_releasing_partitions() -> None:
    """A rebalance stores every processed state and acks it before the partition is let go."""
    async def scenario() -> None:
        glue = build(commit_interval_s=3600)
        await process_and_release(glue, [msg(purchase("c0", at(0)), 0),
                                         msg(purchase("c1", at(1)), 0)])
        assert glue.consumer.acked == []
        await glue.pipeline.hand_over({0})
        assert {m.offset for m in glue.consumer.acked} == {0}
        assert len(glue.consumer.acked) == 2
        assert set(glue.store.states) == {"c0", "c1"}
        assert glue.timeline.index("state stored") < glue.timeline.index("ack purchases:0")
        assert 0 not in glue.pipeline.processor.partitions
        assert 1 in glue.pipeline.processor.partitions
    asyncio.run(scenario())


@pytest.mark.parametrize("failing", ["sink", "publisher"])
def test_failed_write_stops_the_worker_without_acknowledging(failing: str) -> None:
    """A write that fails for a reason other than an outage crashes the worker, unacked."""
    async def scenario() -> None:
        glue = build()
        error = RuntimeError(f"{failing} broke")
        if failing == "sink":
            glue.sink.error = error
        else:
            glue.publisher.error = error
        await process_and_release(glue, [msg(purchase("c1", at(0)), 0)])
        assert glue.crashes == [error]
        assert glue.consumer.acked == []
        assert glue.store.states == {}
        # Nothing offered after the failure is written by a fresh writer.
        with pytest.raises(RuntimeError, match="stopped after a failed write"):
            await glue.pipeline.process([msg(purchase("c2", at(1)), 1)])
    asyncio.run(scenario())


def test_empty_table_resumes_customers_from_clickhouse() -> None:
    """With the changelog gone, states the sink last wrote carry on (no second first_purchase)."""
    async def scenario() -> None:
        seeded = build()
        await process_and_release(seeded, [msg(purchase("c1", at(0)), 0)])
        glue = build()
        glue.sink.seed = list(seeded.store.states.values())
        await process_and_release(glue, [msg(purchase("c1", at(40)), 1)])
        kinds = [json.loads(r.value)["kind"] for r in glue.publisher.records
                 if r.topic == "milestones"]
        assert "repeat_customer" in kinds and "first_purchase" not in kinds
        assert glue.store.states["c1"]["orders"] == 2
    asyncio.run(scenario())
