"""Glue between the consumer and the processor: write, publish, store state, then ack.

The agent (per intake batch) and the watermark clock (per tick) both come through here.
Processing is sequential; the I/O of a processed batch runs in a writer task, so batch N is
written while batch N+1 is processed. Backpressure counts rows, not batches: processing
waits only while `RETENTION_SINK__MAX_ROWS_QUEUED` rows wait for the writer. Live input,
processed in small batches as it arrives, then never waits for a ClickHouse write in
progress (the next write takes everything queued meanwhile); a backlog, in batches of
thousands, keeps about two batches ahead of the writer. Customer states are flushed to the
table (and to ClickHouse) once per commit interval, latest version per customer, like Kafka
Streams' record cache.

A message is acknowledged only after the writer has put its batch's rows into ClickHouse
and its outputs onto Kafka, and a state flush that includes its effects is in the table:
an offset is committed only after everything it caused is durable (at-least-once;
deterministic ids make repeats harmless). Outputs are produced as soon as their batch is
processed, not when the writer reaches it: a subscriber sees an alert without waiting for
the ClickHouse writes queued ahead of it; the writer awaits that produce before it
acknowledges (an output of a batch never acknowledged is produced again, same id).

While ClickHouse refuses writes the writer retries the batch in flight; the queue behind it
fills, processing waits for room, and the intake for the agent: consumption pauses with a
bounded backlog in memory and no offset committed. A rebalance meanwhile does not wait for
the outage (see `hand_over`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from itertools import chain
from typing import Any, TypeVar

from retention.settings import Settings
from sinks.base import RowBatch
from streams.metrics import WorkerMetrics
from streams.outputs import PublisherPort, discard_outcome
from streams.ports import ConsumerPort, InputMessage, SinkPort, StateStorePort
from streams.processor import BatchResult, InMessage, StateFlush, StreamProcessor
from streams.signals import SignalEngine

log = logging.getLogger(__name__)
# Input batches taken in ahead of processing (the agent's channel): the intake waits beyond.
WRITE_AHEAD = 2
T = TypeVar("T")


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        consumer: ConsumerPort,
        store: StateStorePort,
        sink: SinkPort,
        publisher: PublisherPort,
        # Stops the worker (Faust's app.crash): a failed write must not be acknowledged.
        crash: Callable[[BaseException], Awaitable[None]],
        processor: StreamProcessor | None = None,
        metrics: WorkerMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        # The state changelog's publisher, if not `publisher`: the worker gives it a
        # producer of its own, so that outputs never wait behind a flush's records.
        changelog: PublisherPort | None = None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.store = store
        self.sink = sink
        self.publisher = publisher
        self.changelog = changelog or publisher
        self.crash = crash
        self.lock = asyncio.Lock()
        self.processor = processor or StreamProcessor(
            settings, SignalEngine(settings.signals), self._load_state,
            end_offset=consumer.end_offset)
        # Messages taken in and not yet acknowledged (buffered, in flight or awaiting the
        # state flush that covers them).
        self.unacked = 0
        # Written, but waiting for a state flush: acknowledged when the next flush is stored.
        self.awaiting_flush: list[Any] = []
        self.monotonic = monotonic  # when the next state flush is due
        self.flushed_at = monotonic()
        self.writes: asyncio.Queue[BatchResult] | None = None
        # Rows of the results queued for the writer and not yet taken by it; processing
        # waits for `room` while they reach `sink.max_rows_queued`.
        self.rows_queued = 0
        self.room = asyncio.Event()
        # The produce of each queued result's outputs, started at enqueue, in queue order.
        self.producing: deque[asyncio.Future[None]] = deque()
        self.writer: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        # Set while a rebalance takes partitions away: a write ClickHouse keeps refusing is
        # then given up rather than retried.
        self.handing_over = asyncio.Event()
        # A write was given up in a hand-over: nothing processed since is written or
        # acknowledged, until the hand-over has forgotten every partition.
        self.abandoned = False
        # False from a hand-over until the next assignment: a batch taken in before the
        # rebalance is not ours any more (Faust re-reads it from the committed offsets).
        self.assigned = True
        self.rows_pending = 0
        self.started_at = time.time()
        self.timers_armed = False
        # Where batch time goes; shown by `retention status` for tuning.
        self.seconds: dict[str, float] = dict.fromkeys(
            ["process", "clickhouse", "produce", "table"], 0.0)
        self.model_status = "no model fitted yet: low_p_alive stays silent"
        self.metrics = metrics or WorkerMetrics(settings)

    async def process(self, batch: Sequence[InputMessage]) -> None:
        async with self.lock:
            # Taken before a rebalance (the agent may hold one while it happens, or while
            # the partitions are handed over): not ours to apply any more; Kafka re-delivers
            # them from the committed offsets.
            if not self.assigned:
                return
            generation = self.consumer.generation()
            messages = [InMessage(m.topic, m.partition, m.offset, m.key, m.value, m)
                        for m in batch if m.generation_id == generation]
            self.unacked += len(messages)
            self._arm_timers()
            started = time.perf_counter()
            result = self.processor.process(messages)
            self._maybe_flush(result)
            self._spent("process", started)
            await self._enqueue(result)

    async def tick(self) -> None:
        async with self.lock:
            if self.timers_armed:  # the table is read from the first batch on (recovered)
                self.processor.rearm(self.settings.signals.rearm_per_batch)
            result = self.processor.tick()
            self._maybe_flush(result)
            await self._enqueue(result)

    def _maybe_flush(self, result: BatchResult, force: bool = False) -> None:
        now = self.monotonic()
        if force or now - self.flushed_at >= self.settings.worker.commit_interval_s:
            self.processor.flush(result)
            if result.flush is None and self.unacked > self.processor.buffered():
                # Nothing changed since the last flush, which is queued ahead of this one,
                # but messages processed since wait for one (e.g. only re-delivered events):
                # an empty flush marks them durable.
                result.flush = StateFlush()
            self.flushed_at = now

    async def _enqueue(self, result: BatchResult) -> None:
        if not (len(result.rows) or result.messages or result.flush or result.done):
            return
        while self.rows_queued >= self.settings.sink.max_rows_queued:
            self.room.clear()
            await self.room.wait()
        if self.failed is not None:
            # A write failed and the worker is stopping: nothing after it may be written
            # (let alone acknowledged) by a fresh writer.
            raise RuntimeError("the pipeline stopped after a failed write") from self.failed
        if self.writer is None or self.writer.done():
            self.writes = asyncio.Queue()
            self.writer = asyncio.ensure_future(self._write_loop())
        assert self.writes is not None
        self.rows_pending += len(result.rows)
        self.rows_queued += len(result.rows)
        previous = self.producing[-1] if self.producing else None
        self.producing.append(asyncio.ensure_future(self._produce_after(previous, result)))
        self.writes.put_nowait(result)

    def _taken(self, rows: int) -> None:
        """`rows` left the writer's queue (taken to be written, or discarded)."""
        self.rows_queued -= rows
        if self.rows_queued < self.settings.sink.max_rows_queued:
            self.room.set()

    async def _write_loop(self) -> None:
        assert self.writes is not None
        while True:
            # Everything queued meanwhile is written together: small batches (live input is
            # processed as it arrives) cost one ClickHouse insert per write, not one each.
            results = [await self.writes.get()]
            while not self.writes.empty():
                results.append(self.writes.get_nowait())
            rows = sum(len(r.rows) for r in results)
            self._taken(rows)
            try:
                if not self.abandoned and not await self._commit(results):
                    self.abandoned = True  # given up in a hand-over, which forgets the rest
            except Exception as exc:
                # Not a ClickHouse outage (those are retried inside): a bug. Stop the worker;
                # the batch's messages were never acknowledged, so Kafka redelivers them.
                self.failed = exc
                log.exception("writing a batch failed; stopping the worker")
                await self.crash(exc)
                return  # the failure is kept in self.failed; nothing more is written
            finally:
                self.rows_pending -= rows
                for _ in results:
                    self.writes.task_done()
                if self.failed is not None or self.abandoned:
                    self._discard_queued()

    def _discard_queued(self) -> None:
        # After a failed or given-up write nothing queued is written or acknowledged (each
        # result builds on the state the one before it left): Kafka redelivers it to whoever
        # runs next. Marked done so that nobody waits on it.
        assert self.writes is not None
        while not self.writes.empty():
            rows = len(self.writes.get_nowait().rows)
            self.rows_pending -= rows
            self._taken(rows)
            self.writes.task_done()
            # Its outputs may be on Kafka already: produced again, same ids, when redelivered.
            self.producing.popleft().add_done_callback(discard_outcome)

    async def hand_over(self, partitions: set[int]) -> None:
        """Rebalance: make everything processed durable, then let `partitions` go; within
        `hand_over_timeout_s` whatever ClickHouse does.

        Under the lock: a batch processed between the last flush and the forgetting would
        have its state changes dropped while its messages were acknowledged. The lock may be
        held by a batch waiting for room in the writer's queue, behind a write ClickHouse
        refuses: so that write is given up first (`handing_over`), as is one still running
        at the deadline. Then nothing processed since the last acknowledgement is written
        or acknowledged, and every partition is forgotten, kept ones included: Faust seeks
        every assigned partition back to its committed offset after a rebalance, so all of
        it is read again, by this worker or the next owner.
        """
        started = time.monotonic()
        self.handing_over.set()
        try:
            async with self.lock:
                self.assigned = False
                if self.failed is None and not self.abandoned:
                    result = BatchResult()
                    self._maybe_flush(result, force=True)
                    await self._enqueue(result)
                    await self._finish_writes()
                if self.failed is not None or self.abandoned:
                    # Stopping after a failed write, or a write was given up: nothing
                    # processed since the last acknowledgement can be trusted, in any input
                    # partition (each topic has `kafka.partitions`).
                    self.forget(partitions | set(range(self.settings.kafka.partitions)))
                    if self.abandoned:
                        log.warning("rebalance: unwritten work given up after %.1f s (ClickHouse "
                                    "refused or hung); it is read again from the committed "
                                    "offsets", time.monotonic() - started)
                    self.abandoned = False
                else:
                    self.forget(partitions)
                self.timers_armed = False  # re-armed from the table for what is ours next
        finally:
            self.handing_over.clear()

    def on_assigned(self) -> None:
        """Rebalance done: batches taken in from now on are ours."""
        self.assigned = True

    async def _finish_writes(self) -> None:
        """Wait for the writer to empty its queue, at most `hand_over_timeout_s`; a write
        still running then (ClickHouse hangs instead of refusing) is cancelled, unacked."""
        if self.writes is None or self.writer is None or self.writer.done():
            return
        try:
            await asyncio.wait_for(self.writes.join(), self.settings.worker.hand_over_timeout_s)
        except TimeoutError:
            log.warning("writes did not finish within %.1f s of a rebalance: given up",
                        self.settings.worker.hand_over_timeout_s)
            self.abandoned = True
            self.writer.cancel()
            with suppress(asyncio.CancelledError):
                await self.writer
            self._discard_queued()

    def forget(self, partitions: set[int]) -> None:
        self.processor.forget_partitions(partitions)
        # Buffered messages of these partitions are dropped unacknowledged: whoever owns
        # them next re-reads them from the committed offsets.
        self.awaiting_flush = [m for m in self.awaiting_flush if m.partition not in partitions]
        self.unacked = self.processor.buffered() + len(self.awaiting_flush)

    async def refresh_model(self) -> None:
        """Pick up the newest `retention model fit` result for the low_p_alive rule."""
        try:
            model = await asyncio.to_thread(self.sink.latest_model)
        except Exception as exc:  # ClickHouse down: keep the model in use, retry next time
            log.warning("could not read the lifetime model (keeping the current one): %s", exc)
            return
        current = self.processor.engine.model
        if model is None or getattr(current, "version", None) == model.version:
            return
        async with self.lock:
            self.processor.engine.model = model
            self.timers_armed = False  # p_alive due times depend on the parameters
        self.model_status = (f"model v{model.version} fitted on data up to {model.as_of}: "
                             "low_p_alive active")
        log.warning("low_p_alive now uses model version %d", model.version)

    def _arm_timers(self) -> None:
        # Absence timers live in memory; after a start or rebalance re-arm them from the
        # table (once per assignment), a chunk per batch or tick: the first event is
        # processed at once, however many customers the table holds.
        if not self.timers_armed:
            stored = iter(self.store.stored())
            first = next(stored, None)
            if first is None and self._seed_from_clickhouse():
                stored = iter(self.store.stored())
                first = next(stored, None)
            self.processor.start_rearming(stored if first is None else chain((first,), stored))
            self.timers_armed = True
        self.processor.rearm(self.settings.signals.rearm_per_batch)

    def _seed_from_clickhouse(self) -> int:
        """An empty table beside a non-empty customer_state table means the changelog is
        gone (the embedded broker keeps topics in memory only): carry on from the states
        the sink last wrote, put in the table, instead of starting every customer from
        zero. How many were put there."""
        seeded = self.store.seed(self.sink.stored_states(self.consumer.assigned_partitions()))
        if seeded:
            log.warning("table empty: resumed %d customer states from ClickHouse", seeded)
        return seeded

    def _load_state(self, customer_id: str, partition: int | None) -> dict[str, Any] | None:
        return self.store.read(customer_id, partition)

    async def _commit(self, results: list[BatchResult]) -> bool:
        """Write `results` (in processing order) and acknowledge what became durable; False
        if the hand-over gave up their rows (then nothing is acknowledged)."""
        rows = results[0].rows
        if len(results) > 1:
            rows = RowBatch()
            for result in results:
                rows.extend(result.rows)
        tallies = [self.metrics.tally(result) for result in results]  # the sink takes the rows
        # ClickHouse (in a thread) and Kafka at the same time: they do not depend on each other.
        produced = [self.producing.popleft() for _ in results]
        written, _ = await asyncio.gather(
            self._timed("clickhouse", self.sink.write_until_done(rows, self.handing_over)),
            asyncio.gather(*produced))
        if not written:
            return False
        for tally in tallies:
            self.metrics.written(tally)
        for result in results:
            self.awaiting_flush.extend(result.done)
            if result.flush is None:
                continue
            started = time.perf_counter()
            await self._store(result.flush)
            self._spent("table", started)
            # Everything processed before this flush is now durable: release its offsets.
            self.consumer.ack(self.awaiting_flush)
            self.unacked -= len(self.awaiting_flush)
            self.awaiting_flush = []
        return True

    async def _store(self, flush: StateFlush) -> None:
        await self.store.store(((cid, flush.state_json[cid], state.partition)
                                for cid, (state, _) in flush.states.items()), self.changelog)
        self.processor.written(flush)

    async def _produce_after(self, previous: asyncio.Future[None] | None,
                             result: BatchResult) -> None:
        """Produce `result`'s outputs once the previous result's are sent (or failed: the
        writer reports that one). One at a time, in order: aiokafka gives up on a batch
        that waits behind two others of its partition (KafkaTimeoutError, seen here)."""
        if previous is not None:
            await asyncio.wait([previous])
        await self._timed("produce", self.publisher.publish(result.messages))

    async def _timed(self, stage: str, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        value = await work
        self._spent(stage, started)
        return value

    def _spent(self, stage: str, started: float) -> None:
        seconds = time.perf_counter() - started
        self.seconds[stage] += seconds
        self.metrics.spent(stage, seconds)

    def status(self) -> dict[str, Any]:
        p = self.processor
        return {
            "rows_pending": self.rows_pending + self.unacked,
            "events_buffered": p.buffered(),
            "rows_written": self.sink.rows_written,
            "counters": p.counters,
            "watermarks": {str(k): v for k, v in p.watermarks().items()},
            "model": self.model_status,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "uptime_s": round(time.time() - self.started_at, 1),
        }

