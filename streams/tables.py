"""Faust tables. Written once per changed key per batch, never once per event."""

from __future__ import annotations

import json
import weakref
from typing import Any

from faust.streams import _current_event

from streams.app import app, settings

# customer_id -> CustomerState.to_dict() as JSON; co-partitioned with the input topics.
customer_state = app.Table(
    "customer-state",
    default=None,
    partitions=settings.kafka.partitions,
    # bytes in and out (Faust picks the "raw" codec from the types, for the store *and* for
    # changelog recovery): the processor serialises each state once per batch.
    key_type=bytes,
    value_type=bytes,
)


class _SourceEvent:
    """All Faust's table reads of "the current event": the source message it came from."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


def write_state(customer_id: str, value: str, message: Any) -> None:
    """Store one customer's state as if written while processing `message`.

    Faust picks the changelog partition (and RocksDB shard) from the current event; writes
    are deferred to a flush, so a message of that customer's partition is named here.
    """
    source = _SourceEvent(message)
    _current_event.set(weakref.ref(source))
    customer_state[customer_id.encode()] = value.encode()


def read_state(customer_id: str) -> dict[str, Any] | None:
    raw = customer_state.get(customer_id.encode())
    return json.loads(raw) if raw else None


def stored_states() -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in customer_state.values() if raw]
