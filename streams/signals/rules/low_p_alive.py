"""low_p_alive: the BG/NBD probability alive decays below `p_alive_threshold`.

Silent without a fitted model (the pipeline sets one on the engine at run time).
"""

from __future__ import annotations

import math

from streams.signals.base import AbsenceRule
from streams.signals.outputs import Output
from streams.state import DAY, CustomerState


class LowPAlive(AbsenceRule):
    name = "low_p_alive"
    reads = ("p_alive_threshold",)

    def due(self, state: CustomerState) -> float | None:
        # The model the snapshots' p_alive comes from: read at each use, it is swapped live.
        model = self.outputs.model
        if model is None or self.name in state.episodes or state.last_purchase_day is None:
            return None
        inputs = state.bgnbd_inputs(state.last_purchase_at or 0)
        if inputs is None or inputs[0] < 1:
            return None  # BG/NBD: a customer with no repeat purchase is alive by definition
        x, t_x, _ = inputs
        day = model.day_p_alive_drops_below(x, t_x, self.settings.p_alive_threshold)
        if day is None or state.first_purchase_day is None:
            return None
        # Already below the threshold on the purchase day itself: decide at the purchase,
        # never at a time before the evidence that armed it.
        return max((state.first_purchase_day + math.ceil(day)) * DAY,
                   state.last_purchase_at or 0.0)

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        self.outputs.refresh_p_alive(state, due)
        self.outputs.risk(state, out, self.name, due, None,
                          f"BG/NBD probability alive {state.p_alive:.2f} fell below "
                          f"{self.settings.p_alive_threshold:g}")
