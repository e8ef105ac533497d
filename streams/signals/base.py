"""What a rule is: one churn-risk rule or milestone kind, as one small object.

A rule names itself (its rule id or milestone kind), declares the `SignalSettings` fields it
reads, and either reacts to events (`EventRule`), or fires when event time passes a due
time it computes from state (`AbsenceRule`), or both. `registry.RULES` lists them in the
order that decides output order; the engine builds each once and calls only the rules
listening to each event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, Literal, TypeVar, get_args

from retention.settings import SignalSettings
from schemas import InputEvent
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState

# What happened, as rules listen for it: "<event family>.<the value of the field that says
# what happened>" (Purchase.kind, SupportEvent.action, SurveyResponse.survey).
EventKind = Literal[
    "purchase.order", "purchase.refund",
    "support.opened", "support.replied", "support.resolved", "support.reopened",
    "support.escalated", "support.closed",
    "survey.nps", "survey.csat",
]
EVERY_EVENT: tuple[EventKind, ...] = get_args(EventKind)

E = TypeVar("E", bound=InputEvent)


class Rule(ABC):
    """Built once per engine; decisions depend on state and event time only."""

    name: ClassVar[str]  # its RuleId (a churn-risk rule) or MilestoneKind
    # Every SignalSettings field the rule reads (as `self.settings.<field>`); a test checks
    # the module against it, so a rule's configuration is visible without reading its code.
    reads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        self.settings = settings
        # outputs.risk(...) / outputs.milestone(...) build what the rule decides
        self.outputs = outputs


class EventRule(Rule, Generic[E]):
    """Decides on each event of the kinds in `on`, after the engine's state updates
    (streams.signals.state_updates) for that event."""

    on: ClassVar[tuple[EventKind, ...]]

    @abstractmethod
    def on_event(self, state: CustomerState, event: E, ts: float, out: list[Output]) -> None:
        """`ts`: the event's time in epoch seconds. Append any output to `out`."""


class AbsenceRule(Rule):
    """Fires when event time reaches `due(state)`, even if the customer sends nothing."""

    @abstractmethod
    def due(self, state: CustomerState) -> float | None:
        """The event time it fires next, or None. Runs after every event: keep it cheap."""

    @abstractmethod
    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        """Fire at `due`, what `due(state)` just returned, and update state so it is not
        due again at that time."""
