"""The stream's logic, free of Faust: messages in; rows, outputs, state and acks out.

Order of work for a batch of raw messages:
1. parse each message; invalid ones become dead letters (never dropped, never fatal);
2. valid events go to ClickHouse at once (raw tables dedupe by event_id) and into the
   partition's event-time reorder buffer;
3. the partition watermark (the slowest of the three co-partitioned input topics, minus the
   allowed lateness) releases buffered events in (event time, event id) order; before each
   event, absence signals due by its time fire, so replays and live runs decide alike;
4. a message is acknowledged only once released and applied: Kafka offsets are never
   committed past an event whose effects are not yet written.
"""

from __future__ import annotations

import base64
import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from retention.settings import Settings
from schemas import (
    ChurnRiskAlert,
    DeadLetter,
    EventFamily,
    InputEvent,
    InvalidEvent,
    Milestone,
    parse_event,
)
from sinks.base import RowBatch
from sinks.rows import alert_row, dead_letter_row, event_row, milestone_row
from streams.signals.engine import Output, SignalEngine, risk_score
from streams.state import CustomerState


@dataclass(slots=True)
class InMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The transport's handle (a Faust event): acknowledged when the message is done.
    handle: Any = None


@dataclass(slots=True)
class OutMessage:
    topic: str
    key: bytes
    value: bytes


@dataclass
class StateFlush:
    """The latest version of every customer state changed since the previous flush.

    Like Kafka Streams' record cache: a customer touched by a thousand events between two
    flushes costs one table (changelog) write and one ClickHouse row, not a thousand.
    """

    # customer_id -> (state, a handle of that customer's partition for the table write)
    states: dict[str, tuple[CustomerState, Any]] = field(default_factory=dict)
    # customer_id -> the state as JSON, serialised once for the table and ClickHouse
    state_json: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchResult:
    rows: RowBatch = field(default_factory=RowBatch)
    messages: list[OutMessage] = field(default_factory=list)
    # Set by StreamProcessor.flush: states to store before `done` (and earlier) is acked.
    flush: StateFlush | None = None
    done: list[Any] = field(default_factory=list)
    alerts: int = 0
    milestones: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    late: int = 0


class _Pending:
    """A buffered event. The reorder heap holds (ts, event_id, topic, offset, _Pending)
    tuples: tuples compare in C, far cheaper than an ordered dataclass's __lt__."""

    __slots__ = ("event", "handle", "partition", "ts")

    def __init__(self, ts: float, partition: int, event: InputEvent, handle: Any) -> None:
        self.ts = ts
        self.partition = partition
        self.event = event
        self.handle = handle

    def __lt__(self, other: _Pending) -> bool:
        # Reached only on equal keys (a re-delivery): unordered, as the key alone decides.
        return False


_Entry = tuple[float, str, str, int, _Pending]


