"""A fitted model version and its per-customer predictions, as `sinks.model_store` keeps them.

The stream engine's `low_p_alive` rule calls `FittedModel.p_alive` and
`FittedModel.day_p_alive_drops_below`; `retention.analytics.model_fit` builds both objects.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from retention.analytics.model.bgnbd import BgNbdParams, probability_alive
from retention.analytics.model.gamma_gamma import GammaGammaParams


@dataclass(frozen=True)
class FittedModel:
    """One stored model version; time unit days throughout (as retention.analytics.model)."""

    version: int
    fitted_at: dt.datetime
    as_of: dt.date
    horizon_days: int
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    customers: int
    repeat_customers: int
    bgnbd_log_likelihood: float = math.nan
    gg_log_likelihood: float = math.nan

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        """P(still a customer at age T) given x repeat purchase days, the last at age t_x."""
        return float(probability_alive(self.bgnbd, x, t_x, T))

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None:
        """The age T (days since the first purchase) after which p_alive < threshold.

        Closed form of P(alive) = 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)):
        T* = (alpha + t_x) K^(1/(r+x)) - alpha, K = (1/threshold - 1)(b+x-1)/a. None for
        x == 0 (BG/NBD: alive until a repeat purchase). When T* < t_x the probability is
        already below the threshold right after the last purchase: t_x is returned, since
        the age cannot be less than the recency.
        """
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if x < 1:
            return None
        p = self.bgnbd
        k = (1.0 / threshold - 1.0) * (p.b + x - 1.0) / p.a
        # float ** float is typed Any (a negative base gives a complex); k > 0 here.
        day: float = (p.alpha + t_x) * k ** (1.0 / (p.r + x)) - p.alpha
        return max(day, float(t_x))


@dataclass(frozen=True)
class Predictions:
    """Per-customer columns, aligned; m_x is NaN where x == 0 (stored as NULL)."""

    customer_ids: npt.NDArray[Any]
    x: npt.NDArray[np.int64]
    t_x: npt.NDArray[np.int64]
    T: npt.NDArray[np.int64]
    m_x: npt.NDArray[np.float64]
    p_alive: npt.NDArray[np.float64]
    expected_purchases: npt.NDArray[np.float64]
    predicted_clv: npt.NDArray[np.float64]
