"""CDNOW benchmark (the papers' own data) and the `lifetimes` package as an oracle.

The CDNOW summaries ship inside the PyPI package `lifetimes`, a test-only extra: the data
files are located without importing it, so these tests also run where `lifetimes` itself no
longer imports. Published values: BG/NBD (weeks) r=0.243, alpha=4.414, a=0.793, b=2.426,
LL=-9582.4 (Fader, Hardie & Lee 2005a); Gamma-Gamma p=6.25, q=3.74, gamma=15.44 (2005b).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retention.analytics.model import (
    BgNbdParams,
    GammaGammaParams,
    conditional_expected_order_value,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)

_SPEC = importlib.util.find_spec("lifetimes")
_DATA = Path(_SPEC.origin).parent / "datasets" if _SPEC and _SPEC.origin else None
_CSV = _DATA / "cdnow_customers_summary_with_transactions.csv" if _DATA else None
needs_cdnow = pytest.mark.skipif(
    _CSV is None or not _CSV.exists(),
    reason="CDNOW summary comes with the test-only package `lifetimes` (pip install lifetimes)",
)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    assert _CSV is not None
    # 2357 customers of the 1/10 cohort sample; t_x, T in weeks; zbar = mean repeat spend.
    return pd.read_csv(_CSV)


@needs_cdnow
def test_bgnbd_fit_reproduces_the_paper(cdnow: pd.DataFrame) -> None:
    """Our MLE on CDNOW gives the paper's published parameters and log-likelihood."""
    fit = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert fit.converged, fit.message
    got = fit.params
    assert (got.r, got.alpha, got.a, got.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), abs=6e-4)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.06)


@needs_cdnow
def test_bgnbd_in_days_is_the_same_model(cdnow: pd.DataFrame) -> None:
    """Fitting in days scales alpha by 7 and leaves r, a, b unchanged."""
    weeks = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"]).params
    days = fit_bgnbd(cdnow["x"], cdnow["t_x"] * 7, cdnow["T"] * 7).params
    assert days.in_weeks().alpha == pytest.approx(weeks.alpha, rel=1e-6)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(weeks, name), rel=1e-6)


@needs_cdnow
def test_gamma_gamma_fit_reproduces_the_paper(cdnow: pd.DataFrame) -> None:
    """Gamma-Gamma on CDNOW repeat customers gives p=6.25, q=3.74, gamma=15.44."""
    repeat = cdnow[cdnow["x"] > 0]
    fit = fit_gamma_gamma(repeat["x"], repeat["zbar"])
    assert fit.converged, fit.message
    assert fit.n_customers == 946
    got = fit.params
    assert (got.p, got.q, got.v) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)


@needs_cdnow
def test_predictions_match_lifetimes(cdnow: pd.DataFrame) -> None:
    """With the same parameters, our closed forms equal `lifetimes`' on all CDNOW customers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes 0.11 warns about pandas options on import
        try:
            import lifetimes
        except Exception as exc:  # it may break on a future numpy/pandas; the oracle is optional
            pytest.skip(f"lifetimes does not import here: {exc!r}")

    x, t_x, T = (cdnow[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    bg = BgNbdParams(0.243, 4.414, 0.793, 2.426)
    oracle = lifetimes.BetaGeoFitter()
    oracle.params_ = pd.Series({"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b})
    np.testing.assert_allclose(
        probability_alive(bg, x, t_x, T),
        oracle.conditional_probability_alive(x, t_x, T),
        rtol=1e-9,
    )
    for horizon in (1.0, 39.0, 52.0):
        np.testing.assert_allclose(
            expected_purchases(bg, horizon, x, t_x, T),
            oracle.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T),
            rtol=1e-8,
        )
    horizons = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        expected_purchases_new_customer(bg, horizons),
        oracle.expected_number_of_purchases_up_to_time(horizons),
        rtol=1e-8,
    )

    gg = GammaGammaParams(6.25, 3.74, 15.44)
    gg_oracle = lifetimes.GammaGammaFitter()
    gg_oracle.params_ = pd.Series({"p": gg.p, "q": gg.q, "v": gg.v})
    repeat = cdnow[cdnow["x"] > 0]
    np.testing.assert_allclose(
        conditional_expected_order_value(gg, repeat["x"], repeat["zbar"]),
        gg_oracle.conditional_expected_average_profit(repeat["x"], repeat["zbar"]),
        rtol=1e-12,
    )
