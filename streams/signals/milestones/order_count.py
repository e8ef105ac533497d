"""order_count: order number 5, 10, 25, ... (`order_count_milestones`), for loyalty rewards."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class OrderCount(EventRule[Purchase]):
    name = "order_count"
    reads = ("order_count_milestones",)
    on = ("purchase.order",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.counts = frozenset(settings.order_count_milestones)

    def on_event(self, state: CustomerState, event: Purchase, ts: float,
                 out: list[Output]) -> None:
        if state.orders in self.counts:
            self.outputs.milestone(state, out, self.name, ts, event.event_id,
                                   value=state.orders, detail=f"order number {state.orders}")
