"""The predictive profile's math: the expected date of the next order against the BG/NBD
story itself, and the discounted CLV."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from retention.analytics.model import (
    BgNbdParams,
    average_days_between_orders,
    discounted_purchases,
    expected_purchases,
    fit_bgnbd,
    median_days_to_next_purchase,
    probability_alive,
)

TRUE = BgNbdParams(r=0.6, alpha=40.0, a=0.7, b=3.0)


def _no_purchase_probability(params: BgNbdParams, x: int, t_x: float, T: float,
                             t: float) -> float:
    """P(no purchase in (T, T+t] | x, t_x, T) from the model's definition, without its
    closed forms: the likelihood of the data with and without a further silence of t,
    integrated over the Gamma(r, alpha) prior of lambda numerically.

    Data likelihood given (lambda, p): alive all along, (1-p)^x lambda^x e^(-lambda T);
    or dropped right after the x-th purchase, p (1-p)^(x-1) lambda^x e^(-lambda t_x).
    Over the Beta(a, b) prior, (1-p)^x and p (1-p)^(x-1) average to Beta-function ratios.
    A silence of t more multiplies the alive branch by e^(-lambda t).
    """
    gamma = stats.gamma(params.r, scale=1.0 / params.alpha)
    norm = special.beta(params.a, params.b)
    stays = special.beta(params.a, params.b + x) / norm
    drops = special.beta(params.a + 1, params.b + x - 1) / norm if x else 0.0

    def joint(silence: float) -> float:
        def integrand(lam: float) -> float:
            alive = stays * lam ** x * np.exp(-lam * (T + silence))
            dropped = drops * lam ** x * np.exp(-lam * t_x)
            return float((alive + dropped) * gamma.pdf(lam))
        value, _ = integrate.quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)
        return float(value)

    return joint(t) / joint(0.0)


@pytest.mark.parametrize(("x", "t_x", "T"), [(1, 30.0, 60.0), (3, 100.0, 120.0),
                                              (6, 300.0, 320.0), (2, 10.0, 200.0)])
def test_next_order_wait_is_the_median_of_the_models_silence(x: int, t_x: float,
                                                             T: float) -> None:
    """At the returned wait the model's own P(no purchase yet), integrated from its
    definition, is 1/2; where P(alive) <= 1/2 there is no such wait (NaN)."""
    wait = float(median_days_to_next_purchase(TRUE, x, t_x, T))
    alive = float(probability_alive(TRUE, x, t_x, T))
    if alive <= 0.5:
        assert np.isnan(wait)
        # Even a century of silence leaves "no purchase" at least as likely as not.
        assert _no_purchase_probability(TRUE, x, t_x, T, 36_500.0) >= 0.5 - 1e-6
        return
    assert _no_purchase_probability(TRUE, x, t_x, T, wait) == pytest.approx(0.5, abs=1e-6)
    reference = optimize.brentq(
        lambda t: _no_purchase_probability(TRUE, x, t_x, T, t) - 0.5, 1e-6, 50_000.0,
        xtol=1e-9)
    assert wait == pytest.approx(reference, rel=1e-5)


def _simulate(params: BgNbdParams, n: int, horizon: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, ...]:
    """Customers in continuous time, first purchase at 0, watched until age T (uniform up
    to 2 years) and then for `horizon` more days: x, t_x, T at the calibration end, and
    the wait from T to the next purchase (inf when none came within the horizon)."""
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    T = rng.uniform(30, 730, n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    wait = np.full(n, np.inf)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1.0 / lam[i])
            if now > T[i] + horizon:
                break
            if now > T[i]:
                wait[i] = now - T[i]
                break
            x[i] += 1
            t_x[i] = now
            if rng.random() < p[i]:  # dropped out right after this repeat purchase
                break
    return x, t_x, T, wait


def test_half_of_the_customers_order_by_their_expected_date() -> None:
    """On customers drawn from known parameters, the share whose next order came by their
    expected date is 1/2 (the median), with the true and with the fitted parameters."""
    rng = np.random.default_rng(17)
    x, t_x, T, wait = _simulate(TRUE, 30_000, 3_650.0, rng)
    fitted = fit_bgnbd(x, t_x, T).params
    for params in (TRUE, fitted):
        median = median_days_to_next_purchase(params, x, t_x, T)
        dated = ~np.isnan(median)
        assert dated.sum() > 10_000
        share = float(np.mean(wait[dated] <= median[dated]))
        sd = 0.5 / np.sqrt(dated.sum())
        assert abs(share - 0.5) < 4 * sd + (0.01 if params is fitted else 0.0), (params, share)


def test_discounting_lowers_each_period_by_its_end() -> None:
    """Rate 0 gives the horizon's expected purchases; one period is discounted once from
    its end; monthly periods land between; a higher rate lowers the value."""
    x, t_x, T = np.array([0, 2, 5]), np.array([0, 40, 200]), np.array([90, 120, 260])
    horizon = expected_purchases(TRUE, 365, x, t_x, T)
    np.testing.assert_allclose(discounted_purchases(TRUE, 365, 0.0, 30, x, t_x, T), horizon,
                               rtol=1e-12)
    once = discounted_purchases(TRUE, 365, 0.1, 365, x, t_x, T)
    np.testing.assert_allclose(once, horizon / 1.1, rtol=1e-12)
    monthly = discounted_purchases(TRUE, 365, 0.1, 30, x, t_x, T)
    assert np.all(monthly < horizon) and np.all(monthly > once)
    assert np.all(discounted_purchases(TRUE, 365, 0.2, 30, x, t_x, T) < monthly)
    # Two periods by hand: E(180) at day 180 and the rest at day 365.
    half = expected_purchases(TRUE, 180, x, t_x, T)
    np.testing.assert_allclose(
        discounted_purchases(TRUE, 365, 0.1, 180, x, t_x, T),
        half / 1.1 ** (180 / 365) + (expected_purchases(TRUE, 360, x, t_x, T) - half)
        / 1.1 ** (360 / 365) + (horizon - expected_purchases(TRUE, 360, x, t_x, T)) / 1.1,
        rtol=1e-12)


def test_average_days_between_orders_is_recency_over_repeats() -> None:
    """t_x / x; undefined (NaN) with a single purchase day."""
    got = average_days_between_orders([0, 1, 4], [0, 30, 100])
    assert np.isnan(got[0]) and got[1] == 30 and got[2] == 25
