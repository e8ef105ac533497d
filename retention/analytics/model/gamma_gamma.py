"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves").

Each repeat purchase day's revenue z ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate v)
across customers (the paper's gamma is ``v`` here). Only customers with x >= 1 carry
information: m_x is the mean over their repeat purchase days (kpis.md), x their count.
The model assumes spend is independent of purchase frequency; check that on real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

_LOG_BOUND = 20.0


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters; ``v`` is the paper's gamma (rate of the nu distribution)."""

    p: float
    q: float
    v: float

    def __post_init__(self) -> None:
        for name in ("p", "q", "v"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(
                    f"Gamma-Gamma parameter {name} must be finite and > 0, got {value}"
                )


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of ``fit_gamma_gamma``; ``log_likelihood`` is the weighted total."""

    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str = ""


def _validate(
    x: ArrayLike, m_x: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64).ravel()
    ma = np.asarray(m_x, dtype=np.float64).ravel()
    w = np.ones_like(xa) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (xa.shape == ma.shape == w.shape):
        raise ValueError(f"x, m_x, weights differ in length: {xa.size}, {ma.size}, {w.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ma)) and np.all(np.isfinite(w))):
        raise ValueError("x, m_x and weights must be finite (drop customers with x == 0 first)")
    if np.any(xa < 1) or np.any(xa != np.round(xa)):
        raise ValueError("Gamma-Gamma is fitted on customers with integer x >= 1 only")
    if np.any(ma <= 0):
        raise ValueError("m_x must be > 0: the Gamma model has no room for zero or negative spend")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return xa, ma, w


class _NegLogLik:
    """Mean negative log-likelihood of m_x given x, and its gradient in log-params.

    log f(m_x | x) = lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m_x + px ln x
                     - (px+q) ln(v + x m_x)
    (the density of the mean of x Gamma(p, nu) draws, nu integrated out).
    """

    def __init__(self, x: FloatArray, m_x: FloatArray, w: FloatArray) -> None:
        keep = w > 0
        self.x, self.w = x[keep], w[keep]
        self.xm = self.x * m_x[keep]
        self.log_m = np.log(m_x[keep])
        self.log_x = np.log(self.x)
        self.total_w = float(self.w.sum())
        # Gamma-function terms depend on x alone: evaluate them per distinct x and gather.
        self.ux, self.ix = np.unique(self.x, return_inverse=True)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = np.exp(theta)
        x, w = self.x, self.w
        px = p * x
        upx, ix = p * self.ux, self.ix
        log_vxm = np.log(v + self.xm)
        ll = (
            (gammaln(upx + q) - gammaln(upx))[ix]
            - gammaln(q)
            + q * np.log(v)
            + (px - 1.0) * self.log_m
            + px * self.log_x
            - (px + q) * log_vxm
        )
        u_dig_pxq = digamma(upx + q)
        dig_pxq = u_dig_pxq[ix]
        g_p = x * ((u_dig_pxq - digamma(upx))[ix] + self.log_m + self.log_x - log_vxm)
        g_q = dig_pxq - digamma(q) + np.log(v) - log_vxm
        g_v = q / v - (px + q) / (v + self.xm)
        scale = -1.0 / self.total_w
        grad = scale * np.array([p * np.dot(w, g_p), q * np.dot(w, g_q), v * np.dot(w, g_v)])
        return scale * float(np.dot(w, ll)), grad


def fit_gamma_gamma(
    x: ArrayLike,
    m_x: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    initial: GammaGammaParams | None = None,
    max_iter: int = 2000,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on repeat customers (x >= 1, m_x > 0).

    ``weights`` are counts of identical (x, m_x) rows. ``converged`` is False when the
    optimizer failed, a parameter ran to the edge of the search box, or q <= 1 (the
    population mean order value v p / (q-1) would not exist).
    """
    xa, ma, w = _validate(x, m_x, weights)
    if w.sum() <= 0:
        raise ValueError("fit_gamma_gamma needs at least one repeat customer")
    nll = _NegLogLik(xa, ma, w)
    if initial is None:
        # Mean spend is v p / (q-1): start at p = 1, q = 2 and v matching the sample mean.
        mean_m = float(np.dot(w, ma) / w.sum())
        initial = GammaGammaParams(p=1.0, q=2.0, v=mean_m)
    theta0 = np.clip(np.log([initial.p, initial.q, initial.v]), -_LOG_BOUND + 1.0, _LOG_BOUND - 1.0)
    res = minimize(
        nll,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
        options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-15, "maxcor": 20},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else np.inf
    at_bound = bool(np.any(np.abs(theta) >= _LOG_BOUND - 1e-6))
    p, q, v = (float(t) for t in np.exp(theta))
    converged = (
        (bool(res.success) or grad_norm < 1e-6) and np.isfinite(res.fun) and not at_bound
    ) and q > 1.0
    message = str(res.message)
    if at_bound:
        message = f"parameter at search bound (log-params {theta.round(2).tolist()}); {message}"
    elif q <= 1.0:
        message = f"q = {q:.4g} <= 1: mean order value undefined; {message}"
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, v=v),
        log_likelihood=-float(res.fun) * nll.total_w,
        n_customers=round(nll.total_w),
        converged=converged,
        iterations=int(res.nit),
        message=message,
    )


def population_mean_order_value(params: GammaGammaParams) -> float:
    """E[order value] of a customer with no repeat purchases yet: v p / (q - 1)."""
    if params.q <= 1.0:
        raise ValueError(f"mean order value is infinite for q = {params.q} <= 1")
    return params.v * params.p / (params.q - 1.0)


def conditional_expected_order_value(
    params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike
) -> FloatArray:
    """E[order value | x, m_x], a credibility-weighted mix of population mean and m_x:

    (q-1)/(p x + q-1) * v p/(q-1) + p x/(p x + q-1) * m_x.

    Customers with x == 0 get the population mean (their m_x is ignored, may be NaN).
    """
    xa, ma = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m_x, dtype=np.float64))
    if np.any(xa < 0):
        raise ValueError("x must be >= 0")
    p, q = params.p, params.q
    pop = population_mean_order_value(params)
    weight = p * xa / (p * xa + q - 1.0)
    m_safe = np.where(xa > 0, ma, 0.0)
    if np.any(~np.isfinite(m_safe)):
        raise ValueError("m_x must be finite for customers with x >= 1")
    return np.asarray((1.0 - weight) * pop + weight * m_safe, dtype=np.float64)
