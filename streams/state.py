"""Per-customer rolling state: bounded, JSON-serialisable, updated in event time.

Times are epoch seconds (UTC) and days are whole days since the epoch, so state is cheap
to copy into the Faust table's changelog. Nothing here grows with the number of events:
daily buckets keep only the trailing `DAILY_HORIZON_DAYS`, ticket lists are capped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

DAY = 86_400.0
# spend_decline compares the trailing 90 days with the 90 before: 180 days of buckets.
DAILY_HORIZON_DAYS = 180
MAX_TRACKED_TICKETS = 200


def day_of(ts: float) -> int:
    return int(ts // DAY)


@dataclass(slots=True)
class Episode:
    """An open churn-risk episode of one rule."""

    opened_at: float
    last_alert_at: float
    detail: str
    weight: int


@dataclass(slots=True)
class CustomerState:
    customer_id: str
    partition: int = 0
    version: int = 0
    updated_at: float = 0.0
    # purchases (refunds are not orders; they lower net revenue only)
    orders: int = 0
    revenue: float = 0.0
    refunds: float = 0.0
    first_purchase_at: float | None = None
    last_purchase_at: float | None = None
    prev_purchase_at: float | None = None
    # BG/NBD inputs, counted in distinct purchase days
    purchase_days: int = 0
    first_purchase_day: int | None = None
    last_purchase_day: int | None = None
    # day -> [orders, revenue] for the trailing DAILY_HORIZON_DAYS
    daily: dict[int, list[float]] = field(default_factory=dict)
    # support
    tickets_opened_at: list[float] = field(default_factory=list)
    open_tickets: dict[str, float] = field(default_factory=dict)
    sla_alerted_tickets: list[str] = field(default_factory=list)
    # surveys
    latest_nps: int | None = None
    latest_nps_at: float | None = None
    latest_csat: int | None = None
    latest_csat_at: float | None = None
    # signals
    episodes: dict[str, Episode] = field(default_factory=dict)
    anniversaries_done: int = 0
    lifetime_spend_tier: int = 0
    p_alive: float | None = None
    recent_event_ids: deque[str] = field(default_factory=deque)

    # --- derived values -------------------------------------------------------------
    @property
    def mean_interpurchase_s(self) -> float | None:
        if self.orders < 2 or self.first_purchase_at is None or self.last_purchase_at is None:
            return None
        return (self.last_purchase_at - self.first_purchase_at) / (self.orders - 1)

    def trailing(self, now: float, days: int, offset_days: int = 0) -> tuple[int, float]:
        """(orders, revenue) in the `days` whole days ending `offset_days` before `now`'s day."""
        end = day_of(now) - offset_days
        orders, revenue = 0, 0.0
        for day, (n, amount) in self.daily.items():
            if end - days < day <= end:
                orders += int(n)
                revenue += amount
        return orders, revenue

    def revenue_windows(self, now: float, days: int) -> tuple[float, float]:
        """Revenue in the `days` whole days ending on `now`'s day, and in the `days` before.

        One pass for what trailing(now, days) and trailing(now, days, days) return, summed
        in the same (insertion) order, hence to the same floats.
        """
        end = int(now // DAY)  # day_of(now)
        start = end - days
        before = start - days
        recent = previous = 0.0
        for day, bucket in self.daily.items():
            if day > start:
                if day <= end:
                    recent += bucket[1]
            elif day > before:
                previous += bucket[1]
        return recent, previous

    def tickets_opened_since(self, since: float) -> int:
        if not self.tickets_opened_at:
            return 0  # most customers: skip building the generator
        return sum(1 for t in self.tickets_opened_at if t >= since)

    # --- bookkeeping ----------------------------------------------------------------
    def seen(self, event_id: str, keep: int) -> bool:
        """True if `event_id` was already applied; otherwise remember it (bounded)."""
        if event_id in self.recent_event_ids:
            return True
        self.recent_event_ids.append(event_id)
        while len(self.recent_event_ids) > keep:
            self.recent_event_ids.popleft()
        return False

    def record_order(self, ts: float, amount: float) -> None:
        self.orders += 1
        self.revenue += amount
        day = day_of(ts)
        # A late order may land on a day before the last one: it is a new purchase day if it
        # falls outside [first, last] or inside the bucket horizon on a day without orders.
        # (Older days inside [first, last] are unknown after pruning: assumed already seen.)
        latest = max(self.daily, default=day)
        horizon_start = latest - DAILY_HORIZON_DAYS
        new_day = (self.first_purchase_day is None or day < self.first_purchase_day
                   or self.last_purchase_day is None or day > self.last_purchase_day
                   or (day > horizon_start and day not in self.daily))
        bucket = self.daily.setdefault(day, [0, 0.0])
        bucket[0] += 1
        bucket[1] += amount
        horizon = max(latest, day) - DAILY_HORIZON_DAYS  # max(self.daily), known already
        for old in [d for d in self.daily if d <= horizon]:
            del self.daily[old]
        if self.first_purchase_at is None or ts < self.first_purchase_at:
            self.first_purchase_at = ts
        if self.last_purchase_at is None or ts >= self.last_purchase_at:
            self.prev_purchase_at = self.last_purchase_at
            self.last_purchase_at = ts
        if new_day:
            self.purchase_days += 1
        if self.last_purchase_day is None or day > self.last_purchase_day:
            self.last_purchase_day = day
        if self.first_purchase_day is None or day < self.first_purchase_day:
            self.first_purchase_day = day

    def record_ticket_opened(self, ticket_id: str, ts: float, window_s: float) -> None:
        # Same window as tickets_opened_since: a ticket exactly `window_s` old still counts.
        self.tickets_opened_at = [t for t in self.tickets_opened_at if t >= ts - window_s]
        self.tickets_opened_at.append(ts)
        del self.tickets_opened_at[:-MAX_TRACKED_TICKETS]
        self.open_tickets[ticket_id] = ts
        self._cap_open_tickets()

    def reopen_ticket(self, ticket_id: str, ts: float) -> None:
        """A reopened or escalated ticket is open again; its SLA runs from `ts` if it was shut."""
        self.open_tickets.setdefault(ticket_id, ts)
        self._cap_open_tickets()

    def _cap_open_tickets(self) -> None:
        while len(self.open_tickets) > MAX_TRACKED_TICKETS:
            oldest = next(iter(self.open_tickets))
            del self.open_tickets[oldest]
            # Keeps sla_alerted_tickets a subset of open_tickets, hence bounded too.
            if oldest in self.sla_alerted_tickets:
                self.sla_alerted_tickets.remove(oldest)

    def close_ticket(self, ticket_id: str) -> None:
        self.open_tickets.pop(ticket_id, None)
        if ticket_id in self.sla_alerted_tickets:
            self.sla_alerted_tickets.remove(ticket_id)

    def bgnbd_inputs(self, now: float) -> tuple[int, int, int] | None:
        """(x, t_x, T) in days as the model defines them, or None before any order.

        A decision taken at an event time before the last known purchase (a late event
        released after a later one) still sees that purchase: T never falls below t_x.
        """
        if self.first_purchase_day is None or self.last_purchase_day is None:
            return None
        return (
            self.purchase_days - 1,
            self.last_purchase_day - self.first_purchase_day,
            max(day_of(now), self.last_purchase_day) - self.first_purchase_day,
        )

    # --- serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        # Every field in declaration order; the three below replaced in place (same keys,
        # same order as ever: stored states are read back after restarts).
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["daily"] = {str(k): v for k, v in self.daily.items()}
        out["episodes"] = {k: [e.opened_at, e.last_alert_at, e.detail, e.weight]
                           for k, e in self.episodes.items()}
        out["recent_event_ids"] = list(self.recent_event_ids)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerState:
        data = dict(data)
        data["episodes"] = {k: Episode(*v) for k, v in data.get("episodes", {}).items()}
        data["recent_event_ids"] = deque(data.get("recent_event_ids", []))
        data["daily"] = {int(k): v for k, v in data.get("daily", {}).items()}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_FIELD_NAMES = tuple(f.name for f in fields(CustomerState))
