"""first_purchase: a customer's first order (thank-you note, onboarding flow)."""

from __future__ import annotations

from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class FirstPurchase(EventRule[Purchase]):
    name = "first_purchase"
    on = ("purchase.order",)

    def on_event(self, state: CustomerState, event: Purchase, ts: float, out: Outs) -> None:
        if state.orders == 1:
            self.outputs.milestone(
                state, out, self.name, ts, event.event_id, value=1,
                detail=f"first order {event.order_id} ({event.amount:.2f} {event.currency})")
