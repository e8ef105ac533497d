"""lifetime_spend: lifetime revenue crosses a tier of `lifetime_spend_milestones`."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class LifetimeSpend(EventRule[Purchase]):
    name = "lifetime_spend"
    reads = ("lifetime_spend_milestones",)
    on = ("purchase.order",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.tiers = sorted(settings.lifetime_spend_milestones)

    def on_event(self, state: CustomerState, event: Purchase, ts: float,
                 out: list[Output]) -> None:
        # state.lifetime_spend_tier: tiers crossed so far. One order may cross several:
        # one milestone each, lowest first.
        tiers = self.tiers
        while (state.lifetime_spend_tier < len(tiers)
               and state.revenue >= tiers[state.lifetime_spend_tier]):
            tier = tiers[state.lifetime_spend_tier]
            state.lifetime_spend_tier += 1
            self.outputs.milestone(
                state, out, self.name, ts, event.event_id, value=tier,
                detail=f"lifetime spend {state.revenue:.2f} crossed {tier:g}")
