"""Glue between the consumer and the processor: write, publish, store state, then ack.

The agent (per intake batch) and the watermark clock (per tick) both come through here.
Processing is sequential; the I/O of a processed batch runs in a writer task, so batch N is
written while batch N+1 is processed (at most `WRITE_AHEAD` batches in flight:
backpressure). Customer states are flushed to the table (and to ClickHouse) once per commit
interval, latest version per customer, like Kafka Streams' record cache.

A message is acknowledged only after the writer has put its batch's rows into ClickHouse
and its outputs onto Kafka, and a state flush that includes its effects is in the table:
an offset is committed only after everything it caused is durable (at-least-once;
deterministic ids make repeats harmless).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from retention.settings import Settings
from streams.outputs import PublisherPort
from streams.ports import ConsumerPort, InputMessage, SinkPort, StateStorePort
from streams.processor import BatchResult, InMessage, StateFlush, StreamProcessor
from streams.signals import SignalEngine

log = logging.getLogger(__name__)
WRITE_AHEAD = 2


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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.store = store
        self.sink = sink
        self.publisher = publisher
        self.crash = crash
        self.lock = asyncio.Lock()
        self.processor = processor or StreamProcessor(
            settings, SignalEngine(settings.signals), self._load_state,
            end_offset=consumer.end_offset)
        # States read back from ClickHouse when the table starts empty (see _arm_timers).
        self.seed: dict[str, dict[str, Any]] = {}
        # Messages taken in and not yet acknowledged (buffered, in flight or awaiting the
        # state flush that covers them).
        self.unacked = 0
        # Written, but waiting for a state flush: acknowledged when the next flush is stored.
        self.awaiting_flush: list[Any] = []
        self.monotonic = monotonic  # when the next state flush is due
        self.flushed_at = monotonic()
        self.writes: asyncio.Queue[BatchResult] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.failed: BaseException | None = None
        self.rows_pending = 0
        self.started_at = time.time()
        self.timers_armed = False
        # Where batch time goes; shown by `retention status` for tuning.
        self.seconds: dict[str, float] = dict.fromkeys(
            ["process", "clickhouse", "produce", "table"], 0.0)
        self.model_status = "no model fitted yet: low_p_alive stays silent"

    async def process(self, batch: Sequence[InputMessage]) -> None:
        # Taken before a rebalance (the agent may hold one while it happens): not ours to
        # apply any more; Kafka re-delivers them from the committed offsets.
        generation = self.consumer.generation()
        messages = [InMessage(m.topic, m.partition, m.offset, m.key, m.value, m)
                    for m in batch if m.generation_id == generation]
        self.unacked += len(messages)
        async with self.lock:
            self._arm_timers()
            started = time.perf_counter()
            result = self.processor.process(messages)
            self._maybe_flush(result)
            self.seconds["process"] += time.perf_counter() - started
            await self._enqueue(result)

    async def tick(self) -> None:
        async with self.lock:
            result = self.processor.tick()
            self._maybe_flush(result)
            await self._enqueue(result)

    def _maybe_flush(self, result: BatchResult, force: bool = False) -> None:
        now = self.monotonic()
        if force or now - self.flushed_at >= self.settings.worker.commit_interval_s:
            self.processor.flush(result)
            if result.flush is None and self.unacked:
                # No state changed since the last flush (e.g. only re-delivered events):
                # messages waiting for a flush are covered already; an empty one acks them.
                result.flush = StateFlush()
            self.flushed_at = now

    async def _enqueue(self, result: BatchResult) -> None:
        if not (len(result.rows) or result.messages or result.flush or result.done):
            return
        if self.failed is not None:
            # A write failed and the worker is stopping: nothing after it may be written
            # (let alone acknowledged) by a fresh writer.
            raise RuntimeError("the pipeline stopped after a failed write") from self.failed
        if self.writer is None or self.writer.done():
            self.writes = asyncio.Queue(maxsize=WRITE_AHEAD)
            self.writer = asyncio.ensure_future(self._write_loop())
        assert self.writes is not None
        self.rows_pending += len(result.rows)
        await self.writes.put(result)

    async def _write_loop(self) -> None:
        assert self.writes is not None
        while True:
            result = await self.writes.get()
            try:
                await self._commit(result)
            except Exception as exc:
                # Not a ClickHouse outage (those are retried inside): a bug. Stop the worker;
                # the batch's messages were never acknowledged, so Kafka redelivers them.
                self.failed = exc
                log.exception("writing a batch failed; stopping the worker")
                await self.crash(exc)
                return  # the failure is kept in self.failed; nothing more is written
            finally:
                self.writes.task_done()
                if self.failed is not None:
                    self._discard_queued()

    def _discard_queued(self) -> None:
        # After a failed write nothing queued is written or acknowledged: Kafka redelivers
        # it to whoever runs next. Marked done so that nobody waits on it.
        assert self.writes is not None
        while not self.writes.empty():
            self.writes.get_nowait()
            self.writes.task_done()

    async def hand_over(self, partitions: set[int]) -> None:
        """Rebalance: make everything processed durable, then let `partitions` go.

        All under the lock: a batch processed between the last flush and the forgetting
        would have its state changes dropped while its messages were acknowledged.
        """
        async with self.lock:
            if self.failed is not None:
                # Stopping after a failed write: nothing to flush that could be trusted.
                self.forget(partitions)
                return
            result = BatchResult()
            self._maybe_flush(result, force=True)
            await self._enqueue(result)
            if self.writes is not None:
                await self.writes.join()
            self.forget(partitions)
            self.timers_armed = False  # re-armed from the table for what is ours next

    def forget(self, partitions: set[int]) -> None:
        self.processor.forget_partitions(partitions)
        # Buffered messages of these partitions are dropped unacknowledged: whoever owns
        # them next re-reads them from the committed offsets.
        self.awaiting_flush = [m for m in self.awaiting_flush if m.partition not in partitions]
        self.unacked = self.processor.buffered() + len(self.awaiting_flush)

    async def refresh_model(self) -> None:
        """Pick up the newest `retention model fit` result for the low_p_alive rule."""
        model = await asyncio.to_thread(self.sink.latest_model)
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
        # table (once per assignment).
        if self.timers_armed:
            return
        stored = self.store.stored()
        if not stored:
            stored = self._seed_from_clickhouse()
        self.processor.rebuild_timers(stored)
        self.timers_armed = True

    def _seed_from_clickhouse(self) -> list[dict[str, Any]]:
        """An empty table beside a non-empty customer_state table means the changelog is
        gone (the embedded broker keeps topics in memory only): carry on from the state
        the sink last wrote instead of starting every customer from zero."""
        states = self.sink.stored_states(self.consumer.assigned_partitions())
        self.seed = {s["customer_id"]: s for s in states}
        if self.seed:
            log.warning("table empty: resumed %d customer states from ClickHouse", len(self.seed))
        return list(self.seed.values())

    def _load_state(self, customer_id: str, partition: int | None) -> dict[str, Any] | None:
        value = self.store.read(customer_id, partition)
        if value is None and self.seed:
            value = self.seed.pop(customer_id, None)
        return value

    async def _commit(self, result: BatchResult) -> None:
        rows = len(result.rows)
        # ClickHouse (in a thread) and Kafka at the same time: they do not depend on each other.
        await asyncio.gather(self._timed("clickhouse", self.sink.write_until_done(result.rows)),
                             self._timed("produce", self._produce(result)))
        self.rows_pending -= rows
        self.awaiting_flush.extend(result.done)
        if result.flush is None:
            return
        started = time.perf_counter()
        await self._store(result.flush)
        self.seconds["table"] += time.perf_counter() - started
        # Everything processed before this flush is now durable: release its offsets.
        self.consumer.ack(self.awaiting_flush)
        self.unacked -= len(self.awaiting_flush)
        self.awaiting_flush = []

    async def _store(self, flush: StateFlush) -> None:
        await self.store.store(((cid, flush.state_json[cid], state.partition)
                                for cid, (state, _) in flush.states.items()), self.publisher)
        self.processor.written(flush)

    async def _produce(self, result: BatchResult) -> None:
        await self.publisher.publish(result.messages)

    async def _timed(self, stage: str, work: Any) -> None:
        started = time.perf_counter()
        await work
        self.seconds[stage] += time.perf_counter() - started

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

