"""The hostile corpus: what a careless or malicious producer sends, and what each must become.

Each item is one raw Kafka message for a customer of its own, after the history ends. Some
may only be dead-lettered; for a keyless or misplaced event (and a 1e308 amount) the worker
may dead-letter it or apply it to the right customer (re-routed, as a setting chooses):
either way it must never reach another partition's state. A correctly keyed follow-up event
of the same customer shows which state it reached: applied in the wrong partition, the
follow-up meets a state without it and the milestone ids differ from the reference run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.outputs import partition_for

DEAD_LETTER = "dead-lettered"
STORED = "stored"
EITHER = frozenset({DEAD_LETTER, STORED})
ONLY_DEAD_LETTER = frozenset({DEAD_LETTER})


@dataclass(frozen=True)
class Hostile:
    name: str
    event_id: str
    key: bytes | None
    value: bytes
    partition: int
    allowed: frozenset[str]
    # The event as the reference run applies it, if the worker stores it.
    event: dict[str, Any] | None = None


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _purchase(name: str, when: datetime | str, amount: Any = 25.0, **extra: Any
              ) -> dict[str, Any]:
    return {"type": "purchase", "event_id": f"h-{name}", "customer_id": f"hostile-{name}",
            "occurred_at": when if isinstance(when, str) else _iso(when),
            "order_id": f"ho-{name}", "amount": amount, **extra}


def corpus(after: datetime, partitions: int) -> tuple[list[Hostile], list[dict[str, Any]]]:
    """The hostile messages (event times just `after` the history) and the correctly keyed
    follow-up events that reveal which state an accepted one reached."""
    at = [after + timedelta(hours=i + 1) for i in range(16)]
    now = datetime.fromtimestamp(time.time(), UTC)

    def home(customer: str) -> int:
        return partition_for(customer.encode(), partitions)

    def wrong(customer: str) -> int:
        return (home(customer) + 1) % partitions

    items: list[Hostile] = []

    def add(name: str, value: bytes, allowed: frozenset[str], *, key: bytes | None = b"",
            partition: int | None = None, event: dict[str, Any] | None = None) -> None:
        customer = f"hostile-{name}"
        items.append(Hostile(name, f"h-{name}", customer.encode() if key == b"" else key,
                             value, home(customer) if partition is None else partition,
                             allowed, event))

    def text(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    utf8 = text(_purchase("invalid-utf8", at[0])).replace(b'"order_id"', b'"order_\xff\xfeid"')
    add("invalid-utf8", utf8, ONLY_DEAD_LETTER)
    whole = text(_purchase("truncated", at[1]))
    add("truncated", whole[: len(whole) // 2], ONLY_DEAD_LETTER)
    nested = text(_purchase("deeply-nested", at[2]))[:-1] + b', "detail": ' + (
        b"[" * 100_000 + b"]" * 100_000 + b"}")
    add("deeply-nested", nested, ONLY_DEAD_LETTER)
    add("oversized", text(_purchase("oversized", at[3], channel="x" * 3_000_000)),
        ONLY_DEAD_LETTER)
    # json.dumps writes NaN as the bare token producers in JavaScript and Python emit.
    add("nan-amount", text(_purchase("nan-amount", at[4], float("nan"))), ONLY_DEAD_LETTER)
    for i in (1, 2):  # two, so that a lifetime sum overflows to infinity
        event = {**_purchase("huge-amount", at[4 + i], 1e308), "event_id": f"h-huge-amount-{i}",
                 "order_id": f"ho-huge-{i}"}
        items.append(Hostile(f"1e308 amount #{i}", event["event_id"], b"hostile-huge-amount",
                             text(event), home("hostile-huge-amount"), EITHER, event))
    add("year-9999", text(_purchase("year-9999", "9999-12-31T23:59:59Z")), ONLY_DEAD_LETTER)
    add("year-ahead", text(_purchase("year-ahead", now + timedelta(days=365))),
        ONLY_DEAD_LETTER)
    add("year-1900", text(_purchase("year-1900", "1900-01-01T00:00:00Z")), ONLY_DEAD_LETTER)
    keyless = _purchase("keyless", at[7])
    add("keyless", text(keyless), EITHER, key=None, partition=wrong("hostile-keyless"),
        event=keyless)
    misplaced = _purchase("misplaced", at[8])
    add("misplaced", text(misplaced), EITHER, partition=wrong("hostile-misplaced"),
        event=misplaced)
    # Keyed by someone else, in that key's partition: the state of another customer's shard.
    mismatch = _purchase("key-mismatch", at[9])
    add("key-mismatch", text(mismatch), EITHER, key=b"hostile-someone-else",
        partition=home("hostile-someone-else"), event=mismatch)

    follow_ups = [{**_purchase(name, at[12] + timedelta(days=2)), "event_id": f"h-{name}-next",
                   "order_id": f"ho-{name}-next"}
                  for name in ("huge-amount", "keyless", "misplaced", "key-mismatch")]
    return items, follow_ups
