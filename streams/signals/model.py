"""What the signal engine needs from a fitted BG/NBD model (retention.model provides it)."""

from __future__ import annotations

from typing import Protocol


class PAliveModel(Protocol):
    def p_alive(self, x: int, t_x: float, T: float) -> float: ...

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None: ...
