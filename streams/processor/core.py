"""StreamProcessor: the parts of the package composed into the order of work for a batch.

1. parse each message; invalid, oversized, out-of-bounds in event time or misplaced ones
   become dead letters or are re-routed to their customer's partition (never dropped,
   never fatal, never applied to another customer's state);
2. valid events go to ClickHouse at once (raw tables dedupe by event_id) and into the
   partition's event-time reorder buffer;
3. the partition watermark (the slowest of the three co-partitioned input topics, minus the
   allowed lateness) releases buffered events in (event time, event id) order; before each
   event, absence signals due by its time fire, so replays and live runs decide alike.
   News skips the buffer (`RETENTION_SIGNALS__APPLY_ON_ARRIVAL_WITHIN_S`): an event that
   occurred at most that long before the wall clock, later than everything applied to its
   customer, none of whose events wait in the buffer, is applied on arrival, after its
   customer's own absence signals due by its time. A customer's outputs depend on its own
   events and due times only, so they are what the buffered path decides whenever each
   customer's events arrive in event-time order; one that arrives behind a later one of
   its customer waits in the buffer and is applied when released, out of order for that
   customer (counted in `late` if behind the watermark by then), as any late event is;
4. a message is acknowledged only once released and applied: Kafka offsets are never
   committed past an event whose effects are not yet written.

Processing errors (as Kafka Streams' KIP-1033 handler, Quix Streams' on_processing_error):
an exception while applying one event dead-letters that event with the reason and the
customer's state is rebuilt as it was before it (streams/processor/journal.py); one while
firing a customer's absence timers is logged and counted, its state rebuilt and its timer
disarmed. Either way the worker goes on. Errors of the state store (loading a state) are
not caught here: they stop the worker, as the sink's and Kafka's do in the pipeline.

NOTE: this is the worker's hot path. Per event it costs a handful of calls, each part's
loop stays inside one function, and heaps hold tuples (compared in C).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from retention.settings import Settings
from streams.processor.dead_letters import DeadLetters
from streams.processor.emit import Emitter
from streams.processor.failures import describe
from streams.processor.journal import StateJournal
from streams.processor.messages import BatchResult, InMessage, StateFlush
from streams.processor.parse import EventParser
from streams.processor.reorder import Pending, ReorderBuffer, WatermarkPolicy
from streams.processor.state_cache import StateCache
from streams.processor.timers import AbsenceTimers
from streams.signals.engine import SignalEngine
from streams.state import CustomerState

log = logging.getLogger(__name__)


class Partition:
    """One input partition: its reorder buffer and watermark, and its absence timers."""

    __slots__ = ("events", "handle", "number", "timers")

    def __init__(self, number: int, topics: list[str], now: float) -> None:
        self.number = number
        self.events = ReorderBuffer(topics, now)
        self.timers = AbsenceTimers()
        # The latest message's handle: a state changed by a timer is written with it.
        self.handle: Any = None


class StreamProcessor:
    def __init__(
        self,
        settings: Settings,
        engine: SignalEngine,
        # (customer_id, its partition if known) -> stored state, or None for a new customer
        load_state: Callable[[str, int | None], dict[str, Any] | None],
        monotonic: Callable[[], float] = time.monotonic,
        wall_time: Callable[[], float] = time.time,
        end_offset: Callable[[str, int], int | None] = lambda topic, partition: None,
    ) -> None:
        self.engine = engine
        self.monotonic = monotonic
        self.wall_time = wall_time
        self.dead_letters = DeadLetters(settings.kafka)
        self.parser = EventParser(settings, self.dead_letters)
        self.emitter = Emitter(settings.kafka, settings.signals.publish_historical)
        self.watermark_policy = WatermarkPolicy(settings.signals, monotonic, wall_time,
                                                end_offset)
        self.states = StateCache(load_state, settings.signals.state_cache_size,
                                 on_load=self._armed_on_load)
        # Stored states not yet re-armed after a start, rebalance or model change (None: all
        # are): `rearm` works through them a chunk at a time, between batches.
        self.rearming: Iterator[dict[str, Any]] | None = None
        self.recent_event_ids = settings.signals.recent_event_ids
        self.journal = StateJournal(load_state, engine, self.parser.families,
                                    self.recent_event_ids)
        self.record_step = self.journal.steps.append  # once per applied event
        self.input_topics = list(self.parser.families)
        self.apply_on_arrival_within = settings.signals.apply_on_arrival_within_s
        self.partitions: dict[int, Partition] = {}
        self.done_since_flush = 0
        # processing_errors: events dead-lettered because applying them raised (also in
        # dead_letters); timer_errors: absence firings that raised (their timer disarmed).
        self.counters: dict[str, int] = dict.fromkeys(
            ["events", "alerts", "milestones", "dead_letters", "processing_errors",
             "timer_errors", "rerouted", "duplicates", "late", "on_arrival"], 0)

    # --- public API -------------------------------------------------------------------
    def process(self, messages: list[InMessage]) -> BatchResult:
        result = BatchResult()
        ingested_at = datetime.now(UTC)
        now = self.wall_time()
        touched: set[int] = set()
        late: list[Pending] = []
        taken = self.watermark_policy.taken
        parse = self.parser.parse
        states = self.states
        # Events after this are news: applied on arrival when in order for their customer.
        news_after = now - self.apply_on_arrival_within if self.apply_on_arrival_within else (
            float("inf"))
        arrived_at = self.monotonic()
        for msg in messages:
            taken[(msg.topic, msg.partition)] = msg.offset + 1
            pending = parse(msg, result, ingested_at, now)
            if pending is None:
                continue
            part = self._partition(msg.partition)
            part.handle = msg.handle
            events = part.events
            events.arrived(msg.topic, pending.ts, arrived_at)
            touched.add(msg.partition)
            if (pending.ts > news_after and pending.event.customer_id not in events.waiting
                    and pending.ts > states.get(pending.event.customer_id,
                                                msg.partition).updated_at):
                self.counters["on_arrival"] += 1
                self._apply(pending, result, part.timers.pop_due_of(
                    pending.event.customer_id, pending.ts))
            elif not events.add(msg.topic, msg.offset, pending):
                late.append(pending)
        for partition in touched:
            self._advance(partition, result)
        for pending in late:
            result.late += 1
            self._apply(pending, result)
        self._finish(result)
        return result

    def flush(self, result: BatchResult) -> None:
        """Move every state changed since the last flush into `result`, as JSON and rows."""
        self.states.flush(result)
        if result.flush is None and self.done_since_flush:
            # Messages done without changing a state (dead letters, re-routes, duplicates)
            # are acknowledged with a flush like every other: an empty one, or a stream of
            # nothing but bad input would never be acknowledged.
            result.flush = StateFlush()
        if result.flush is not None:
            self.journal.flushed(result.flush)
        self.done_since_flush = 0

    def written(self, flush: StateFlush) -> None:
        """The caller stored `flush`'s states in the table: they may be read from it again."""
        self.states.written(flush)
        self.journal.written(flush)

    def tick(self) -> BatchResult:
        """Advance watermarks of partitions gone quiet (live mode): absence rules fire."""
        result = BatchResult()
        for partition in list(self.partitions):
            self._advance(partition, result)
        self._finish(result)
        return result

    def drain(self, until: float) -> BatchResult:
        """Replays: advance every partition to event time `until`, whatever the topics do.

        Releases buffered events up to `until` and fires absence signals due by then, as if
        every input topic had reached `until`; later events stay buffered.
        """
        result = BatchResult()
        for part in self.partitions.values():
            self._release(part, until, result)
        self._finish(result)
        return result

    def forget_partitions(self, partitions: set[int]) -> None:
        """Drop buffers and cached state of partitions this worker no longer owns.

        Their unacknowledged messages are re-delivered to the new owner.
        """
        for p in partitions:
            self.partitions.pop(p, None)
        self.journal.forget(partitions)
        self.states.forget(partitions)
        self.watermark_policy.forget(partitions)

    def start_rearming(self, stored: Iterable[dict[str, Any]]) -> None:
        """Re-arm absence timers without reading every stored state first: the states in
        memory now, the stored ones a chunk at a time (`rearm`) while events are processed.

        Decisions do not change meanwhile: a customer whose state is read for an event or
        a timer is armed from it then (before its due signals would be missed), and one
        armed later than its due time fires then, at that due time (decided_at) as ever.
        """
        self.rearming = iter(stored)
        for state in self.states.live():
            self._arm(self._partition(state.partition), state)

    def rearm(self, limit: int) -> None:
        """Re-arm up to `limit` more stored states (see `start_rearming`)."""
        if self.rearming is None:
            return
        holds = self.states.holds
        for taken, data in enumerate(self.rearming, 1):
            if not holds(data["customer_id"]):  # else armed from its state in memory
                state = CustomerState.from_dict(data)
                self._arm(self._partition(state.partition), state)
            if taken >= limit:
                return
        self.rearming = None

    def _armed_on_load(self, state: CustomerState) -> None:
        if self.rearming is not None:  # its stored state may not be re-armed yet
            self._arm(self._partition(state.partition), state)

    def buffered(self) -> int:
        return sum(len(p.events.buffer) for p in self.partitions.values())

    def watermarks(self) -> dict[int, float]:
        return {p: part.events.watermark for p, part in self.partitions.items()}

    # --- steps ------------------------------------------------------------------------
    def _advance(self, partition: int, result: BatchResult) -> None:
        part = self.partitions[partition]
        until = self.watermark_policy.target(partition, part.events)
        if until is not None:
            self._release(part, until, result)

    def _release(self, part: Partition, until: float, result: BatchResult) -> None:
        events = part.events
        if not events.advance(until):
            return
        for pending in events.released():
            self._apply(pending, result)
        self._fire_timers(part, until, result)

    def _fire_timers(self, part: Partition, until: float, result: BatchResult,
                     timers: Iterator[tuple[float, str]] | None = None) -> None:
        """Fire the absence signals of `timers` (default: every one due by `until`)."""
        engine = self.engine
        for due_at, customer_id in timers or part.timers.pop_due(until):
            state = self.states.get(customer_id, part.number)
            version = state.version
            try:
                current = engine.next_due(state)
                if current is None:
                    continue
                if current > due_at:
                    part.timers.arm(customer_id, current)
                    continue
                fired_until = min(until, current)
                outputs = engine.fire_due(state, fired_until)
            except Exception as exc:
                # Its timer stays disarmed (pop_due took it): the next event re-arms it.
                self._timer_failed(state, exc)
                self._rebuild(state, version)
                continue
            self.emitter.emit(outputs, result)
            self.record_step((customer_id, part.number, fired_until))
            self._touch(state, part.handle)

    def _apply(self, pending: Pending, result: BatchResult,
               own_timers: Iterator[tuple[float, str]] | None = None) -> None:
        """Apply `pending` after the absence signals due by its time: its own customer's
        (`own_timers`, on arrival) or every customer's of the partition (released in order)."""
        event = pending.event
        part = self.partitions[pending.partition]
        if self.rearming is not None:
            # Read (and so armed) before the partition's due timers fire.
            self.states.get(event.customer_id, pending.partition)
        if own_timers is not None:
            self._fire_timers(part, pending.ts, result, own_timers)
        elif (timers := part.timers.heap) and timers[0][0] <= pending.ts:
            self._fire_timers(part, pending.ts, result)
        state = self.states.get(event.customer_id, pending.partition)
        state.partition = pending.partition
        result.done.append(pending.handle)
        version = state.version
        if state.seen(event.event_id, self.recent_event_ids):
            result.duplicates += 1
            return
        try:  # free unless it raises (Python 3.11 zero-cost exceptions)
            outputs = self.engine.apply(state, event, pending.ts)
        except Exception as exc:
            self._apply_failed(pending, state, version, exc, result)
            return
        if outputs:  # most events raise nothing
            self.emitter.emit(outputs, result)
        self.states.touch(state, pending.handle)
        self.record_step(pending.message)
        self._arm(part, state)

    # --- failures -----------------------------------------------------------------------
    def _apply_failed(self, pending: Pending, state: CustomerState, version: int,
                      exc: Exception, result: BatchResult) -> None:
        """Applying `pending` raised: dead-letter it, and put its customer's state back."""
        reason = describe(exc)
        event = pending.event
        log.warning("processing event %s of customer %s failed, dead-lettered: %s",
                    event.event_id, event.customer_id, reason)
        self.counters["processing_errors"] += 1
        self.dead_letters.add(pending.message, "processing", reason, result)
        self._rebuild(state, version)
        part = self.partitions[pending.partition]
        self._arm(part, self.states.get(state.customer_id, pending.partition))

    def _timer_failed(self, state: CustomerState, exc: Exception) -> None:
        log.warning("absence timer of customer %s failed and is disarmed: %s",
                    state.customer_id, describe(exc))
        self.counters["timer_errors"] += 1

    def _rebuild(self, state: CustomerState, version: int) -> None:
        """`state` may be half-updated by a step that raised: replace it by its rebuild."""
        self.states.replace(self.journal.rebuild(state, version))

    # --- helpers ------------------------------------------------------------------------
    def _partition(self, partition: int) -> Partition:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = Partition(partition, self.input_topics,
                                                          self.monotonic())
        return part

    def _touch(self, state: CustomerState, handle: Hashable) -> None:
        self.states.touch(state, handle)
        self._arm(self._partition(state.partition), state)

    def _arm(self, part: Partition, state: CustomerState) -> None:
        try:
            due = self.engine.next_due(state)
        except Exception as exc:
            self._timer_failed(state, exc)
            due = None
        part.timers.arm(state.customer_id, due)

    def _finish(self, result: BatchResult) -> None:
        c = self.counters
        c["alerts"] += result.alerts
        c["milestones"] += result.milestones
        c["dead_letters"] += result.dead_letters
        c["rerouted"] += result.rerouted
        c["duplicates"] += result.duplicates
        c["late"] += result.late
        c["events"] += len(result.done) - result.dead_letters - result.rerouted
        self.done_since_flush += len(result.done)
