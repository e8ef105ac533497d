"""`retention model fit`: model inputs from ClickHouse (sinks.model_store), BG/NBD +
Gamma-Gamma fit, storage.

x, t_x, T, m_x come from sql/model/customer_rfm.sql (the purchase pre-aggregates, so each
event counts once); identical rows are compressed into weights before fitting, which keeps
a fit on a million customers to a few thousand distinct (x, t_x, T) triples.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retention.analytics.model import (
    FittedModel,
    Predictions,
    ProfileRule,
    build_profiles,
    check_readiness,
    compress,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    predicted_clv,
    probability_alive,
)
from retention.settings import Settings
from sinks.model_store import last_purchase_day, model_inputs, next_version, save_model


@dataclass
class FitReport:
    as_of: dt.date | None
    customers: int = 0
    # Empty when a model was stored; otherwise sentences saying why not.
    reasons: list[str] = field(default_factory=list)
    model: FittedModel | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def stored(self) -> bool:
        return self.model is not None


def _to_millisecond(at: dt.datetime) -> dt.datetime:
    # model_params.fitted_at is DateTime64(3): the returned model equals the stored one.
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def default_as_of(client: Any, today: dt.date | None = None) -> dt.date | None:
    """The last complete UTC day with data: min(last purchase day, yesterday); None if no
    purchase. A replay of old history then calibrates on its own last day, not on today."""
    yesterday = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
    last = last_purchase_day(client)
    if last is None:
        return None
    return min(last, yesterday)


def customer_rfm(client: Any, as_of: dt.date) -> dict[str, np.ndarray]:
    """Columns customer_id, x, t_x, T, m_x (NaN for x == 0), orders and revenue of every
    customer."""
    columns = model_inputs(client, as_of)
    return {
        "customer_id": np.asarray(columns["customer_id"], dtype=object),
        "x": np.asarray(columns["x"], dtype=np.int64),
        "t_x": np.asarray(columns["t_x"], dtype=np.int64),
        "T": np.asarray(columns["T"], dtype=np.int64),
        "m_x": np.asarray([np.nan if v is None else v for v in columns["m_x"]],
                          dtype=np.float64),
        "orders": np.asarray(columns["orders"], dtype=np.int64),
        "revenue": np.asarray(columns["revenue"], dtype=np.float64),
    }


def fit_model(
    client: Any,
    settings: Settings,
    as_of: dt.date | None = None,
    *,
    fitted_at: dt.datetime | None = None,
) -> FitReport:
    """Fit on data up to ``as_of`` (inclusive) and store the model unless it is not ready.

    ``client`` is a clickhouse-connect client with write access.
    """
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    as_of = as_of or default_as_of(client)
    if as_of is None:
        return FitReport(None, reasons=["no purchases yet"], seconds=seconds)
    data = customer_rfm(client, as_of)
    lap("query")
    report = FitReport(as_of, customers=int(data["x"].size), seconds=seconds)
    if data["x"].size == 0:
        report.reasons.append(f"no purchases on or before {as_of}")
        return report

    ux, ut, uT, counts = compress(data["x"], data["t_x"], data["T"])
    ms = settings.model
    readiness = check_readiness(
        ux, uT, weights=counts, min_buyers=ms.min_buyers,
        min_history_days=ms.min_history_days, min_customers_3plus=ms.min_customers_3plus,
    )
    if not readiness.ok:
        report.reasons.extend(readiness.reasons)
        return report

    bg_fit = fit_bgnbd(ux, ut, uT, weights=counts)
    lap("fit_bgnbd")
    if not bg_fit.converged:
        report.reasons.append(f"the BG/NBD fit did not converge: {bg_fit.message}")
        return report

    # Gamma-Gamma needs positive spend; a repeat customer whose repeat orders were all free
    # still gets a prediction (the population mean pulls it up), it just cannot train it.
    spenders = (data["x"] >= 1) & (data["m_x"] > 0)
    pairs, weights = np.unique(
        np.column_stack([data["x"][spenders], data["m_x"][spenders]]), axis=0,
        return_counts=True,
    )
    if pairs.size == 0:
        report.reasons.append("no repeat customer with positive spend to fit Gamma-Gamma on")
        return report
    gg_fit = fit_gamma_gamma(pairs[:, 0], pairs[:, 1], weights=weights)
    lap("fit_gamma_gamma")
    if not gg_fit.converged:
        report.reasons.append(f"the Gamma-Gamma fit did not converge: {gg_fit.message}")
        return report

    horizon = ms.horizon_days
    x, t_x, T, m_x = data["x"], data["t_x"], data["T"], data["m_x"]
    predictions = Predictions(
        customer_ids=data["customer_id"], x=x, t_x=t_x, T=T, m_x=m_x,
        p_alive=probability_alive(bg_fit.params, x, t_x, T),
        expected_purchases=expected_purchases(bg_fit.params, horizon, x, t_x, T),
        predicted_clv=predicted_clv(bg_fit.params, gg_fit.params, horizon, x, t_x, T, m_x),
    )
    rule = ProfileRule(
        annual_discount_rate=ms.annual_discount_rate,
        discount_period_days=ms.discount_period_days, readiness=readiness,
        min_buyers=ms.min_buyers, min_history_days=ms.min_history_days,
        min_customers_3plus=ms.min_customers_3plus,
    )
    profiles = build_profiles(bg_fit.params, gg_fit.params, rule, as_of, horizon, data)
    lap("predict")
    model = FittedModel(
        version=next_version(client),
        fitted_at=_to_millisecond(fitted_at or dt.datetime.now(dt.UTC)),
        as_of=as_of,
        horizon_days=horizon,
        bgnbd=bg_fit.params,
        gamma_gamma=gg_fit.params,
        customers=int(x.size),
        repeat_customers=int((x >= 1).sum()),
        bgnbd_log_likelihood=bg_fit.log_likelihood,
        gg_log_likelihood=gg_fit.log_likelihood,
    )
    save_model(client, model, predictions, profiles, rule)
    lap("store")
    report.model = model
    return report
