"""lifetime_spend: lifetime revenue crosses a tier of `lifetime_spend_milestones`."""

from __future__ import annotations

from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class LifetimeSpend(EventRule[Purchase]):
    name = "lifetime_spend"
    reads = ("lifetime_spend_milestones",)
    on = ("purchase.order",)

    def on_event(self, state: CustomerState, event: Purchase, ts: float, out: Outs) -> None:
        # state.lifetime_spend_tier: tiers crossed so far. One order may cross several:
        # one milestone each, lowest first.
        tiers = sorted(self.settings.lifetime_spend_milestones)
        while (state.lifetime_spend_tier < len(tiers)
               and state.revenue >= tiers[state.lifetime_spend_tier]):
            tier = tiers[state.lifetime_spend_tier]
            state.lifetime_spend_tier += 1
            self.outputs.milestone(
                state, out, self.name, ts, event.event_id, value=tier,
                detail=f"lifetime spend {state.revenue:.2f} crossed {tier:g}")
