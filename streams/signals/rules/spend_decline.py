"""spend_decline: trailing-window revenue below `spend_decline_ratio` of the window before."""

from __future__ import annotations

from schemas import InputEvent
from streams.signals.base import EVERY_EVENT, EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class SpendDecline(EventRule[InputEvent]):
    name = "spend_decline"
    reads = ("spend_decline_min_orders", "spend_decline_ratio", "spend_decline_window_days")
    # Every event, not only purchases: the window moves on with event time.
    on = EVERY_EVENT

    def on_event(self, state: CustomerState, event: InputEvent, ts: float, out: Outs) -> None:
        if state.orders < self.settings.spend_decline_min_orders:
            return
        # The same windows as the alert's snapshot (revenue_90d, revenue_prev_90d).
        recent, previous = self.outputs.revenue_windows(state, ts)
        ratio = self.settings.spend_decline_ratio
        if previous > 0 and recent < ratio * previous:
            window = self.settings.spend_decline_window_days
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"revenue in the last {window} days {recent:.2f} is below "
                              f"{ratio:.0%} of the {window} days before ({previous:.2f})")
