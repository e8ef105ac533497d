"""repeat_customer: the second order; the customer came back."""

from __future__ import annotations

from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class RepeatCustomer(EventRule[Purchase]):
    name = "repeat_customer"
    on = ("purchase.order",)

    def on_event(self, state: CustomerState, event: Purchase, ts: float, out: Outs) -> None:
        if state.orders == 2:
            self.outputs.milestone(state, out, self.name, ts, event.event_id, value=2,
                                   detail=f"second order {event.order_id}: the customer came back")
