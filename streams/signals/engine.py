"""The signal engine: one event (or the passing of event time) in, alerts and milestones out.

Pure and deterministic: decisions depend only on state, the event and event time, never on
the wall clock (only delivery does: `raised_at`, and `historical`, decided more than the
live horizon before it was raised). The stream processor decides *when* to call it.
The rules themselves are `registry.RULES`; the engine only routes to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from retention.settings import SignalSettings
from schemas import CustomerSnapshot, InputEvent, Purchase, SupportEvent, SurveyResponse
from streams.signals.base import EVERY_EVENT, AbsenceRule, EventRule
from streams.signals.model import PAliveModel
from streams.signals.outputs import Output, Outputs
from streams.signals.registry import RULES
from streams.signals.state_updates import StateUpdate, StateUpdates
from streams.state import CustomerState

# Per event family, its class and the field whose value completes its EventKind.
_FAMILIES: dict[str, tuple[type[InputEvent], str]] = {
    "purchase": (Purchase, "kind"),
    "support": (SupportEvent, "action"),
    "survey": (SurveyResponse, "survey"),
}

_OnEvent = Callable[[CustomerState, Any, float, list[Output]], None]
# What one kind of event runs: its state update (if any), then its rules in registry order.
_Steps = tuple[StateUpdate | None, tuple[_OnEvent, ...]]
_Due = Callable[[CustomerState], float | None]
_Fire = Callable[[CustomerState, float, list[Output]], None]


class SignalEngine:
    def __init__(
        self,
        settings: SignalSettings,
        model: PAliveModel | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outputs = Outputs(settings, model, wall_clock)
        rules = [rule(settings, self._outputs) for rule in RULES]
        updates = StateUpdates(settings).by_kind()
        # type(event) -> (the field saying what happened, its value -> steps): apply runs
        # only the rules listening to the event's kind, as bound methods.
        self._dispatch: dict[type[InputEvent], tuple[str, dict[str, _Steps]]] = {
            cls: (field, {}) for cls, field in _FAMILIES.values()
        }
        for kind in EVERY_EVENT:
            family, value = kind.split(".")
            cls, _ = _FAMILIES[family]
            self._dispatch[cls][1][value] = (updates.get(kind), tuple(
                rule.on_event for rule in rules
                if isinstance(rule, EventRule) and kind in rule.on))
        absence = [rule for rule in rules if isinstance(rule, AbsenceRule)]
        self._due: tuple[_Due, ...] = tuple(rule.due for rule in absence)
        self._due_and_fire: tuple[tuple[_Due, _Fire], ...] = tuple(
            (rule.due, rule.fire) for rule in absence)

    # The pipeline swaps in a newly fitted model, tests freeze the clock: both live in
    # the outputs builder, which reads them on each use.
    @property
    def model(self) -> PAliveModel | None:
        return self._outputs.model

    @model.setter
    def model(self, model: PAliveModel | None) -> None:
        self._outputs.model = model

    @property
    def wall_clock(self) -> Callable[[], datetime]:
        return self._outputs.wall_clock

    @wall_clock.setter
    def wall_clock(self, wall_clock: Callable[[], datetime]) -> None:
        self._outputs.wall_clock = wall_clock

    # --- entry points -------------------------------------------------------------
    def apply(self, state: CustomerState, event: InputEvent,
              ts: float | None = None) -> list[Output]:
        """Fold one event (already deduplicated, in event-time order) into state.

        `ts`: event.occurred_at as epoch seconds, if the caller has it already.
        """
        if ts is None:
            ts = event.occurred_at.timestamp()
        self._outputs.forget_windows()
        out: list[Output] = []
        field, by_value = self._dispatch[type(event)]
        update, rules = by_value[getattr(event, field)]
        if update is not None:
            update(state, event, ts)
        for on_event in rules:
            on_event(state, event, ts, out)
        state.updated_at = max(state.updated_at, ts)
        state.version += 1
        return out

    def next_due(self, state: CustomerState) -> float | None:
        """Event time of this customer's next absence signal, if one is pending."""
        due: float | None = None
        for due_of in self._due:
            d = due_of(state)
            if d is not None and (due is None or d < due):
                due = d
        return due

    def fire_due(self, state: CustomerState, until: float) -> list[Output]:
        """Raise every absence signal due at or before `until`, earliest first; equal due
        times in registry order."""
        out: list[Output] = []
        self._outputs.forget_windows()
        while True:
            first: tuple[float, _Fire] | None = None
            for due_of, fire in self._due_and_fire:
                d = due_of(state)
                # strict <: the first of equal due times wins
                if d is not None and d <= until and (first is None or d < first[0]):
                    first = (d, fire)
            if first is None:
                break
            due, fire = first
            fire(state, due, out)
            state.updated_at = max(state.updated_at, due)
            state.version += 1
        return out

    def snapshot(self, state: CustomerState, ts: float) -> CustomerSnapshot:
        self._outputs.forget_windows()  # the state may have changed since the last call
        return CustomerSnapshot(**self._outputs.snapshot_fields(state, ts))


def risk_score(state: CustomerState) -> int:
    """The 0-100 score of the customer's open risk episodes (alerts carry it too)."""
    return min(100, sum(e.weight for e in state.episodes.values()))


__all__ = ["Output", "PAliveModel", "SignalEngine", "risk_score"]
