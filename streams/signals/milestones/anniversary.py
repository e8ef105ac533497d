"""anniversary: the k-th yearly anniversary of the first purchase."""

from __future__ import annotations

from streams.signals.base import AbsenceRule
from streams.signals.memos import add_years
from streams.signals.outputs import Output
from streams.state import CustomerState


class Anniversary(AbsenceRule):
    name = "anniversary"

    def due(self, state: CustomerState) -> float | None:
        if state.first_purchase_at is None:
            return None
        return add_years(state.first_purchase_at, state.anniversaries_done + 1)

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        state.anniversaries_done += 1
        years = state.anniversaries_done
        self.outputs.milestone(
            state, out, self.name, due, None, value=years,
            detail=f"{years} year{'s' if years > 1 else ''} since the first purchase")
