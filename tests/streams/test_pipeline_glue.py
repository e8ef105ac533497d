"""The pipeline's glue over fakes: when messages are acknowledged, and when they never are.

The pipeline talks to its consumer, state store, ClickHouse sink and publisher through the
ports of streams/ports.py; here each is a fake that records what happened in one shared
timeline, so a test can say "the ack came after the rows, the outputs and the state".
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.settings import Settings
from schemas import InputEvent
from sinks.base import RowBatch
from sinks.clickhouse import ClickHouseSink
from sinks.client import create_client
from sinks.migrations import migrate
from streams.outputs import Record, partition_for
from streams.pipeline import Pipeline
from streams.processor import StreamProcessor
from streams.signals import SignalEngine
from tests.streams.helpers import FakeClock, at, iso, purchase, wire

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
        # Each log as read to its end (0 is never past what was taken in): the tests deliver
        # everything they send, so a quiet topic goes idle after the idle delay.
        return 0

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

    def seed(self, states: Iterable[tuple[str, str, int]]) -> int:
        seeded = {customer_id: json.loads(data) for customer_id, data, _ in states}
        self.states.update(seeded)
        return len(seeded)


class FakeSink:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.gate: asyncio.Event | None = None  # writes wait for it when set
        self.error: Exception | None = None
        self.seed: list[dict[str, Any]] = []
        self.model_error: Exception | None = None

    @property
    def rows_written(self) -> int:
        return sum(len(r) for r in self.rows.values())

    async def write_until_done(self, batch: RowBatch, give_up: asyncio.Event) -> bool:
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        for table, rows in batch.rows.items():
            self.rows.setdefault(table, []).extend(rows)
        self.timeline.append("rows written")
        return True

    def stored_states(self, partitions: set[int]) -> list[tuple[str, str, int]]:
        return [(s["customer_id"], json.dumps(s), s["partition"]) for s in self.seed
                if s["partition"] in partitions]

    def latest_model(self) -> Any:
        if self.model_error is not None:
            raise self.model_error
        return None


class FakePublisher:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.records: list[Record] = []
        self.error: Exception | None = None
        self.calls = 0  # one per processed result, outputs or not

    async def publish(self, records: Sequence[Record],
                      partitions: Sequence[int] | None = None) -> dict[tuple[str, int], int]:
        self.calls += 1
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
    sink: Any  # a FakeSink, or the real ClickHouseSink over chDB
    publisher: FakePublisher
    clock: FakeClock
    timeline: Timeline
    crashes: list[BaseException]

    async def settle(self) -> None:
        """Let the writer task finish everything queued."""
        writes = self.pipeline.writes
        if writes is not None:
            await asyncio.wait_for(writes.join(), 5)


def glue_settings(commit_interval_s: float = 1.0, **sections: Any) -> Settings:
    worker = {"commit_interval_s": commit_interval_s, **sections.pop("worker", {})}
    return Settings(kafka={"partitions": PARTITIONS},  # type: ignore[arg-type]
                    worker=worker,  # type: ignore[arg-type]
                    signals={"idle_watermark_after_s": IDLE_S,  # type: ignore[arg-type]
                             "live_watermark": False,
                             # events dated 2026 against the real wall clock: publish
                             # them as live, the glue is about acks, not delivery
                             "live_horizon_s": math.inf}, **sections)


def build(commit_interval_s: float = 1.0, generation: int = 1, *,
          settings: Settings | None = None, sink: Any = None) -> Glue:
    settings = settings or glue_settings(commit_interval_s)
    timeline = Timeline()
    clock = FakeClock(1000.0)
    consumer, store = FakeConsumer(timeline, generation), FakeStore(timeline)
    sink, publisher = sink or FakeSink(timeline), FakePublisher(timeline)
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


# --- ClickHouse outages and rebalances -----------------------------------------------------
class Outage:
    """Drives the sink's fault-injection switch (RETENTION_SINK__OUTAGE_FILE) from outside."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self, seconds: float) -> None:
        self.path.write_text(str(time.time() + seconds))

    def end(self) -> None:
        self.path.write_text("0")

    @property
    def on(self) -> bool:
        return time.time() < float(self.path.read_text())


