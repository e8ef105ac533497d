"""Synthetic histories: customers who buy at their own pace and then drop out.

Purchases follow the BG/NBD story (a Poisson rate per customer drawn from a gamma, a chance
to leave after each purchase drawn from a beta), so the lifetime model has something true
to find. Support tickets and NPS/CSAT answers are correlated with the customer's mood:
unhappy customers complain, score low and leave sooner.

Two profiles: `shop` (the demo's and `retention generate`'s default, see ShopProcess) is
calibrated so the KPIs land where real shops are; `steady` is the original process
(about one order a month, few leave), which the pipeline's tests replay as fixed inputs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

CHANNELS = ["web", "app", "store"]
SUPPORT_CHANNELS = ["email", "phone", "chat", "web", "app", "social"]
CATEGORIES = ["delivery", "billing", "product", "account"]

Profile = Literal["steady", "shop"]
PROFILES: tuple[Profile, ...] = ("shop", "steady")
NextId = Callable[[str], str]


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
    profile: Profile = "steady"

    @property
    def start(self) -> datetime:
        if self.years is None:
            return self.end - timedelta(days=30 * self.months)
        try:
            return self.end.replace(year=self.end.year - self.years)
        except ValueError:  # 29 February, in a year that has none
            return self.end.replace(year=self.end.year - self.years, day=28)


def iso_time(ts: datetime) -> str:
    """An instant as the events write it: RFC 3339 in UTC with a Z (sorts as text)."""
    return ts.isoformat().replace("+00:00", "Z")


def generate_history(spec: HistorySpec) -> list[dict[str, Any]]:
    """Every event of the history, sorted by occurred_at, with a `type` routing field."""
    rng = random.Random(spec.seed)
    events: list[dict[str, Any]] = []
    seq = 0

    def next_id(prefix: str) -> str:
        nonlocal seq
        seq += 1
        return f"{prefix}-{spec.seed}-{seq}"

    customer_events = _shop_customer if spec.profile == "shop" else _steady_customer
    for n in range(spec.customers):
        events.extend(customer_events(rng, spec, f"cust-{n:06d}", next_id))
    events = [e for e in events if e["occurred_at"] < iso_time(spec.end)]
    dupes = [dict(e) for e in events if rng.random() < spec.duplicate_rate]
    events.extend(dupes)
    events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return events


def _steady_customer(rng: random.Random, spec: HistorySpec, cid: str,
                     next_id: NextId) -> list[dict[str, Any]]:
    """The original process: about one order a month, a fifth of customers unhappy."""
    start = spec.start
    span_days = (spec.end - start).days
    events: list[dict[str, Any]] = []
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
        events.extend(_order(rng, spec, cid, t, basket, next_id))
        if rng.random() < (0.35 if unhappy else 0.08):
            events.extend(_ticket(rng, cid, t + timedelta(hours=rng.uniform(1, 72)),
                                  unhappy, next_id))
        if rng.random() < 0.25:
            events.append(_survey(rng, cid, t + timedelta(days=rng.uniform(1, 14)),
                                  unhappy, next_id))
        alive = order_no == 1 or rng.random() > p_leave * (1.6 if unhappy else 1.0)
        t += timedelta(days=rng.expovariate(max(rate_per_day, 1e-4)))
    return events


@dataclass(frozen=True)
class ShopProcess:
    """The `shop` profile's customers (time unit days), BG/NBD-style.

    Calibrated so a three-year history looks like a small web shop: about one order a year
    on average while active (rates vary widely), a quarter of customers gone after each
    repeat order, so a year's repeat purchase rate lands near 30% (kpis.md: 19.87-39.6%,
    "typically about 30%") and annual churn is far above zero (~50%, as in retail where
    most customers buy once). Churn shows in support and surveys
    first: a customer who leaves after an order often opens a ticket about it and answers
    a survey unhappily, as the sources describe.
    """

    # Purchase rate lambda ~ Gamma(shape, scale): mean 0.0028/day, about one order a year.
    rate_shape: float = 0.7
    rate_scale: float = 1 / 250
    # Dropout after each repeat order, p ~ Beta(a, b) (mean 0.25), unhappy customers' x1.8.
    leave_a: float = 1.0
    leave_b: float = 3.0
    unhappy_share: float = 0.2
    unhappy_leave_factor: float = 1.8
    # New customers keep arriving, a little faster as the shop grows.
    growth: float = 1.5
    # Tickets after an order (unhappy / happy customers), a survey after an order, and the
    # chances a customer leaving after this order complains and answers a survey.
    ticket_unhappy: float = 0.3
    ticket_happy: float = 0.05
    survey: float = 0.2
    leaving_ticket: float = 0.5
    leaving_survey: float = 0.6


SHOP = ShopProcess()


def _joined(rng: random.Random, spec: HistorySpec) -> datetime:
    """Arrival time: density rising linearly by `growth` over the span (inverse CDF)."""
    g, u = SHOP.growth, rng.random()
    # F(s) = (s + (g-1) s^2 / 2) / ((g+1) / 2) on [0, 1]; solve F(s) = u for s.
    fraction = u if g == 1 else (-1 + (1 + 2 * (g - 1) * u * (g + 1) / 2) ** 0.5) / (g - 1)
    return spec.start + (spec.end - spec.start) * fraction


def _shop_customer(rng: random.Random, spec: HistorySpec, cid: str,
                   next_id: NextId) -> list[dict[str, Any]]:
    """One customer of the `shop` profile: BG/NBD purchases; leaving shows in support."""
    events: list[dict[str, Any]] = []
    unhappy = rng.random() < SHOP.unhappy_share
    rate = rng.gammavariate(SHOP.rate_shape, SHOP.rate_scale)
    leave = min(1.0, rng.betavariate(SHOP.leave_a, SHOP.leave_b)
                * (SHOP.unhappy_leave_factor if unhappy else 1.0))
    basket = rng.lognormvariate(3.8, 0.5)
    t = _joined(rng, spec)
    first = True
    while t < spec.end:
        events.extend(_order(rng, spec, cid, t, basket, next_id))
        # BG/NBD: no dropout at the first purchase, chance `leave` after each repeat one.
        leaving = not first and rng.random() < leave
        first = False
        complains = leaving and rng.random() < SHOP.leaving_ticket
        if complains or rng.random() < (SHOP.ticket_unhappy if unhappy else SHOP.ticket_happy):
            events.extend(_ticket(rng, cid, t + timedelta(hours=rng.uniform(1, 72)),
                                  unhappy or complains, next_id))
        answers = leaving and rng.random() < SHOP.leaving_survey
        if answers or rng.random() < SHOP.survey:
            events.append(_survey(rng, cid, t + timedelta(days=rng.uniform(1, 14)),
                                  unhappy or answers, next_id))
        if leaving:
            break
        # A wait past any history's end is as good as never (and keeps dates in range).
        t += timedelta(days=min(rng.expovariate(rate), 36_500.0))
    return events


def _order(rng: random.Random, spec: HistorySpec, cid: str, at: datetime, basket: float,
           next_id: NextId) -> list[dict[str, Any]]:
    """An order around the customer's usual basket, refunded now and then."""
    amount = round(basket * rng.uniform(0.6, 1.5), 2)
    oid = next_id("o")
    out: list[dict[str, Any]] = [{
        "type": "purchase", "event_id": next_id("p"), "customer_id": cid,
        "occurred_at": iso_time(at), "order_id": oid, "amount": amount,
        "currency": "USD", "items": rng.randint(1, 4), "channel": rng.choice(CHANNELS),
    }]
    if rng.random() < spec.refund_rate:
        out.append({
            "type": "purchase", "event_id": next_id("p"), "customer_id": cid,
            "occurred_at": iso_time(at + timedelta(days=rng.uniform(1, 10))),
            "order_id": oid, "amount": amount, "kind": "refund",
        })
    return out


