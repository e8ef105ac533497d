"""What each customer's state went through since its last flush, to rebuild it as it was
before a step (an event, or an absence firing) whose processing raised.

Why not a copy before every event: copying a state costs several times what applying an
event does (measured: see the commit that added this), and a failure is rare. The journal is
one list of what was applied since the last flush (every changed state is flushed at once):
the messages of applied events (not the parsed events, which are larger and die sooner) and
the absence firings, so the hot path pays one list append. To rebuild a customer, its state
is read as of the last flush (that flush's JSON while it is being written, the table once it
is written, nothing for a new customer) and its steps in the journal are applied again: the
parser and the engine are deterministic, so this is the state before the failed step.

NOTE: a rebuild must land on the version the state had before the failed step (versions
count applied events and fired signals); if it does not (the table lost a state, or a newly
fitted model changed what fires), it raises StateRebuildFailed, an infrastructure error
that stops the worker rather than keep a state that is not the customer's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from schemas import EventFamily, parse_event
from streams.processor.messages import InMessage, StateFlush
from streams.signals.engine import SignalEngine
from streams.state import CustomerState

# The message of an applied event (keyed by its customer_id: the parser checked), or
# (customer_id, partition, the event time its absence signals were fired up to).
Step = InMessage | tuple[str, int, float]


class StateRebuildFailed(RuntimeError):
    """A state could not be rebuilt after a failed step: the worker must stop."""


class StateJournal:
    def __init__(self, load_state: Callable[[str, int | None], dict[str, Any] | None],
                 engine: SignalEngine, families: dict[str, EventFamily],
                 recent_event_ids: int) -> None:
        self.load_state = load_state
        self.engine = engine
        self.families = families
        self.recent_event_ids = recent_event_ids
        # Steps applied since the last flush, in order (the processor appends to it).
        self.steps: list[Step] = []
        # customer_id -> (JSON, partition) of its latest flush, until the table has it
        self.flushing: dict[str, tuple[str, int]] = {}

    def flushed(self, flush: StateFlush) -> None:
        """Every changed state went into `flush`: their journals start again from it."""
        self.steps.clear()  # in place: the processor holds its append
        for customer_id, (state, _) in flush.states.items():
            self.flushing[customer_id] = (flush.state_json[customer_id], state.partition)

    def written(self, flush: StateFlush) -> None:
        """`flush` is in the table: read it from there (unless a later flush is pending)."""
        for customer_id, data in flush.state_json.items():
            entry = self.flushing.get(customer_id)
            if entry is not None and entry[0] is data:
                del self.flushing[customer_id]

    def forget(self, partitions: set[int]) -> None:
        """Partitions this worker lets go: their steps and pending flushes."""
        self.steps[:] = [s for s in self.steps
                         if (s.partition if isinstance(s, InMessage) else s[1]) not in partitions]
        self.flushing = {c: e for c, e in self.flushing.items() if e[1] not in partitions}

    def rebuild(self, broken: CustomerState, version: int) -> CustomerState:
        """The state `broken` was at `version`, before the step that raised."""
        customer_id, partition = broken.customer_id, broken.partition
        entry = self.flushing.get(customer_id)
        stored = json.loads(entry[0]) if entry else self.load_state(customer_id, partition)
        state = (CustomerState.from_dict(stored) if stored
                 else CustomerState(customer_id=customer_id, partition=partition))
        engine = self.engine
        key = customer_id.encode()
        for step in self.steps:
            if isinstance(step, InMessage):
                if step.key == key:
                    assert step.value is not None  # an applied event's message
                    event = parse_event(step.value, self.families[step.topic])
                    state.partition = step.partition
                    state.seen(event.event_id, self.recent_event_ids)
                    engine.apply(state, event, event.occurred_at.timestamp())
            elif step[0] == customer_id:
                engine.fire_due(state, step[2])
        if state.version != version:
            raise StateRebuildFailed(
                f"state of customer {customer_id!r} rebuilt at version {state.version}, "
                f"not {version}: its stored copy or the engine changed since")
        return state
