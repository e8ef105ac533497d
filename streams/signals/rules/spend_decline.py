"""spend_decline: trailing-window revenue below `spend_decline_ratio` of the window before."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import InputEvent
from streams.signals.base import EVERY_EVENT, EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class SpendDecline(EventRule[InputEvent]):
    name = "spend_decline"
    reads = ("spend_decline_min_orders", "spend_decline_ratio", "spend_decline_window_days")
    # Every event, not only purchases: the window moves on with event time.
    on = EVERY_EVENT

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.min_orders = settings.spend_decline_min_orders
        self.ratio = settings.spend_decline_ratio
        self.window_days = settings.spend_decline_window_days

    def on_event(self, state: CustomerState, event: InputEvent, ts: float,
                 out: list[Output]) -> None:
        if state.orders < self.min_orders:
            return
        # The same windows as the alert's snapshot (revenue_90d, revenue_prev_90d).
        recent, previous = self.outputs.revenue_windows(state, ts)
        if previous > 0 and recent < self.ratio * previous:
            window = self.window_days
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"revenue in the last {window} days {recent:.2f} is below "
                              f"{self.ratio:.0%} of the {window} days before ({previous:.2f})")
