"""Faust tables. Written once per changed key per batch, never once per event."""

from __future__ import annotations

import weakref
from typing import Any

import faust
from faust.streams import _current_event

from streams.app import app, settings

# customer_id -> CustomerState.to_dict(); co-partitioned with the input topics.
customer_state = app.Table(
    "customer-state",
    default=None,
    partitions=settings.kafka.partitions,
    schema=faust.Schema(key_serializer="raw", value_serializer="json"),
)


def write_state(customer_id: str, value: dict[str, Any], event: Any) -> None:
    """Store one customer's state as if written while processing `event`.

    Faust picks the changelog partition (and RocksDB shard) from the current event; writes
    are deferred to the end of a batch, so the event of that customer's partition is set
    explicitly here.
    """
    _current_event.set(weakref.ref(event))
    customer_state[customer_id.encode()] = value


def read_state(customer_id: str) -> dict[str, Any] | None:
    return customer_state.get(customer_id.encode())