def on_chdb(chdb_dsn: str, tmp_path: Path, sink: dict[str, Any] | None = None,
            **worker: Any) -> tuple[Glue, Outage]:
    """The glue over the real ClickHouseSink on chDB (a database of its own), behind its
    outage switch; retries every 50 ms so that a test does not wait for the backoff."""
    outage = Outage(tmp_path / "clickhouse-outage")
    settings = glue_settings(1e-3, worker=worker, sink={
        "retry_initial_s": 0.05, "retry_max_s": 0.05, "outage_file": str(outage.path),
        **(sink or {})})
    client = create_client(Settings(clickhouse={"dsn": chdb_dsn,  # type: ignore[arg-type]
                                                "database": f"t_{uuid.uuid4().hex[:12]}"},
                                    data_dir=tmp_path))
    migrate(client)
    return build(settings=settings, sink=ClickHouseSink(client, settings.sink)), outage


def stored_ids(glue: Glue, table: str, column: str, final: bool = False) -> list[str]:
    rows = glue.sink.client.query(
        f"SELECT {column} FROM {table}{' FINAL' if final else ''}").result_rows
    return sorted(r[0] for r in rows)


async def process_each(glue: Glue, batches: list[list[FakeMessage]], returned: list[int]) -> None:
    for batch in batches:
        await glue.pipeline.process(batch)
        returned.append(len(batch))


def test_outage_pauses_processing_with_a_bounded_backlog_and_loses_nothing(
        chdb_dsn: str, tmp_path: Path) -> None:
    """While ClickHouse refuses writes nothing is acknowledged and processing stops after a
    bounded number of batches; once it answers again every event is stored once, all acked."""
    async def scenario() -> None:
        # Each single-purchase batch makes a few rows (event, milestone, state): the bound is
        # reached by the first batch queued behind the write in progress.
        glue, outage = on_chdb(chdb_dsn, tmp_path, sink={"max_rows_queued": 1})
        outage.start(60)
        messages = [msg(purchase(f"c{i}", at(i)), i) for i in range(6)]
        returned: list[int] = []
        intake = asyncio.ensure_future(process_each(glue, [[m] for m in messages], returned))
        await asyncio.sleep(0.5)
        # One write retried by the writer, one batch queued behind it; the next waits.
        assert len(returned) == 2 and not intake.done()
        assert glue.consumer.acked == [] and stored_ids(glue, "purchases", "event_id") == []
        assert glue.sink.failed_attempts > 1  # retried, not given up
        outage.end()
        await asyncio.wait_for(intake, 5)
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        await glue.settle()
        expected = sorted(f"p-c{i}-{iso(at(i))}-order" for i in range(6))
        assert stored_ids(glue, "purchases", "event_id") == expected  # no FINAL: once each
        assert sorted(m.offset for m in glue.consumer.acked) == list(range(6))
        assert glue.pipeline.status()["rows_pending"] == 0
    asyncio.run(scenario())


def test_rebalance_during_an_outage_hands_over_at_once_and_acknowledges_nothing(
        chdb_dsn: str, tmp_path: Path) -> None:
    """A hand-over while ClickHouse refuses writes completes at once, not when the outage
    ends: the writes are given up unacknowledged and every partition is forgotten (kept ones
    too); read again under the next generation, each event lands once, each state counts it
    once."""
    async def scenario() -> None:
        glue, outage = on_chdb(chdb_dsn, tmp_path, sink={"max_rows_queued": 1})
        customers = [f"c{i}" for i in range(8)]
        messages = [msg(purchase(c, at(i)), i) for i, c in enumerate(customers)]
        outage.start(60)
        await glue.pipeline.process(messages[:4])
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()  # released and applied: states changed, flush queued
        returned: list[int] = []
        intake = asyncio.ensure_future(process_each(glue, [[m] for m in messages[4:]],
                                                    returned))
        await asyncio.sleep(0.3)
        assert not intake.done()  # holds the pipeline lock, waiting for the writer
        revoked = {messages[0].partition}
        await asyncio.wait_for(glue.pipeline.hand_over(revoked), 1.0)
        assert outage.on  # it did not wait for ClickHouse
        await asyncio.wait_for(intake, 1.0)
        assert glue.consumer.acked == [] and glue.store.states == {}
        assert glue.pipeline.processor.partitions == {}
        assert glue.pipeline.status()["rows_pending"] == 0

        outage.end()
        glue.consumer.generation_now = 2  # the rebalance completes; Kafka re-delivers
        glue.pipeline.on_assigned()
        await glue.pipeline.process([msg(purchase(c, at(i)), i, generation=2)
                                     for i, c in enumerate(customers)])
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        await glue.settle()
        expected = sorted(f"p-{c}-{iso(at(i))}-order" for i, c in enumerate(customers))
        assert stored_ids(glue, "purchases", "event_id") == expected
        assert sorted(m.offset for m in glue.consumer.acked) == list(range(8))
        assert all(glue.store.states[c]["orders"] == 1 for c in customers)
        assert len(stored_ids(glue, "milestones", "milestone_id", final=True)) == 8
    asyncio.run(scenario())


