"""Fitted models in ClickHouse: `model_params` (one row per version) and their predictions.

The stream engine loads the latest version with `load_latest_model` to drive `low_p_alive`;
`retention model fit` (retention.kpis.model_fit) writes new versions with `save_model`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from retention.model.bgnbd import BgNbdParams, probability_alive
from retention.model.gamma_gamma import GammaGammaParams

_PARAM_COLUMNS = [
    "version", "fitted_at", "as_of", "horizon_days", "r", "alpha", "a", "b", "p", "q", "v",
    "customers", "repeat_customers", "bgnbd_log_likelihood", "gg_log_likelihood",
]
PREDICTION_COLUMNS = [
    "model_version", "customer_id", "x", "t_x", "T", "m_x", "p_alive", "expected_purchases",
    "predicted_clv",
]


@dataclass(frozen=True)
class FittedModel:
    """One stored model version; time unit days throughout (as retention.model)."""

    version: int
    fitted_at: dt.datetime
    as_of: dt.date
    horizon_days: int
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    customers: int
    repeat_customers: int
    bgnbd_log_likelihood: float = math.nan
    gg_log_likelihood: float = math.nan

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        """P(still a customer at age T) given x repeat purchase days, the last at age t_x."""
        return float(probability_alive(self.bgnbd, x, t_x, T))

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None:
        """The age T (days since the first purchase) after which p_alive < threshold.

        Closed form of P(alive) = 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)):
        T* = (alpha + t_x) K^(1/(r+x)) - alpha, K = (1/threshold - 1)(b+x-1)/a. None for
        x == 0 (BG/NBD: alive until a repeat purchase). When T* < t_x the probability is
        already below the threshold right after the last purchase: t_x is returned, since
        the age cannot be less than the recency.
        """
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if x < 1:
            return None
        p = self.bgnbd
        k = (1.0 / threshold - 1.0) * (p.b + x - 1.0) / p.a
        day = (p.alpha + t_x) * k ** (1.0 / (p.r + x)) - p.alpha
        return max(day, float(t_x))


class _Queryable(Protocol):
    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> Any: ...


def _rows(result: Any) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a QueryRunner result or a clickhouse-connect QueryResult."""
    if hasattr(result, "result_rows"):
        return list(result.column_names), [list(r) for r in result.result_rows]
    return list(result.columns), [list(r) for r in result.rows]


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> dt.datetime:
    # Both paths return UTC wall time: naive from clickhouse-connect, ISO text from the worker.
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def load_latest_model(source: _Queryable) -> FittedModel | None:
    """The newest stored model, or None before the first `retention model fit`.

    ``source`` is a QueryRunner (retention.query) or a clickhouse-connect client.
    """
    sql = (
        f"SELECT {', '.join(_PARAM_COLUMNS)} FROM model_params FINAL "
        "ORDER BY version DESC LIMIT 1"
    )
    columns, rows = _rows(source.query(sql, {}))
    if not rows:
        return None
    row = dict(zip(columns, rows[0], strict=True))
    return FittedModel(
        version=int(row["version"]),
        fitted_at=_datetime(row["fitted_at"]),
        as_of=_date(row["as_of"]),
        horizon_days=int(row["horizon_days"]),
        bgnbd=BgNbdParams(float(row["r"]), float(row["alpha"]), float(row["a"]),
                          float(row["b"])),
        gamma_gamma=GammaGammaParams(float(row["p"]), float(row["q"]), float(row["v"])),
        customers=int(row["customers"]),
        repeat_customers=int(row["repeat_customers"]),
        bgnbd_log_likelihood=float(row["bgnbd_log_likelihood"]),
        gg_log_likelihood=float(row["gg_log_likelihood"]),
    )


def next_version(client: Any) -> int:
    rows = client.query("SELECT max(version) FROM model_params").result_rows
    return int(rows[0][0] or 0) + 1


@dataclass(frozen=True)
class Predictions:
    """Per-customer columns, aligned; m_x is NaN where x == 0 (stored as NULL)."""

    customer_ids: npt.NDArray[Any]
    x: npt.NDArray[np.int64]
    t_x: npt.NDArray[np.int64]
    T: npt.NDArray[np.int64]
    m_x: npt.NDArray[np.float64]
    p_alive: npt.NDArray[np.float64]
    expected_purchases: npt.NDArray[np.float64]
    predicted_clv: npt.NDArray[np.float64]


def save_model(client: Any, model: FittedModel, predictions: Predictions) -> None:
    """Store predictions, then the params row: a visible version is always complete.

    ``client`` is a clickhouse-connect client (writes do not go through the worker's
    read-only query view).
    """
    n = predictions.customer_ids.size
    m_x = [None if math.isnan(v) else v for v in predictions.m_x.tolist()]
    columns = [
        [model.version] * n,
        predictions.customer_ids.tolist(),
        predictions.x.tolist(),
        predictions.t_x.tolist(),
        predictions.T.tolist(),
        m_x,
        predictions.p_alive.tolist(),
        predictions.expected_purchases.tolist(),
        predictions.predicted_clv.tolist(),
    ]
    # A retry of the same version replaces rows (ReplacingMergeTree on version, customer).
    client.insert("customer_predictions", columns, column_names=PREDICTION_COLUMNS,
                  column_oriented=True)
    bg, gg = model.bgnbd, model.gamma_gamma
    client.insert(
        "model_params",
        [[model.version, model.fitted_at, model.as_of, model.horizon_days, bg.r, bg.alpha,
          bg.a, bg.b, gg.p, gg.q, gg.v, model.customers, model.repeat_customers,
          model.bgnbd_log_likelihood, model.gg_log_likelihood]],
        column_names=_PARAM_COLUMNS,
    )
