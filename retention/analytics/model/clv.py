"""Predicted customer lifetime value: BG/NBD purchases x Gamma-Gamma order value."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retention.analytics.model.bgnbd import BgNbdParams, expected_purchases
from retention.analytics.model.gamma_gamma import GammaGammaParams, conditional_expected_order_value

FloatArray = npt.NDArray[np.float64]


def predicted_clv(
    bg: BgNbdParams,
    gg: GammaGammaParams,
    horizon_days: float,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    m_x: npt.ArrayLike,
) -> FloatArray:
    """Expected revenue over the next ``horizon_days``: E[purchase days] x E[order value].

    Undiscounted (no time value of money, no margin): a revenue forecast, not a profit NPV.
    An "order value" is revenue per purchase day, matching m_x. Customers with x == 0 get
    the population mean order value v p/(q-1); their m_x is ignored.
    """
    purchases = expected_purchases(bg, horizon_days, x, t_x, T)
    value = conditional_expected_order_value(gg, x, m_x)
    return np.asarray(purchases * value, dtype=np.float64)
