"""inactive_overdue: no purchase for `overdue_factor` x the customer's own mean gap (floored)."""

from __future__ import annotations

from streams.signals.base import AbsenceRule
from streams.signals.outputs import Output
from streams.state import DAY, CustomerState


class InactiveOverdue(AbsenceRule):
    name = "inactive_overdue"
    reads = ("overdue_factor", "overdue_floor_days", "overdue_min_orders")

    def due(self, state: CustomerState) -> float | None:
        if state.orders < 2 or self.name in state.episodes:
            return None  # the common case, cheaply: no mean gap yet, nothing is overdue
        gap = state.mean_interpurchase_s
        settings = self.settings
        if state.orders < settings.overdue_min_orders or gap is None or not state.last_purchase_at:
            return None
        floor_s = settings.overdue_floor_days * DAY
        return state.last_purchase_at + max(settings.overdue_factor * gap, floor_s)

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        gap_days = (state.mean_interpurchase_s or 0) / DAY
        silent_days = (due - (state.last_purchase_at or due)) / DAY
        self.outputs.risk(state, out, self.name, due, None,
                          f"no purchase for {silent_days:.1f} days; this customer usually buys "
                          f"every {gap_days:.1f} days (factor {self.settings.overdue_factor:g}, "
                          f"floor {self.settings.overdue_floor_days:g} days)")
