"""Customer-lifetime model: BG/NBD purchases, Gamma-Gamma spend, CLV and readiness checks.

Time unit throughout is days. Pure numpy/scipy so it runs inside any worker.
"""

from retention.analytics.model.bgnbd import (
    BgNbdFit,
    BgNbdParams,
    bgnbd_log_likelihood,
    compress,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    probability_alive,
)
from retention.analytics.model.clv import predicted_clv
from retention.analytics.model.fitted import FittedModel, Predictions
from retention.analytics.model.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_order_value,
    fit_gamma_gamma,
    population_mean_order_value,
)
from retention.analytics.model.profile import (
    ProfileRule,
    Profiles,
    average_days_between_orders,
    build_profiles,
    discounted_purchases,
    median_days_to_next_purchase,
)
from retention.analytics.model.readiness import Readiness, check_readiness
from retention.analytics.model.rfm import Rfm, rfm_from_purchases

__all__ = [
    "BgNbdFit",
    "BgNbdParams",
    "FittedModel",
    "GammaGammaFit",
    "GammaGammaParams",
    "Predictions",
    "ProfileRule",
    "Profiles",
    "Readiness",
    "Rfm",
    "average_days_between_orders",
    "bgnbd_log_likelihood",
    "build_profiles",
    "check_readiness",
    "compress",
    "conditional_expected_order_value",
    "discounted_purchases",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "median_days_to_next_purchase",
    "population_mean_order_value",
    "predicted_clv",
    "probability_alive",
    "rfm_from_purchases",
]
