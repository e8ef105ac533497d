"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Inputs per customer, in days (see kpis.md): ``x`` repeat purchase days, ``t_x`` recency,
``T`` age. Parameters are in days too: ``alpha_weeks = alpha_days / 7``; r, a, b are
unit-free.

Equation numbers refer to the paper. The likelihood is evaluated in log space and only the
terms that depend on (x, t_x, T) per row are computed per row; everything that depends on x
alone is computed once per distinct x, which keeps a fit on a million rows cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

# Log-parameter box: wide enough for any real data set in days, narrow enough that exp()
# never overflows. A fit that ends on this box is reported as not converged (see fit_bgnbd).
_LOG_BOUND = 20.0


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD parameters, time unit days: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"BG/NBD parameter {name} must be finite and > 0, got {value}")

    def in_weeks(self) -> BgNbdParams:
        """The same model with time in weeks, as the literature quotes it."""
        return BgNbdParams(self.r, self.alpha / 7.0, self.a, self.b)


@dataclass(frozen=True)
class BgNbdFit:
    """Result of ``fit_bgnbd``; ``log_likelihood`` is the weighted total, not the mean."""

    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str = ""


def _as_float(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _validate_rft(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, ...]:
    xa, ta, Ta = _as_float(x, "x"), _as_float(t_x, "t_x"), _as_float(T, "T")
    if not (xa.shape == ta.shape == Ta.shape):
        raise ValueError(f"x, t_x, T differ in length: {xa.size}, {ta.size}, {Ta.size}")
    if np.any(xa < 0) or np.any(xa != np.round(xa)):
        raise ValueError("x must be non-negative integers (repeat purchase days)")
    if np.any(ta < 0) or np.any(ta > Ta):
        raise ValueError("t_x must satisfy 0 <= t_x <= T")
    if np.any((xa == 0) & (ta != 0)):
        raise ValueError("t_x must be 0 for customers with x == 0")
    return xa, ta, Ta


def _weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = _as_float(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights has length {w.size}, expected {n}")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return w


def compress(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Collapse identical (x, t_x, T) rows into unique triples and their counts.

    ``fit_bgnbd(*compress(x, t_x, T)[:3], weights=counts)`` gives the same fit as the full
    arrays, at a cost that scales with the number of distinct triples instead of customers.
    """
    xa, ta, Ta = _validate_rft(x, t_x, T)
    if xa.size == 0:
        return xa, ta, Ta, np.zeros(0)
    # lexsort + run boundaries: ~4x faster than np.unique(axis=0) on a million rows.
    order = np.lexsort((Ta, ta, xa))
    xs, ts, Ts = xa[order], ta[order], Ta[order]
    new_run = np.r_[True, (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (Ts[1:] != Ts[:-1])]
    starts = np.flatnonzero(new_run)
    counts = np.diff(np.r_[starts, xs.size]).astype(np.float64)
    return xs[starts], ts[starts], Ts[starts], counts


class _NegLogLik:
    """Mean negative log-likelihood (eq. 6) and its gradient in log-parameter space.

    Per customer, with A = Gamma(r+x) alpha^r / Gamma(r):
      L = A B(a, b+x)/B(a, b) (alpha+T)^-(r+x)
        + [x > 0] A B(a+1, b+x-1)/B(a, b) (alpha+t_x)^-(r+x)
    The two terms are combined with logaddexp so neither under- nor overflows for large x or T.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> None:
        keep = w > 0
        x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.ux_pos = self.ux > 0
        self.x, self.t_x, self.T, self.w = x, t_x, T, w
        self.pos = x > 0
        self.total_w = float(w.sum())

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(theta)
        ux, ix, upos = self.ux, self.ix, self.ux_pos
        x, w, pos = self.x, self.w, self.pos
        rx = r + x

        # Terms that depend on x only: evaluated once per distinct x, then gathered.
        beta_ab = betaln(a, b)
        u_a1 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
        u_a2 = betaln(a, b + ux) - beta_ab
        u_a3 = np.full_like(ux, -np.inf)
        # B(a+1, b+x-1) only exists for x >= 1 (b-1 may be negative).
        u_a3[upos] = betaln(a + 1.0, b + ux[upos] - 1.0) - beta_ab

        log_at = np.log(alpha + self.T)
        log_atx = np.log(alpha + self.t_x)
        a2 = u_a2[ix] - rx * log_at
        a3 = u_a3[ix] - rx * log_atx
        lse = np.logaddexp(a2, a3)
        ll = u_a1[ix] + lse
        # Posterior weights of "still alive" (w2) and "dropped after last purchase" (w3).
        w3 = np.exp(a3 - lse)
        w2 = 1.0 - w3

        # d/dr, d/dalpha, d/da, d/db of each log-term; chain rule to log-params below.
        dig_rx = digamma(r + ux)[ix]
        g_r = dig_rx - digamma(r) + np.log(alpha) - w2 * log_at - w3 * log_atx
        g_alpha = r / alpha - rx * (w2 / (alpha + self.T) + w3 / (alpha + self.t_x))

        dig_ab = digamma(a + b)
        dig_abx = digamma(a + b + ux)
        u_da2 = dig_ab - dig_abx
        u_db2 = digamma(b + ux) - dig_abx - digamma(b) + dig_ab
        u_da3 = np.zeros_like(ux)
        u_db3 = np.zeros_like(ux)
        u_da3[upos] = digamma(a + 1.0) - dig_abx[upos] - digamma(a) + dig_ab
        u_db3[upos] = digamma(b + ux[upos] - 1.0) - dig_abx[upos] - digamma(b) + dig_ab
        g_a = w2 * u_da2[ix] + np.where(pos, w3 * u_da3[ix], 0.0)
        g_b = w2 * u_db2[ix] + np.where(pos, w3 * u_db3[ix], 0.0)

        scale = -1.0 / self.total_w
        value = scale * float(np.dot(w, ll))
        grad = scale * np.array(
            [
                r * np.dot(w, g_r),
                alpha * np.dot(w, g_alpha),
                a * np.dot(w, g_a),
                b * np.dot(w, g_b),
            ]
        )
        return value, grad


def bgnbd_log_likelihood(
    params: BgNbdParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> float:
    """Total (weighted) log-likelihood of the data under ``params`` (eq. 6)."""
    xa, ta, Ta = _validate_rft(x, t_x, T)
    w = _weights(weights, xa.size)
    nll = _NegLogLik(xa, ta, Ta, w)
    theta = np.log([params.r, params.alpha, params.a, params.b])
    return -nll(theta)[0] * nll.total_w


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    initial: BgNbdParams | None = None,
    max_iter: int = 2000,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit (time unit: days).

    ``weights`` are counts of identical (x, t_x, T) rows (see ``compress``); the fit is the
    same as on the expanded rows. Optimizes over log-parameters with L-BFGS-B and an
    analytic gradient. ``converged`` is False when the optimizer did not report success or
    a parameter ran to the edge of the search box (e.g. no dropout is identifiable, a, b
    -> infinity): such parameters must not be used for predictions.
    """
    xa, ta, Ta = _validate_rft(x, t_x, T)
    w = _weights(weights, xa.size)
    if xa.size == 0 or w.sum() <= 0:
        raise ValueError("fit_bgnbd needs at least one customer with positive weight")
    nll = _NegLogLik(xa, ta, Ta, w)

    if initial is None:
        # lambda has mean r/alpha; start r at 1 and alpha at the pooled repeat-purchase rate.
        rate = max(float(np.dot(w, xa)), 1.0) / max(float(np.dot(w, Ta)), 1.0)
        initial = BgNbdParams(r=1.0, alpha=1.0 / rate, a=1.0, b=3.0)
    theta0 = np.log([initial.r, initial.alpha, initial.a, initial.b])
    theta0 = np.clip(theta0, -_LOG_BOUND + 1.0, _LOG_BOUND - 1.0)

    res = minimize(
        nll,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
        # The objective is a mean log-likelihood of order 1: gtol near sqrt(eps) lands
        # compressed and uncompressed fits on the same optimum to ~1e-8.
        options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-15, "maxcor": 20},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    grad_norm = float(np.max(np.abs(res.jac))) if res.jac is not None else np.inf
    at_bound = bool(np.any(np.abs(theta) >= _LOG_BOUND - 1e-6))
    # L-BFGS-B sometimes stops with "ABNORMAL" in the line search once it is already at the
    # optimum to machine precision; accept that when the gradient is tiny.
    converged = (bool(res.success) or grad_norm < 1e-6) and np.isfinite(res.fun) and not at_bound
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    message = str(res.message)
    if at_bound:
        message = f"parameter at search bound (log-params {theta.round(2).tolist()}); {message}"
    return BgNbdFit(
        params=BgNbdParams(r=r, alpha=alpha, a=a, b=b),
        log_likelihood=-float(res.fun) * nll.total_w,
        n_customers=round(nll.total_w),
        converged=converged,
        iterations=int(res.nit),
        message=message,
    )


def _log_alive_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log of a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x) for x > 0, -inf for x == 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    out = np.full(x.shape, -np.inf)
    pos = x > 0
    xp = x[pos]
    out[pos] = (
        np.log(a)
        - np.log(b + xp - 1.0)
        + (r + xp) * (np.log(alpha + T[pos]) - np.log(alpha + t_x[pos]))
    )
    return out


def probability_alive(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still active at T | x, t_x, T) (FHL technical note "Computing P(alive)...").

    1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), evaluated as a logistic of
    the log-odds so it neither overflows for long-silent heavy buyers nor loses precision
    near 1. Customers with x == 0 are alive by the model's assumption (no dropout before
    the first repeat purchase).
    """
    xa, ta, Ta = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t_x, T)))
    xa, ta, Ta = _validate_rft(xa, ta, Ta)
    shape = np.broadcast_shapes(*(np.shape(v) for v in (x, t_x, T)))
    alive: FloatArray = expit(-_log_alive_odds(params, xa, ta, Ta))
    return alive.reshape(shape)


# Within this distance of a degenerate value of ``a`` (see _purchases_bracket), the bracket
# is interpolated from nodes that keep clear of it. 1e-3 is where scipy's hyp2f1 is back to
# ~1e-10 relative accuracy (checked against mpmath at 30 digits).
_DEGENERATE_A_GUARD = 1e-3


def _bracket_at(
    r: float, alpha: float, a: float, b: float, x: FloatArray, T: FloatArray, t: FloatArray
) -> FloatArray:
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    one_minus_z = (alpha + T) / (alpha + T + t)  # exact, not 1 - z
    f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    power = (a - 1.0) * np.log(one_minus_z)
    # expm1 keeps relative precision for short horizons, where the bracket is ~t.
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = np.where(f > 0, -np.expm1(power + np.log(f)), 1.0 - np.exp(power) * f)
    return np.asarray(c / (a - 1.0) * inner, dtype=np.float64)


def _purchases_bracket(
    params: BgNbdParams, x: FloatArray, T: FloatArray, t: FloatArray
) -> FloatArray:
    """(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)].

    That is E[purchases in the next t days | alive, x, T]. z = t/(alpha+T+t) is in [0, 1).
    The 2F1 as written has C-A-B = a-1-r-x < 0, so it diverges as z -> 1 (long horizons,
    young customers) and is multiplied by a tiny power: an ill-conditioned product. Euler's
    transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns it into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters do not grow with x.

    Two values of ``a`` need care. a = 1 is a removable 0/0. a - r integer makes C-A-B an
    integer, where hyp2f1's z -> 1 connection formula has cancelling Gamma poles: scipy
    then loses digits (1e-3 relative at 1e-6 from the integer) or returns NaN. Near either,
    the bracket (smooth in a) is interpolated from four nodes straddling the bad value.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    candidates = [1.0, r + round(a - r)]
    centre = min(candidates, key=lambda v: abs(a - v))
    if abs(a - centre) < _DEGENERATE_A_GUARD and centre > 0:
        # Nodes at centre +- h, +- 2h; h >= 0.01 keeps them clear of both bad values unless
        # those are themselves within 0.01 of each other, which the size of h absorbs.
        h = min(0.01, centre / 20.0)
        nodes = centre + h * np.array([-2.0, -1.0, 1.0, 2.0])
        # Interpolate the log: for long horizons the bracket behaves like s^(1-a) with
        # s = t/(alpha+T), nearly exponential in a, which a cubic in log space follows
        # far better (2e-5 -> 1e-9 relative at z = 0.99997).
        # t == 0 would give log 0; its bracket is exactly 0 and is set below.
        t_pos = np.where(t > 0, t, 1.0)
        logs = [np.log(_bracket_at(r, alpha, float(n), b, x, T, t_pos)) for n in nodes]
        log_out = np.zeros_like(logs[0])
        for i, node_i in enumerate(nodes):
            others = np.delete(nodes, i)
            log_out += logs[i] * float(np.prod((a - others) / (node_i - others)))
        out = np.where(t > 0, np.exp(log_out), 0.0)
    else:
        out = _bracket_at(r, alpha, a, b, x, T, t)
    if not np.all(np.isfinite(out)):
        bad = ~np.isfinite(out)
        raise FloatingPointError(
            f"2F1 did not converge for {int(bad.sum())} rows, e.g. x={x[bad][0]}, "
            f"T={T[bad][0]}, t={t[bad][0]} with {params}"
        )
    return out


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T] (eq. 10), t in days; broadcasts over inputs.

    Counts purchase days, like x. Equals P(alive) times the expected purchases of an alive
    customer of age T with x repeats.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (t, x, t_x, T)))
    shape = arrays[0].shape
    ta_h = _as_float(arrays[0], "t")
    if np.any(ta_h < 0):
        raise ValueError("horizon t must be >= 0")
    xa, txa, Ta = _validate_rft(arrays[1], arrays[2], arrays[3])
    p_alive: FloatArray = expit(-_log_alive_odds(params, xa, txa, Ta))
    return (p_alive * _purchases_bracket(params, xa, Ta, ta_h)).reshape(shape)


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired (eq. 7)."""
    ta = np.asarray(t, dtype=np.float64)
    zeros = np.zeros_like(ta)
    return expected_purchases(params, ta, zeros, zeros, zeros)
