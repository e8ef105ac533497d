"""A realistic synthetic history: customers who buy at their own pace and then drop out.

Purchases follow the BG/NBD story (a Poisson rate per customer drawn from a gamma, a chance
to leave after each purchase drawn from a beta), so the lifetime model has something true
to find. Support tickets and NPS/CSAT answers are correlated with the customer's mood:
unhappy customers complain, score low and leave sooner.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CHANNELS = ["web", "app", "store"]
SUPPORT_CHANNELS = ["email", "phone", "chat", "web", "app", "social"]
CATEGORIES = ["delivery", "billing", "product", "account"]


@dataclass(frozen=True)
class HistorySpec:
    customers: int = 3000
    months: int = 12
    seed: int = 7
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    duplicate_rate: float = 0.01
    refund_rate: float = 0.03
    # Calendar years before `end` (`retention generate --years`); when set it replaces
    # `months`, which counts 30-day months as the demo always has.
    years: int | None = None

    @property
    def start(self) -> datetime:
        if self.years is None:
            return self.end - timedelta(days=30 * self.months)
        try:
            return self.end.replace(year=self.end.year - self.years)
        except ValueError:  # 29 February, in a year that has none
            return self.end.replace(year=self.end.year - self.years, day=28)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def generate_history(spec: HistorySpec) -> list[dict[str, Any]]:
    """Every event of the history, sorted by occurred_at, with a `type` routing field."""
    rng = random.Random(spec.seed)
    start = spec.start
    span_days = (spec.end - start).days
    events: list[dict[str, Any]] = []
    seq = 0

    def next_id(prefix: str) -> str:
        nonlocal seq
        seq += 1
        return f"{prefix}-{spec.seed}-{seq}"

    for n in range(spec.customers):
        cid = f"cust-{n:06d}"
        joined = start + timedelta(days=rng.uniform(0, span_days * 0.9))
        rate_per_day = rng.gammavariate(0.9, 1 / 25)  # mean about one order a month
        p_leave = rng.betavariate(1.0, 4.0)
        unhappy = rng.random() < 0.2
        basket = rng.lognormvariate(3.6, 0.5)
        t = joined
        alive = True
        order_no = 0
        while alive and t < spec.end:
            order_no += 1
            amount = round(basket * rng.uniform(0.6, 1.5), 2)
            oid = next_id("o")
            events.append({
                "type": "purchase", "event_id": next_id("p"), "customer_id": cid,
                "occurred_at": _iso(t), "order_id": oid, "amount": amount,
                "currency": "USD", "items": rng.randint(1, 4), "channel": rng.choice(CHANNELS),
            })
            if rng.random() < spec.refund_rate:
                events.append({
                    "type": "purchase", "event_id": next_id("p"), "customer_id": cid,
                    "occurred_at": _iso(t + timedelta(days=rng.uniform(1, 10))),
                    "order_id": oid, "amount": amount, "kind": "refund",
                })
            if rng.random() < (0.35 if unhappy else 0.08):
                events.extend(_ticket(rng, cid, t + timedelta(hours=rng.uniform(1, 72)),
                                      unhappy, next_id))
            if rng.random() < 0.25:
                events.append(_survey(rng, cid, t + timedelta(days=rng.uniform(1, 14)),
                                      unhappy, next_id))
            alive = order_no == 1 or rng.random() > p_leave * (1.6 if unhappy else 1.0)
            t += timedelta(days=rng.expovariate(max(rate_per_day, 1e-4)))
    events = [e for e in events if e["occurred_at"] < _iso(spec.end)]
    dupes = [dict(e) for e in events if rng.random() < spec.duplicate_rate]
    events.extend(dupes)
    events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return events


def _ticket(rng: random.Random, cid: str, opened: datetime, unhappy: bool,
            next_id: Callable[[str], str]) -> list[dict[str, Any]]:
    ticket = next_id("t")
    channel = rng.choice(SUPPORT_CHANNELS)
    base: dict[str, Any] = {"type": "support", "customer_id": cid, "ticket_id": ticket,
                            "channel": channel, "category": rng.choice(CATEGORIES)}
    out: list[dict[str, Any]] = [
        {**base, "event_id": next_id("s"), "occurred_at": _iso(opened), "action": "opened"}]
    t = opened + timedelta(hours=rng.expovariate(1 / (20 if unhappy else 6)))
    out.append({**base, "event_id": next_id("s"), "occurred_at": _iso(t), "action": "replied"})
    if unhappy and rng.random() < 0.3:
        t += timedelta(hours=rng.uniform(2, 48))
        out.append({**base, "event_id": next_id("s"), "occurred_at": _iso(t),
                    "action": "escalated"})
    if rng.random() < 0.9:
        t += timedelta(hours=rng.expovariate(1 / (60 if unhappy else 20)))
        fcr = len(out) == 2 and rng.random() < 0.6
        out.append({**base, "event_id": next_id("s"), "occurred_at": _iso(t),
                    "action": "resolved", "first_contact_resolution": fcr})
    return out


def _survey(rng: random.Random, cid: str, at: datetime, unhappy: bool,
            next_id: Callable[[str], str]) -> dict[str, Any]:
    if rng.random() < 0.6:
        score = rng.randint(0, 7) if unhappy else rng.choice([6, 7, 8, 8, 9, 9, 10, 10])
        return {"type": "survey", "event_id": next_id("v"), "customer_id": cid,
                "occurred_at": _iso(at), "survey": "nps", "score": score}
    score = rng.randint(1, 3) if unhappy else rng.randint(3, 5)
    return {"type": "survey", "event_id": next_id("v"), "customer_id": cid,
            "occurred_at": _iso(at), "survey": "csat", "score": score}


def to_json_lines(events: list[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event, separators=(",", ":"))
