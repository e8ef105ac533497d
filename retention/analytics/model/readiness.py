"""Whether the data can support BG/NBD + Gamma-Gamma predictions at all.

With a few dozen buyers or a few weeks of history the likelihood is flat in a and b (the
dropout process is not identified) and the fit returns confident-looking nonsense. Callers
check readiness first and publish the reasons instead of numbers when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Readiness:
    """``ok`` is True only when ``reasons`` is empty; each reason is a sentence for users."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    # What the data had, for the stored record of the rule a model passed.
    buyers: int = 0
    history_days: int = 0
    customers_3plus: int = 0


def check_readiness(
    x: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    min_buyers: int = 300,
    min_history_days: int = 90,
    min_customers_3plus: int = 20,
) -> Readiness:
    """Check the calibration data against the publishing thresholds (from ModelSettings).

    - buyers: customers with at least one purchase day (every row passed here);
    - history: the oldest customer's age max(T) in days, i.e. how far back purchases go;
    - customers with 3+ orders: counted as 3+ purchase days (x >= 2), the unit the model
      sees; several orders on one day are one purchase day.
    ``weights`` are row counts when the input is compressed.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    Ta = np.asarray(T, dtype=np.float64).ravel()
    w = np.ones_like(xa) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (xa.shape == Ta.shape == w.shape):
        raise ValueError(f"x, T, weights differ in length: {xa.size}, {Ta.size}, {w.size}")

    reasons: list[str] = []
    buyers = round(w.sum())
    if buyers < min_buyers:
        reasons.append(f"only {buyers} buyers; the model needs at least {min_buyers}")
    history = float(Ta.max()) if Ta.size else 0.0
    if history < min_history_days:
        reasons.append(
            f"only {history:g} days of purchase history; the model needs at least "
            f"{min_history_days}"
        )
    three_plus = round(w[xa >= 2].sum())
    if three_plus < min_customers_3plus:
        reasons.append(
            f"only {three_plus} customers with 3+ purchase days; the model needs at least "
            f"{min_customers_3plus}"
        )
    return Readiness(ok=not reasons, reasons=reasons, buyers=buyers,
                     history_days=round(history), customers_3plus=three_plus)
