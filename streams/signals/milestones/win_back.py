"""win_back: a purchase while churn-risk episodes are open; the recovery worked, close them."""

from __future__ import annotations

from schemas import Purchase
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class WinBack(EventRule[Purchase]):
    name = "win_back"
    on = ("purchase.order",)

    def on_event(self, state: CustomerState, event: Purchase, ts: float, out: Outs) -> None:
        if state.episodes:
            closed = sorted(state.episodes)
            state.episodes.clear()  # before the milestone: its snapshot shows none open
            self.outputs.milestone(
                state, out, self.name, ts, event.event_id, value=None,
                detail="purchase after open risk episodes: " + ", ".join(closed),
                key=(ts, event.event_id))
