"""inactive_overdue: no purchase for `overdue_factor` x the customer's own mean gap (floored)."""

from __future__ import annotations

from retention.settings import SignalSettings
from streams.signals.base import AbsenceRule
from streams.signals.outputs import Output, Outputs
from streams.state import DAY, CustomerState


class InactiveOverdue(AbsenceRule):
    name = "inactive_overdue"
    reads = ("overdue_factor", "overdue_floor_days", "overdue_min_orders")

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.factor = settings.overdue_factor
        self.floor_days = settings.overdue_floor_days
        self.floor_s = settings.overdue_floor_days * DAY
        self.min_orders = settings.overdue_min_orders

    def due(self, state: CustomerState) -> float | None:
        if state.orders < 2 or self.name in state.episodes:
            return None  # the common case, cheaply: no mean gap yet, nothing is overdue
        gap = state.mean_interpurchase_s
        if state.orders < self.min_orders or gap is None or not state.last_purchase_at:
            return None
        return state.last_purchase_at + max(self.factor * gap, self.floor_s)

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        gap_days = (state.mean_interpurchase_s or 0) / DAY
        silent_days = (due - (state.last_purchase_at or due)) / DAY
        self.outputs.risk(state, out, self.name, due, None,
                          f"no purchase for {silent_days:.1f} days; this customer usually buys "
                          f"every {gap_days:.1f} days (factor {self.factor:g}, floor "
                          f"{self.floor_days:g} days)")
