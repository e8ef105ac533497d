"""Readiness gate and the CLV helper."""

from __future__ import annotations

import numpy as np
import pytest

from retention.analytics.model import (
    BgNbdParams,
    GammaGammaParams,
    check_readiness,
    conditional_expected_order_value,
    expected_purchases,
    population_mean_order_value,
    predicted_clv,
)


def test_ready_when_all_thresholds_are_met() -> None:
    """Enough buyers, history and 3+ purchase-day customers -> ok with no reasons."""
    x = np.r_[np.zeros(280), np.full(20, 2)]
    T = np.full(300, 120)
    result = check_readiness(x, T, min_buyers=300, min_history_days=90, min_customers_3plus=20)
    assert result.ok
    assert result.reasons == []


def test_not_ready_says_every_reason() -> None:
    """Each failed threshold is reported in words; thresholds come from the caller."""
    x = np.r_[np.zeros(40), np.ones(5), np.full(3, 2)]
    T = np.full(48, 30)
    result = check_readiness(x, T, min_buyers=300, min_history_days=90, min_customers_3plus=20)
    assert not result.ok
    assert len(result.reasons) == 3
    assert "48 buyers" in result.reasons[0]
    assert "30 days" in result.reasons[1]
    assert "3 customers with 3+ purchase days" in result.reasons[2]
    # The same data passes looser thresholds.
    assert check_readiness(x, T, min_buyers=40, min_history_days=30, min_customers_3plus=3).ok


def test_readiness_counts_compressed_rows_by_weight() -> None:
    """Weights (row counts) count as that many customers."""
    result = check_readiness([0, 2], [100, 100], weights=[290, 20])
    assert result.ok


def test_clv_is_purchases_times_order_value() -> None:
    """CLV = E[purchases over horizon] x E[order value]; x == 0 uses the population mean."""
    bg = BgNbdParams(0.243, 30.9, 0.793, 2.426)
    gg = GammaGammaParams(6.25, 3.74, 15.44)
    x = np.array([0, 2, 6])
    t_x = np.array([0, 200, 250])
    T = np.array([273, 273, 273])
    m_x = np.array([np.nan, 22.35, 40.0])
    clv = predicted_clv(bg, gg, 365, x, t_x, T, m_x)
    purchases = expected_purchases(bg, 365, x, t_x, T)
    assert clv[0] == pytest.approx(purchases[0] * population_mean_order_value(gg))
    value = conditional_expected_order_value(gg, x[1:], m_x[1:])
    np.testing.assert_allclose(clv[1:], purchases[1:] * value, rtol=1e-12)
    assert np.all(clv > 0)
