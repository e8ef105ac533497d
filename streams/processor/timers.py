"""Absence timers of one partition: when each customer's next absence signal is due.

One due time is armed per customer. Heap entries that disagree with it are superseded:
dropped when popped, and compacted away when they outnumber live ones, so the heap grows
with customers, not with events applied.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class AbsenceTimers:
    __slots__ = ("armed", "heap")

    def __init__(self) -> None:
        # (due, customer_id): tuples compare in C. Read `heap[0][0]` for the earliest due
        # time (superseded entries included, so it may be early, never late).
        self.heap: list[tuple[float, str]] = []
        # customer_id -> the one due time armed
        self.armed: dict[str, float] = {}

    def __len__(self) -> int:
        """Heap entries, superseded ones included (bounded by compaction)."""
        return len(self.heap)

    def arm(self, customer_id: str, due: float | None) -> None:
        """Arm the customer's timer at `due`, replacing any other; None disarms it."""
        if due is None:
            self.armed.pop(customer_id, None)
        elif self.armed.get(customer_id) != due:
            self.armed[customer_id] = due
            heapq.heappush(self.heap, (due, customer_id))
            if len(self.heap) > 2 * len(self.armed) + 64:
                # Superseded entries outnumber live ones: rebuild from the armed dues.
                self.heap = [(d, c) for c, d in self.armed.items()]
                heapq.heapify(self.heap)

    def pop_due(self, until: float) -> Iterator[tuple[float, str]]:
        """(due, customer_id) of each armed timer due by `until`, earliest first, disarmed as
        it is taken. The caller may arm timers meanwhile: one re-armed at or before `until`
        is yielded again in this same pass."""
        while self.heap and self.heap[0][0] <= until:
            due, customer_id = heapq.heappop(self.heap)
            if self.armed.get(customer_id) != due:
                continue  # superseded by a later arm()
            del self.armed[customer_id]
            yield due, customer_id

    def pop_due_of(self, customer_id: str, until: float) -> Iterator[tuple[float, str]]:
        """`pop_due` for one customer: its timer while due by `until`, disarmed as taken (its
        heap entry stays, superseded). An event applied on arrival fires its own customer's
        timers first, as the watermark would have before releasing it."""
        armed = self.armed
        while (due := armed.get(customer_id)) is not None and due <= until:
            del armed[customer_id]
            yield due, customer_id
