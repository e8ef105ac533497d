"""Builders for input events, messages and engines: tests state intent, not JSON plumbing.

Events are built as wire JSON and parsed with the real `parse_event`, so every test input
is something a producer could actually send.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from retention.analytics.model import BgNbdParams, probability_alive
from retention.settings import Settings, SignalSettings
from schemas import (
    ChurnRiskAlert,
    InputEvent,
    Milestone,
    Purchase,
    SupportEvent,
    SurveyResponse,
    parse_event,
)
from streams.processor import InMessage
from streams.signals.engine import Output, SignalEngine
from streams.state import CustomerState

# Midday, so whole-day windows (spend_decline, BG/NBD days) never straddle midnight.
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# What the injected wall clock says: raised_at, never decided_at.
WALL = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = 3600.0
DAY = 86_400.0

TOPIC_OF = {"purchase": "purchases", "support": "support-events", "survey": "survey-responses"}
_TOPIC_OF_MODEL: dict[type, str] = {
    Purchase: "purchases", SupportEvent: "support-events", SurveyResponse: "survey-responses",
}
_FAMILY_OF_TOPIC = {v: k for k, v in TOPIC_OF.items()}


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _build(family: str, fields: dict[str, Any]) -> Any:
    return parse_event(json.dumps(fields), family)  # type: ignore[arg-type]


def purchase(cid: str, when: datetime, amount: float = 50.0, *, event_id: str | None = None,
             order_id: str | None = None, kind: str = "order",
             currency: str = "USD") -> Purchase:
    stamp = iso(when)
    return _build("purchase", {
        "event_id": event_id or f"p-{cid}-{stamp}-{kind}", "customer_id": cid,
        "occurred_at": stamp, "order_id": order_id or f"o-{cid}-{stamp}", "amount": amount,
        "currency": currency, "kind": kind,
    })


def support(cid: str, when: datetime, ticket: str, action: str, *, channel: str = "email",
            event_id: str | None = None) -> SupportEvent:
    stamp = iso(when)
    return _build("support", {
        "event_id": event_id or f"s-{cid}-{ticket}-{action}-{stamp}", "customer_id": cid,
        "occurred_at": stamp, "ticket_id": ticket, "action": action, "channel": channel,
    })


def survey(cid: str, when: datetime, kind: str, score: int, *, ticket_id: str | None = None,
           event_id: str | None = None) -> SurveyResponse:
    stamp = iso(when)
    fields: dict[str, Any] = {
        "event_id": event_id or f"v-{cid}-{kind}-{stamp}", "customer_id": cid,
        "occurred_at": stamp, "survey": kind, "score": score,
    }
    if ticket_id is not None:
        fields["ticket_id"] = ticket_id
    return _build("survey", fields)


# --- engines ------------------------------------------------------------------------------
def signal_settings(**overrides: Any) -> SignalSettings:
    return SignalSettings(**overrides)


def make_engine(model: Any = None, **overrides: Any) -> SignalEngine:
    return SignalEngine(signal_settings(**overrides), model=model, wall_clock=lambda: WALL)


@dataclass
class Customer:
    """One customer driven through the engine in event-time order, as the processor does."""

    engine: SignalEngine
    state: CustomerState

    @classmethod
    def new(cls, engine: SignalEngine | None = None, cid: str = "c1") -> Customer:
        return cls(engine or make_engine(), CustomerState(customer_id=cid))

    @property
    def cid(self) -> str:
        return self.state.customer_id

    def apply(self, event: InputEvent) -> list[Output]:
        """Only the event: no absence signal fires."""
        return self.engine.apply(self.state, event)

    def until(self, when: datetime | float) -> list[Output]:
        """Absence signals due by `when` (event time)."""
        ts = when.timestamp() if isinstance(when, datetime) else when
        return self.engine.fire_due(self.state, ts)

    def feed(self, events: Iterable[InputEvent]) -> list[Output]:
        """Absence signals due before each event, then the event (duplicates dropped)."""
        out: list[Output] = []
        for event in events:
            out += self.until(event.occurred_at)
            if not self.state.seen(event.event_id, 64):
                out += self.apply(event)
        return out


def alerts(outputs: Iterable[Output], rule: str | None = None) -> list[ChurnRiskAlert]:
    return [o for o in outputs if isinstance(o, ChurnRiskAlert)
            and (rule is None or o.rule_id == rule)]


def milestones(outputs: Iterable[Output], kind: str | None = None) -> list[Milestone]:
    return [o for o in outputs if isinstance(o, Milestone) and (kind is None or o.kind == kind)]


def only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


# --- a BG/NBD model for low_p_alive -------------------------------------------------------
class BgNbdStub:
    """PAliveModel over retention.analytics.model's closed-form P(alive); the crossing day is
    found by bisection on that same function, independently of any other closed form."""

    def __init__(self, params: BgNbdParams) -> None:
        self.params = params
        self._crossing = lru_cache(maxsize=None)(self._find_crossing)

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        return float(probability_alive(self.params, x, t_x, T))

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None:
        return self._crossing(x, t_x, threshold)

    def _find_crossing(self, x: int, t_x: float, threshold: float) -> float | None:
        if x < 1:
            return None
        if self.p_alive(x, t_x, t_x) < threshold:
            return float(t_x)
        low, high = float(t_x), float(t_x) + 1.0
        while self.p_alive(x, t_x, high) >= threshold:
            low, high = high, t_x + 2 * (high - t_x)
            if high > 1e7:
                return None
        while high - low > 1e-9 * max(1.0, high):
            mid = (low + high) / 2
            low, high = (mid, high) if self.p_alive(x, t_x, mid) >= threshold else (low, mid)
        return high


# Heavy early dropout: a few silent weeks already make a repeat buyer look gone.
FAST_DROPOUT = BgNbdParams(r=0.5, alpha=10.0, a=0.9, b=2.0)


def crossing_day(model: BgNbdStub, x: int, t_x: float, threshold: float) -> int:
    """The first whole age (days) at which P(alive) is below `threshold`."""
    day = model.day_p_alive_drops_below(x, t_x, threshold)
    assert day is not None
    return math.ceil(day)


# --- processor plumbing -------------------------------------------------------------------
def processor_settings(*, kafka: dict[str, Any] | None = None, **signals: Any) -> Settings:
    return Settings(kafka=kafka or {}, signals=signals)  # type: ignore[arg-type]


class FakeClock:
    """A controllable clock: call it for the time, `advance` to move it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Offsets:
    """Hands out consecutive offsets per (topic, partition), like a broker."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}

    def take(self, topic: str, partition: int) -> int:
        offset = self.next.get((topic, partition), 0)
        self.next[(topic, partition)] = offset + 1
        return offset


def wire(event: InputEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def message(event: InputEvent, offsets: Offsets, partition: int = 0,
            key: bytes | None = None) -> InMessage:
    """The Kafka message a producer would send for `event` (keyed by customer_id)."""
    topic = _TOPIC_OF_MODEL[type(event)]
    offset = offsets.take(topic, partition)
    return InMessage(topic, partition, offset,
                     key if key is not None else event.customer_id.encode(), wire(event),
                     handle=(topic, partition, offset))


def raw_message(topic: str, value: bytes | None, offsets: Offsets, partition: int = 0,
                key: bytes | None = b"c1") -> InMessage:
    offset = offsets.take(topic, partition)
    return InMessage(topic, partition, offset, key, value, handle=(topic, partition, offset))


def family_of_topic(topic: str) -> str:
    return _FAMILY_OF_TOPIC[topic]