def _ticket(rng: random.Random, cid: str, opened: datetime, unhappy: bool,
            next_id: NextId) -> list[dict[str, Any]]:
    ticket = next_id("t")
    channel = rng.choice(SUPPORT_CHANNELS)
    base: dict[str, Any] = {"type": "support", "customer_id": cid, "ticket_id": ticket,
                            "channel": channel, "category": rng.choice(CATEGORIES)}
    out: list[dict[str, Any]] = [
        {**base, "event_id": next_id("s"), "occurred_at": iso_time(opened), "action": "opened"}]
    t = opened + timedelta(hours=rng.expovariate(1 / (20 if unhappy else 6)))
    out.append({**base, "event_id": next_id("s"), "occurred_at": iso_time(t), "action": "replied"})
    if unhappy and rng.random() < 0.3:
        t += timedelta(hours=rng.uniform(2, 48))
        out.append({**base, "event_id": next_id("s"), "occurred_at": iso_time(t),
                    "action": "escalated"})
    if rng.random() < 0.9:
        t += timedelta(hours=rng.expovariate(1 / (60 if unhappy else 20)))
        fcr = len(out) == 2 and rng.random() < 0.6
        out.append({**base, "event_id": next_id("s"), "occurred_at": iso_time(t),
                    "action": "resolved", "first_contact_resolution": fcr})
    return out


def _survey(rng: random.Random, cid: str, at: datetime, unhappy: bool,
            next_id: NextId) -> dict[str, Any]:
    if rng.random() < 0.6:
        score = rng.randint(0, 7) if unhappy else rng.choice([6, 7, 8, 8, 9, 9, 10, 10])
        return {"type": "survey", "event_id": next_id("v"), "customer_id": cid,
                "occurred_at": iso_time(at), "survey": "nps", "score": score}
    score = rng.randint(1, 3) if unhappy else rng.randint(3, 5)
    return {"type": "survey", "event_id": next_id("v"), "customer_id": cid,
            "occurred_at": iso_time(at), "survey": "csat", "score": score}


def to_json_lines(events: list[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event, separators=(",", ":"))
