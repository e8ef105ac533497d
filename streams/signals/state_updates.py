"""State every rule may rely on: folded in before any rule sees the event.

Rules read these (orders and revenue, open tickets, latest survey scores) rather than
recompute them, so they are the engine's, not any one rule's. At most one update per event
kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from retention.settings import SignalSettings
from schemas import Purchase, SupportEvent, SurveyResponse
from streams.signals.base import EventKind
from streams.state import DAY, CustomerState

StateUpdate = Callable[[CustomerState, Any, float], None]


class StateUpdates:
    reads: ClassVar[tuple[str, ...]] = ("repeated_contacts_window_days",)

    def __init__(self, settings: SignalSettings) -> None:
        # How long an opened ticket is remembered: repeated_contacts counts within it.
        self.contacts_window_s = settings.repeated_contacts_window_days * DAY

    def by_kind(self) -> dict[EventKind, StateUpdate]:
        return {
            "purchase.order": self.order,
            "purchase.refund": self.refund,
            "support.opened": self.ticket_opened,
            "support.reopened": self.ticket_reopened,
            "support.escalated": self.ticket_reopened,
            "support.resolved": self.ticket_closed,
            "support.closed": self.ticket_closed,
            "survey.nps": self.nps,
            "survey.csat": self.csat,
        }

    def order(self, state: CustomerState, e: Purchase, ts: float) -> None:
        state.record_order(ts, e.amount)

    def refund(self, state: CustomerState, e: Purchase, ts: float) -> None:
        state.refunds += e.amount  # lowers net revenue only: a refund is not an order

    def ticket_opened(self, state: CustomerState, e: SupportEvent, ts: float) -> None:
        state.record_ticket_opened(e.ticket_id, ts, self.contacts_window_s)

    def ticket_reopened(self, state: CustomerState, e: SupportEvent, ts: float) -> None:
        state.reopen_ticket(e.ticket_id, ts)

    def ticket_closed(self, state: CustomerState, e: SupportEvent, ts: float) -> None:
        state.close_ticket(e.ticket_id)

    def nps(self, state: CustomerState, e: SurveyResponse, ts: float) -> None:
        if state.latest_nps_at is None or ts >= state.latest_nps_at:
            state.latest_nps, state.latest_nps_at = e.score, ts

    def csat(self, state: CustomerState, e: SurveyResponse, ts: float) -> None:
        if state.latest_csat_at is None or ts >= state.latest_csat_at:
            state.latest_csat, state.latest_csat_at = e.score, ts
