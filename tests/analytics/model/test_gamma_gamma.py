"""Gamma-Gamma: parameter recovery and the conditional expected order value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from retention.analytics.model import (
    GammaGammaParams,
    conditional_expected_order_value,
    fit_gamma_gamma,
    population_mean_order_value,
)

from .simulate import simulate_gamma_gamma

TRUE = GammaGammaParams(p=6.0, q=4.0, v=15.0)


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(99)
    x = 1 + rng.poisson(2.0, 20_000)
    return x, simulate_gamma_gamma(TRUE, x, rng)


def test_recovers_parameters(sample) -> None:
    """A fit on 20k simulated repeat customers lands near the true (p, q, v)."""
    x, m_x = sample
    fit = fit_gamma_gamma(x, m_x)
    assert fit.converged, fit.message
    got = fit.params
    # 40 seeded replications at this n: sd p 4.9%, q 1.5%, v 6.1%, mean spend 0.5%.
    # p and v trade off against each other; their ratio (the mean) is sharply identified.
    assert got.p == pytest.approx(TRUE.p, rel=0.20)
    assert got.q == pytest.approx(TRUE.q, rel=0.07)
    assert got.v == pytest.approx(TRUE.v, rel=0.25)
    assert population_mean_order_value(got) == pytest.approx(30.0, rel=0.02)


def test_compressed_fit_matches_uncompressed(sample) -> None:
    """Duplicated rows fitted once with weights give the same parameters."""
    x, m_x = sample
    xs, ms = x[:2000], np.round(m_x[:2000])  # rounding creates duplicates
    full = fit_gamma_gamma(xs, ms)
    pairs, counts = np.unique(np.column_stack([xs, ms]), axis=0, return_counts=True)
    assert pairs.shape[0] < xs.size
    packed = fit_gamma_gamma(pairs[:, 0], pairs[:, 1], weights=counts)
    for name in ("p", "q", "v"):
        assert getattr(packed.params, name) == pytest.approx(getattr(full.params, name), rel=1e-6)


def test_conditional_expectation_matches_posterior_integral() -> None:
    """E[order value | x, m_x] equals E[p / nu] under nu's posterior, integrated numerically."""
    params = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    p, q, v = params.p, params.q, params.v
    for x, m_x in [(1, 5.0), (2, 22.35), (7, 40.0), (30, 12.0)]:
        # Posterior of nu: prior nu^(q-1) e^{-v nu} times likelihood nu^(p x) e^{-nu x m_x}.
        def density(nu: float, x: int = x, m_x: float = m_x) -> float:
            return nu ** (q - 1 + p * x) * np.exp(-nu * (v + x * m_x))

        scale = (q + p * x) / (v + x * m_x)  # posterior mean: put the bump in view
        upper = 50 * scale
        mass = integrate.quad(density, 0, upper, points=[scale], epsabs=0, epsrel=1e-11)[0]
        mean = integrate.quad(
            lambda nu, d=density: p / nu * d(nu), 0, upper, points=[scale], epsabs=0, epsrel=1e-11
        )[0]
        got = float(conditional_expected_order_value(params, x, m_x))
        assert got == pytest.approx(mean / mass, rel=1e-6), (x, m_x)


def test_conditional_expectation_edges() -> None:
    """x == 0 gets the population mean (m_x ignored); many repeats pull toward m_x."""
    params = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    pop = population_mean_order_value(params)
    assert pop == pytest.approx(15.44 * 6.25 / 2.74)
    assert float(conditional_expected_order_value(params, 0, np.nan)) == pytest.approx(pop)
    many = float(conditional_expected_order_value(params, 10_000, 80.0))
    assert many == pytest.approx(80.0, rel=1e-3)


def test_refuses_bad_inputs_and_flags_undefined_mean() -> None:
    """Non-repeat customers or non-positive spend are refused; q <= 1 is never 'converged'."""
    with pytest.raises(ValueError):
        fit_gamma_gamma([0, 1], [10.0, 12.0])
    with pytest.raises(ValueError):
        fit_gamma_gamma([1, 2], [0.0, 12.0])
    with pytest.raises(ValueError):
        population_mean_order_value(GammaGammaParams(p=2.0, q=0.8, v=3.0))
    # Spend so heavy-tailed (true q = 0.7) that the population mean does not exist.
    rng = np.random.default_rng(3)
    x = 1 + rng.poisson(2.0, 5000)
    fit = fit_gamma_gamma(x, simulate_gamma_gamma(GammaGammaParams(3.0, 0.7, 10.0), x, rng))
    assert fit.params.q < 1.0
    assert not fit.converged
    assert "q =" in fit.message
