"""Event-time order per partition: the reorder buffer and the watermark that releases it.

A partition's watermark is the slowest of its live input topics' newest event time, minus
the allowed lateness; events wait in the buffer until it passes them, then leave in
(event time, event id) order, so a replay and a live run apply them alike. A live topic
whose consumer has taken everything up to its log end has nothing in flight and holds the
watermark back no further than the wall clock minus the lateness (`WatermarkPolicy.target`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from retention.settings import SignalSettings
from schemas import InputEvent
from streams.processor.messages import InMessage


class Pending:
    """A buffered event. The reorder heap holds (ts, event_id, topic, offset, Pending)
    tuples: tuples compare in C, far cheaper than an ordered dataclass's __lt__."""

    __slots__ = ("event", "handle", "message", "partition", "ts")

    def __init__(self, ts: float, partition: int, event: InputEvent, handle: Any,
                 message: InMessage) -> None:
        self.ts = ts
        self.partition = partition
        self.event = event
        self.handle = handle
        # The message it came in (an InMessage): dead-lettered as it was if applying fails.
        self.message = message

    def __lt__(self, other: Pending) -> bool:
        # Reached only on equal keys (a re-delivery): unordered, as the key alone decides.
        return False


_Entry = tuple[float, str, str, int, Pending]


class ReorderBuffer:
    """The buffered events and watermark of one input partition."""

    __slots__ = ("buffer", "last_arrival", "max_seen", "waiting", "watermark")

    def __init__(self, topics: list[str], now: float) -> None:
        self.buffer: list[_Entry] = []
        # topic -> newest event time seen
        self.max_seen: dict[str, float] = {}
        # topic -> monotonic time of its last message (creation counts: a topic that never
        # sends goes idle only after the idle delay)
        self.last_arrival: dict[str, float] = dict.fromkeys(topics, now)
        self.watermark = float("-inf")
        # customer_id -> its events in the buffer: a customer with any may not skip it.
        self.waiting: dict[str, int] = {}

    def arrived(self, topic: str, ts: float, now: float) -> None:
        """An event of `topic` at event time `ts` came in at monotonic time `now`."""
        if ts > self.max_seen.get(topic, float("-inf")):
            self.max_seen[topic] = ts
        self.last_arrival[topic] = now

    def add(self, topic: str, offset: int, pending: Pending) -> bool:
        """Buffer an event that `arrived` (True), or refuse it as late (False: at or behind
        the watermark, for the caller to apply at once)."""
        ts = pending.ts
        if ts <= self.watermark:
            return False
        customer_id = pending.event.customer_id
        self.waiting[customer_id] = self.waiting.get(customer_id, 0) + 1
        heapq.heappush(self.buffer, (ts, pending.event.event_id, topic, offset, pending))
        return True

    def advance(self, until: float) -> bool:
        """Move the watermark to `until`; False (unmoved) unless `until` is ahead of it."""
        if until <= self.watermark:
            return False
        self.watermark = until
        return True

    def released(self) -> Iterator[Pending]:
        """Take out the events the watermark has passed, in order.

        NOTE: one at a time, not as a list: the caller applies each before the next is
        popped, so applied events are freed at once and the cyclic GC (which counts live
        allocations) runs no more often than it must.
        """
        buffer = self.buffer
        until = self.watermark
        waiting = self.waiting
        while buffer and buffer[0][0] <= until:
            pending = heapq.heappop(buffer)[4]
            customer_id = pending.event.customer_id
            left = waiting[customer_id] - 1
            if left:
                waiting[customer_id] = left
            else:
                del waiting[customer_id]
            yield pending


class WatermarkPolicy:
    """Where a partition's watermark may go next, from which of its input topics are live."""

    def __init__(self, signals: SignalSettings, monotonic: Callable[[], float],
                 wall_time: Callable[[], float],
                 end_offset: Callable[[str, int], int | None]) -> None:
        self.lateness = signals.allowed_lateness_s
        self.idle_after = signals.idle_watermark_after_s
        self.follow_wall_clock = signals.live_watermark
        self.monotonic = monotonic
        self.wall_time = wall_time
        # The log end of a (topic, partition) as the consumer last saw it, if known: a topic
        # with unread messages is never idle, however long the worker takes to reach them.
        self.end_offset = end_offset
        # (topic, partition) -> offset after the last message taken in (valid or not)
        self.taken: dict[tuple[str, int], int] = {}

    def target(self, partition: int, part: ReorderBuffer) -> float | None:
        """The watermark `partition` (buffered in `part`) may move to now, or None while a
        topic that has sent nothing yet may still bring earlier events.

        Each input topic bounds it. One with messages possibly left to read bounds it at its
        newest event time minus the lateness (holding the partition while it has sent
        nothing), however long ago it sent: a starved partition of a loaded worker must not
        pass for a quiet one, or the events it still holds arrive late. Messages are
        possibly left when its log end (the high watermark of the consumer's last fetch) is
        past what was taken in, nothing taken counting as 0, or when the log end is unknown:
        the consumer learns it from its first fetch response after an assignment (0 for an
        empty partition), so a live topic holds only until then. A topic whose log end is
        never reported (the default `end_offset` of replays over plain lists, or a partition
        the consumer is not assigned) never goes idle: its watermark follows event time and
        `drain()` releases the rest.

        A topic read to its log end whose newest event is live (within the idle delay plus
        the lateness of the wall clock) has nothing in flight: in live mode it holds back no
        further than the wall clock minus the lateness, at once rather than after the idle
        delay. Any other read to its end (history: an import read as fast as it is
        published) bounds it while it sent something (or the partition started) less than
        the idle delay ago.
        """
        now = self.monotonic()
        live_floor = self.wall_time() - self.lateness if self.follow_wall_clock else None
        bounds: list[float] = []
        for topic, last_arrival in part.last_arrival.items():
            end = self.end_offset(topic, partition)
            seen = part.max_seen.get(topic)
            if end is None or end > self.taken.get((topic, partition), 0):
                if seen is None:
                    return None
                bounds.append(seen - self.lateness)
                continue
            if live_floor is not None and (
                    seen is None or seen >= live_floor - self.idle_after):
                bounds.append(live_floor)
                continue
            if now - last_arrival < self.idle_after:
                if seen is None:
                    return None
                bounds.append(seen - self.lateness)
        if bounds:
            return min(bounds)
        if live_floor is not None:
            return live_floor
        return max(part.max_seen.values(), default=float("-inf"))

    def forget(self, partitions: set[int]) -> None:
        self.taken = {tp: o for tp, o in self.taken.items() if tp[1] not in partitions}