class _Partition:
    """Reorder buffer, watermark and absence timers of one input partition."""

    def __init__(self, number: int, topics: list[str], now: float) -> None:
        self.number = number
        self.buffer: list[_Entry] = []
        self.timers: list[tuple[float, str]] = []
        # The one due time armed per customer. Heap entries that disagree are superseded:
        # dropped when popped, and compacted away when they outnumber live ones, so the heap
        # grows with customers, not with events applied.
        self.armed: dict[str, float] = {}
        self.max_seen: dict[str, float] = {}
        self.last_arrival: dict[str, float] = dict.fromkeys(topics, now)
        self.watermark = float("-inf")
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
        self.settings = settings
        self.engine = engine
        self.load_state = load_state
        self.monotonic = monotonic
        self.wall_time = wall_time
        # The log end of a (topic, partition) as the consumer last saw it, if known: a topic
        # with unread messages is never idle, however long the worker takes to reach them.
        self.end_offset = end_offset
        # (topic, partition) -> offset after the last message taken in
        self.taken: dict[tuple[str, int], int] = {}
        k = settings.kafka
        self.families: dict[str, EventFamily] = {
            k.topic(k.topics.purchases): "purchase",
            k.topic(k.topics.support): "support",
            k.topic(k.topics.surveys): "survey",
        }
        self.topic_alerts = k.topic(k.topics.churn_risk)
        self.topic_milestones = k.topic(k.topics.milestones)
        self.topic_dead_letter = k.topic(k.topics.dead_letter)
        self.lateness = settings.signals.allowed_lateness_s
        self.idle_after = settings.signals.idle_watermark_after_s
        self.partitions: dict[int, _Partition] = {}
        self.cache: OrderedDict[str, CustomerState] = OrderedDict()
        self.cache_size = settings.signals.state_cache_size
        # States changed since the last flush: customer_id -> (state, partition handle).
        self.dirty: dict[str, tuple[CustomerState, Any]] = {}
        # States changed but not yet in the table (dirty, or flushed and being written): an
        # LRU eviction must not send a later read to the (older) table.
        # customer_id -> [state, flushes in flight]
        self.unwritten: dict[str, list[Any]] = {}
        self.counters: dict[str, int] = dict.fromkeys(
            ["events", "alerts", "milestones", "dead_letters", "duplicates", "late"], 0)

    # --- public API -------------------------------------------------------------------
    def process(self, messages: list[InMessage]) -> BatchResult:
        result = BatchResult()
        ingested_at = datetime.now(UTC)
        touched: set[int] = set()
        late: list[_Pending] = []
        taken = self.taken
        for msg in messages:
            taken[(msg.topic, msg.partition)] = msg.offset + 1
            event = self._parse(msg, result, ingested_at)
            if event is None:
                continue
            part = self._partition(msg.partition)
            part.handle = msg.handle
            ts = event.occurred_at.timestamp()
            if ts > part.max_seen.get(msg.topic, float("-inf")):
                part.max_seen[msg.topic] = ts
            part.last_arrival[msg.topic] = self.monotonic()
            pending = _Pending(ts, msg.partition, event, msg.handle)
            if ts <= part.watermark:
                late.append(pending)
            else:
                heapq.heappush(part.buffer, (ts, event.event_id, msg.topic, msg.offset, pending))
            touched.add(msg.partition)
        for partition in touched:
            self._advance(partition, result)
        for pending in late:
            result.late += 1
            self._apply(pending, result)
        self._finish(result)
        return result

    def flush(self, result: BatchResult) -> None:
        """Move every state changed since the last flush into `result`, as JSON and rows."""
        if not self.dirty:
            return
        flush = result.flush = StateFlush(self.dirty)
        self.dirty = {}
        for customer_id, (state, _) in flush.states.items():
            # pydantic_core serialises in Rust: ~4x json.dumps, same JSON values.
            data = flush.state_json[customer_id] = to_json(state.to_dict()).decode()
            result.rows.add("customer_state", state_row(state, data))
            self.unwritten.setdefault(customer_id, [state, 0])[1] += 1

    def written(self, flush: StateFlush) -> None:
        """The caller stored `flush`'s states in the table: they may be read from it again."""
        for customer_id in flush.states:
            entry = self.unwritten.get(customer_id)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0 and customer_id not in self.dirty:  # dirty: changed again
                    del self.unwritten[customer_id]

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
        for cid in [c for c, s in self.cache.items() if s.partition in partitions]:
            del self.cache[cid]
        for cid in [c for c, (s, _) in self.dirty.items() if s.partition in partitions]:
            del self.dirty[cid]
        self.taken = {tp: o for tp, o in self.taken.items() if tp[1] not in partitions}
        for cid in [c for c, e in self.unwritten.items() if e[0].partition in partitions]:
            del self.unwritten[cid]

    def rebuild_timers(self, states: list[dict[str, Any]]) -> None:
        """Re-arm absence timers from stored state (after a restart or a rebalance)."""
        for data in states:
            state = CustomerState.from_dict(data)
            self._arm(self._partition(state.partition), state)

    def buffered(self) -> int:
        return sum(len(p.buffer) for p in self.partitions.values())

    def watermarks(self) -> dict[int, float]:
        return {p: part.watermark for p, part in self.partitions.items()}

    # --- steps ------------------------------------------------------------------------
    def _parse(self, msg: InMessage, result: BatchResult,
               ingested_at: datetime) -> InputEvent | None:
        family = self.families.get(msg.topic)
        if family is None:
            reason = f"unexpected topic {msg.topic}"
        elif msg.value is None:
            reason = "empty message (tombstone)"
        else:
            try:
                event = parse_event(msg.value, family)
            except InvalidEvent as exc:
                reason = exc.reason
            else:
                key = msg.key
                if key is None or key == event.customer_id.encode():
                    table, row = event_row(event, msg.partition, msg.offset, ingested_at)
                    result.rows.add(table, row)
                    return event
                reason = (f"message key {key!r} is not the event's customer_id: "
                          "keying by customer_id keeps a customer's events in one partition")
        self._dead_letter(msg, reason or "invalid", result)
        return None

    def _dead_letter(self, msg: InMessage, reason: str, result: BatchResult) -> None:
        raw = msg.value or b""
        letter = DeadLetter(
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            key=msg.key.decode("utf-8", "replace") if msg.key is not None else None,
            reason=reason, payload=raw.decode("utf-8", "replace"),
            payload_b64=base64.b64encode(raw).decode(), failed_at=datetime.now(UTC),
        )
        result.rows.add("dead_letters", dead_letter_row(letter))
        result.messages.append(OutMessage(self.topic_dead_letter, msg.key or b"",
                                          letter.model_dump_json().encode()))
        result.dead_letters += 1
        result.done.append(msg.handle)

    def _advance(self, partition: int, result: BatchResult) -> None:
        part = self.partitions[partition]
        now = self.monotonic()

        def live(topic: str) -> bool:
            # Sent something lately, or has messages not taken in yet (a backlog: a slow
            # worker must not mistake a topic it has not reached for a quiet one).
            if now - part.last_arrival[topic] < self.idle_after:
                return True
            end = self.end_offset(topic, partition)
            return end is not None and end > self.taken.get((topic, partition), end)

        active = [ts for topic, ts in part.max_seen.items() if live(topic)]
        waiting = [t for t in part.last_arrival if t not in part.max_seen and live(t)]
        if waiting:
            return  # a topic that has sent nothing yet may still bring earlier events
        if active:
            candidate = min(active) - self.lateness
        elif self.settings.signals.live_watermark:
            candidate = self.wall_time() - self.lateness
        else:
            candidate = max(part.max_seen.values(), default=float("-inf"))
        self._release(part, candidate, result)

    def _release(self, part: _Partition, until: float, result: BatchResult) -> None:
        if until <= part.watermark:
            return
        part.watermark = until
        buffer = part.buffer
        while buffer and buffer[0][0] <= until:
            self._apply(heapq.heappop(buffer)[4], result)
        self._fire_timers(part, until, result)

    def _fire_timers(self, part: _Partition, until: float, result: BatchResult) -> None:
        while part.timers and part.timers[0][0] <= until:
            due, customer_id = heapq.heappop(part.timers)
            if part.armed.get(customer_id) != due:
                continue  # superseded by a later _arm
            del part.armed[customer_id]
            state = self._state(customer_id, None, part.number)
            current = self.engine.next_due(state)
            if current is None:
                continue
            if current > due:
                self._arm(part, state)
                continue
            self._emit(self.engine.fire_due(state, min(until, current)), result)
            self._touch(state, part.handle, result)

    def _apply(self, pending: _Pending, result: BatchResult) -> None:
        event = pending.event
        timers = self.partitions[pending.partition].timers
        if timers and timers[0][0] <= pending.ts:
            self._fire_timers(self.partitions[pending.partition], pending.ts, result)
        state = self._state(event.customer_id, pending)
        result.done.append(pending.handle)
        if state.seen(event.event_id, self.settings.signals.recent_event_ids):
            result.duplicates += 1
            return
        outputs = self.engine.apply(state, event, pending.ts)
        if outputs:  # most events raise nothing
            self._emit(outputs, result)
        self._touch(state, pending.handle, result)

    # --- helpers ------------------------------------------------------------------------
    def _partition(self, partition: int) -> _Partition:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = _Partition(partition, list(self.families),
                                                            self.monotonic())
        return part

    def _state(self, customer_id: str, pending: _Pending | None,
               partition: int | None = None) -> CustomerState:
        """The customer's state: cached, not yet written, stored, or new. The partition
        (of the event, or of the timer that fires) says where the table keeps it."""
        if pending is not None:
            partition = pending.partition
        state = self.cache.get(customer_id)
        if state is None and customer_id in self.unwritten:
            state = self.unwritten[customer_id][0]  # evicted, but the table is behind
            self.cache[customer_id] = state
        if state is None:
            stored = self.load_state(customer_id, partition)
            state = (CustomerState.from_dict(stored) if stored
                     else CustomerState(customer_id=customer_id, partition=partition or 0))
            self.cache[customer_id] = state
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(customer_id)
        if pending is not None:
            state.partition = pending.partition
        return state

    def _touch(self, state: CustomerState, handle: Hashable, result: BatchResult) -> None:
        self.dirty[state.customer_id] = (state, handle)
        # From now until its table write, this object is the customer's truth (even if the
        # LRU cache evicts it before the flush).
        self.unwritten.setdefault(state.customer_id, [state, 0])[0] = state
        self._arm(self._partition(state.partition), state)

    def _arm(self, part: _Partition, state: CustomerState) -> None:
        due = self.engine.next_due(state)
        cid = state.customer_id
        if due is None:
            part.armed.pop(cid, None)
        elif part.armed.get(cid) != due:
            part.armed[cid] = due
            heapq.heappush(part.timers, (due, cid))
            if len(part.timers) > 2 * len(part.armed) + 64:
                # Superseded entries outnumber live ones: rebuild from the armed dues.
                part.timers = [(d, c) for c, d in part.armed.items()]
                heapq.heapify(part.timers)

    def _emit(self, outputs: list[Output], result: BatchResult) -> None:
        for out in outputs:
            # model_dump_json() with its defaults, minus a str round trip: rows take the str,
            # the topic the bytes.
            value = out.__pydantic_serializer__.to_json(out)
            payload = value.decode()
            if isinstance(out, ChurnRiskAlert):
                result.rows.add("churn_risk_alerts", alert_row(out, payload))
                topic = self.topic_alerts
                result.alerts += 1
            else:
                assert isinstance(out, Milestone)
                result.rows.add("milestones", milestone_row(out, payload))
                topic = self.topic_milestones
                result.milestones += 1
            result.messages.append(OutMessage(topic, out.customer_id.encode(), value))

    def _finish(self, result: BatchResult) -> None:
        c = self.counters
        c["alerts"] += result.alerts
        c["milestones"] += result.milestones
        c["dead_letters"] += result.dead_letters
        c["duplicates"] += result.duplicates
        c["late"] += result.late
        c["events"] += len(result.done) - result.dead_letters


def state_row(state: CustomerState, data: str) -> tuple[Any, ...]:
    def at(ts: float | None) -> datetime | None:
        return datetime.fromtimestamp(ts, UTC) if ts is not None else None

    return (
        state.customer_id, state.version, at(state.updated_at) or datetime.fromtimestamp(0, UTC),
        state.orders, state.revenue, at(state.first_purchase_at), at(state.last_purchase_at),
        len(state.open_tickets), state.latest_nps, state.latest_csat, risk_score(state),
        sorted(state.episodes), data,
    )
