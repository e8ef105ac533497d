"""order_count: order number 5, 10, 25, ... (`order_count_milestones`), for loyalty rewards."""

from __future__ import annotations

from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class OrderCount(EventRule[Purchase]):
    name = "order_count"
    reads = ("order_count_milestones",)
    on = ("purchase.order",)

    def on_event(self, state: CustomerState, event: Purchase, ts: float, out: Outs) -> None:
        if state.orders in self.settings.order_count_milestones:
            self.outputs.milestone(state, out, self.name, ts, event.event_id,
                                   value=state.orders, detail=f"order number {state.orders}")
