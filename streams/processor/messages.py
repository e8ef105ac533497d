"""What goes into the processor (raw messages) and what comes out of a batch (rows, outputs,
state to store, messages to acknowledge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sinks.base import RowBatch
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
    # Keyless or misplaced messages produced again into their customer's partition.
    rerouted: int = 0
    duplicates: int = 0
    late: int = 0