def test_live_batches_are_processed_while_a_write_is_in_progress() -> None:
    """Below the queued-rows bound, batches are processed (and their outputs produced)
    while ClickHouse takes its time with an earlier write; the next write takes all of
    them at once, and each message is acknowledged only after its own write."""
    async def scenario() -> None:
        glue = build(commit_interval_s=1e-3)
        glue.sink.gate = asyncio.Event()  # the first write hangs until opened
        writes: list[int] = []
        write = glue.sink.write_until_done

        async def counting(batch: RowBatch, give_up: asyncio.Event) -> bool:
            writes.append(len(batch.rows["purchases"]))
            return await write(batch, give_up)

        glue.sink.write_until_done = counting  # type: ignore[method-assign]
        await glue.pipeline.process([msg(purchase("c0", at(0)), 0)])
        for i in range(1, 5):  # none of these waits for the hung write
            await asyncio.wait_for(glue.pipeline.process([msg(purchase(f"c{i}", at(i)), i)]),
                                   0.5)
        assert glue.consumer.acked == []
        glue.sink.gate.set()
        await glue.settle()
        assert writes == [1, 4]  # raw rows are written as they are parsed
        glue.clock.advance(IDLE_S + 1)  # release the buffered events, then acknowledge
        await glue.pipeline.tick()
        await glue.settle()
        assert sorted(m.offset for m in glue.consumer.acked) == list(range(5))
    asyncio.run(scenario())


def test_hung_write_is_given_up_at_the_hand_over_deadline() -> None:
    """A write that neither lands nor fails (ClickHouse hangs) holds a rebalance up for
    hand_over_timeout_s at most, and its messages stay unacknowledged."""
    async def scenario() -> None:
        glue = build(settings=glue_settings(worker={"hand_over_timeout_s": 0.2}))
        glue.sink.gate = asyncio.Event()  # never opened: the insert hangs
        message = msg(purchase("c1", at(0)), 0)
        await glue.pipeline.process([message])
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        started = time.monotonic()
        await asyncio.wait_for(glue.pipeline.hand_over({0}), 1.0)
        assert time.monotonic() - started < 0.6
        assert glue.consumer.acked == [] and glue.store.states == {}
        assert glue.pipeline.processor.partitions == {}
        # The next generation writes afresh.
        glue.sink.gate.set()
        glue.consumer.generation_now = 2
        glue.pipeline.on_assigned()
        await process_and_release(glue, [msg(purchase("c1", at(0)), 0, generation=2)])
        assert [m.offset for m in glue.consumer.acked] == [0]
        assert glue.store.states["c1"]["orders"] == 1
    asyncio.run(scenario())


def test_batch_arriving_between_hand_over_and_assignment_is_dropped() -> None:
    """Once partitions are handed over, a batch taken in before the rebalance changes
    nothing and is not acknowledged (the next owner reads it from the committed offsets);
    after the next assignment batches are processed again."""
    async def scenario() -> None:
        glue = build(commit_interval_s=1e-3)
        await process_and_release(glue, [msg(purchase("c1", at(0)), 0)])
        await glue.pipeline.hand_over({0, 1})
        acked, events = len(glue.consumer.acked), glue.pipeline.processor.counters["events"]
        await process_and_release(glue, [msg(purchase("c1", at(1)), 1)])
        assert glue.pipeline.processor.counters["events"] == events
        assert len(glue.consumer.acked) == acked
        assert glue.store.states["c1"]["orders"] == 1
        glue.consumer.generation_now = 2
        glue.pipeline.on_assigned()
        await process_and_release(glue, [msg(purchase("c1", at(1)), 1, generation=2)])
        assert glue.store.states["c1"]["orders"] == 2
    asyncio.run(scenario())


def test_unreadable_model_store_keeps_the_worker_going() -> None:
    """ClickHouse failing when the model is reloaded leaves the current model in place
    instead of crashing the timer (and with it the worker)."""
    async def scenario() -> None:
        glue = build()
        glue.sink.model_error = OSError("connection refused")
        await glue.pipeline.refresh_model()
        assert glue.pipeline.processor.engine.model is None
    asyncio.run(scenario())
