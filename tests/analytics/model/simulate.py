"""Simulators for the model tests: draw customers from the BG/NBD and Gamma-Gamma stories."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retention.analytics.model import BgNbdParams, GammaGammaParams

IntArray = npt.NDArray[np.int64]


def simulate_bgnbd_days(
    params: BgNbdParams, T: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Per-customer purchase days (customer index, day offset from first purchase).

    Each customer makes a first purchase at a uniform moment of day 0 and is watched until
    the end of day T. lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); repeat purchases are a
    Poisson(lambda) process and after each repeat purchase the customer drops out with
    probability p. Several purchases on one day collapse to one purchase day, as in kpis.md.
    """
    n = T.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    u0 = rng.random(n)
    window = T + 1.0 - u0
    # Purchases the Poisson process would make in the window, and the repeat purchase after
    # which the customer drops out (geometric, support 1, 2, ...): min of the two is observed.
    n_poisson = rng.poisson(lam * window)
    dropout_after = rng.geometric(p)
    n_obs = np.minimum(n_poisson, dropout_after)

    # Poisson arrival times given their count are sorted uniforms; the first n_obs are kept.
    owner = np.repeat(np.arange(n), n_poisson)
    times = rng.random(owner.size) * window[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    group_start = np.r_[0, np.cumsum(n_poisson)[:-1]]
    rank = np.arange(owner.size) - group_start[owner]
    keep = rank < n_obs[owner]
    owner, times = owner[keep], times[keep]
    day = np.floor(u0[owner] + times).astype(np.int64)

    customers = np.r_[np.arange(n), owner]
    days = np.r_[np.zeros(n, dtype=np.int64), day]
    return customers.astype(np.int64), days


def rft_from_days(customers: IntArray, days: IntArray, n: int, T: IntArray) -> tuple[IntArray, ...]:
    """(x, t_x, T) from purchase days; direct numpy version of rfm_from_purchases."""
    pairs = np.unique(customers * (int(days.max()) + 1) + days)
    cust = pairs // (int(days.max()) + 1)
    day = pairs % (int(days.max()) + 1)
    x = np.bincount(cust, minlength=n) - 1
    t_x = np.zeros(n, dtype=np.int64)
    np.maximum.at(t_x, cust, day)
    return x.astype(np.int64), t_x, T.astype(np.int64)


def simulate_gamma_gamma(
    params: GammaGammaParams, x: IntArray, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """m_x for customers with x repeat purchase days: mean of x Gamma(p, rate nu) values."""
    nu = rng.gamma(params.q, 1.0 / params.v, x.size)
    # A sum of x Gamma(p, nu) draws is Gamma(p x, nu).
    return rng.gamma(params.p * x, 1.0 / nu) / x
