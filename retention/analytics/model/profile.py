"""The predictive profile of each customer, the fields Klaviyo shows on a profile.

Built from a fitted BG/NBD + Gamma-Gamma model and the calibration inputs (time unit days):

- historic CLV: revenue of the customer's orders up to the calibration day;
- predicted CLV: expected revenue over the horizon, each discount period's expected
  purchases valued at the Gamma-Gamma order value and discounted at an annual rate;
- total CLV: historic + predicted;
- churn probability: 1 - P(alive);
- days to the next order: the median wait (see ``median_days_to_next_purchase``);
- average days between orders: t_x / x, the mean gap between purchase days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from retention.analytics.model.bgnbd import BgNbdParams, expected_purchases, probability_alive
from retention.analytics.model.gamma_gamma import GammaGammaParams, conditional_expected_order_value
from retention.analytics.model.readiness import Readiness

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ProfileRule:
    """How a version's profiles were computed, and the readiness rule its data passed."""

    annual_discount_rate: float
    discount_period_days: int
    readiness: Readiness
    min_buyers: int
    min_history_days: int
    min_customers_3plus: int


@dataclass(frozen=True)
class Profiles:
    """Per-customer columns, aligned with the model's customer ids; NaN where undefined
    (average gap with one purchase day; next order with one purchase day, P(alive) <= 1/2,
    or a median wait beyond the horizon)."""

    customer_ids: npt.NDArray[Any]
    as_of: dt.date
    horizon_days: int
    orders: npt.NDArray[np.int64]
    historic_clv: FloatArray
    predicted_clv: FloatArray
    churn_probability: FloatArray
    expected_purchases: FloatArray
    average_days_between_orders: FloatArray
    days_to_next_order: FloatArray

    @property
    def total_clv(self) -> FloatArray:
        return self.historic_clv + self.predicted_clv

    def expected_next_order_dates(self) -> list[dt.date | None]:
        """as_of + the median wait rounded up to whole days: the first day it may fall on
        is the day after the calibration day."""
        return [None if np.isnan(d) else self.as_of + dt.timedelta(days=int(np.ceil(d)))
                for d in self.days_to_next_order.tolist()]


def median_days_to_next_purchase(
    params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """Days after T by which the next purchase is more likely than not; NaN if never.

    BG/NBD: a customer alive at T stays alive until their next purchase, which comes after
    an Exp(lambda) wait, lambda | alive ~ Gamma(r + x, alpha + T). So
    P(no purchase in (T, T+t]) = (1 - P_alive) + P_alive ((alpha+T)/(alpha+T+t))^(r+x),
    which falls to 1/2 at t = (alpha+T) ((P_alive / (P_alive - 1/2))^(1/(r+x)) - 1) when
    P_alive > 1/2, and never otherwise. The mean wait is infinite whenever the customer may
    have dropped out, so the median is the "expected date" that exists.
    """
    xa, ta, Ta = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    alive = probability_alive(params, xa, ta, Ta)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = alive / (alive - 0.5)
        days = (params.alpha + Ta) * np.expm1(np.log(ratio) / (params.r + xa))
    return np.asarray(np.where(alive > 0.5, days, np.nan), dtype=np.float64)


def discounted_purchases(
    bg: BgNbdParams,
    horizon_days: int,
    annual_discount_rate: float,
    period_days: int,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """Sum over periods k of E[purchases in period k | x, t_x, T] / (1+d)^(end_k / 365).

    Periods are ``period_days`` long (the last one cut at the horizon); each is discounted
    from its end, as `lifetimes`' customer_lifetime_value does monthly. With d = 0 the sum
    telescopes to E[purchases over the horizon].
    """
    xa, ta, Ta = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    ends = np.unique(np.minimum(np.arange(1, -(-horizon_days // period_days) + 1) * period_days,
                                horizon_days)).astype(np.float64)
    total = np.zeros(xa.shape)
    before = np.zeros(xa.shape)
    for end in ends:
        upto = expected_purchases(bg, end, xa, ta, Ta)
        total += (upto - before) / (1.0 + annual_discount_rate) ** (end / 365.0)
        before = upto
    return total


def average_days_between_orders(x: npt.ArrayLike, t_x: npt.ArrayLike) -> FloatArray:
    """t_x / x: the mean gap between purchase days; NaN with fewer than two."""
    xa, ta = np.asarray(x, dtype=np.float64), np.asarray(t_x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(xa > 0, ta / xa, np.nan), dtype=np.float64)


def _per_triple(x: npt.NDArray[np.int64], t_x: npt.NDArray[np.int64],
                T: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Distinct (x, t_x, T) and each customer's index into them: the BG/NBD quantities
    depend on nothing else, and a million customers share a few hundred thousand triples."""
    # Each of x, t_x, T is a day count below 2^21 (5,700 years): one int64 key per triple.
    key = (x.astype(np.int64) << 42) | (t_x.astype(np.int64) << 21) | T.astype(np.int64)
    unique, inverse = np.unique(key, return_inverse=True)
    mask = (1 << 21) - 1
    return unique >> 42, (unique >> 21) & mask, unique & mask, inverse


def build_profiles(
    bg: BgNbdParams,
    gg: GammaGammaParams,
    rule: ProfileRule,
    as_of: dt.date,
    horizon_days: int,
    columns: dict[str, npt.NDArray[Any]],
) -> Profiles:
    """Profiles of every customer in ``columns`` (customer_id, x, t_x, T, m_x, orders,
    revenue: the calibration inputs of sql/model/customer_rfm.sql)."""
    x, t_x, T = columns["x"], columns["t_x"], columns["T"]
    ux, ut, uT, index = _per_triple(x, t_x, T)
    alive = probability_alive(bg, ux, ut, uT)[index]
    purchases = discounted_purchases(bg, horizon_days, rule.annual_discount_rate,
                                     rule.discount_period_days, ux, ut, uT)[index]
    undiscounted = expected_purchases(bg, horizon_days, ux, ut, uT)[index]
    value = conditional_expected_order_value(gg, x, columns["m_x"])
    # Published for customers with a rhythm to go by (2+ purchase days; with one the date
    # would be the population's alone) whose median wait ends within the horizon the rest
    # of the profile looks at (a wait of centuries is no date to plan a call on).
    wait = median_days_to_next_purchase(bg, ux, ut, uT)[index]
    wait = np.where((x >= 1) & (wait <= horizon_days), wait, np.nan)
    return Profiles(
        customer_ids=columns["customer_id"],
        as_of=as_of,
        horizon_days=horizon_days,
        orders=np.asarray(columns["orders"], dtype=np.int64),
        historic_clv=np.asarray(columns["revenue"], dtype=np.float64),
        predicted_clv=np.asarray(purchases * value, dtype=np.float64),
        churn_probability=np.asarray(1.0 - alive, dtype=np.float64),
        expected_purchases=np.asarray(undiscounted, dtype=np.float64),
        average_days_between_orders=average_days_between_orders(x, t_x),
        days_to_next_order=np.asarray(wait, dtype=np.float64),
    )
