"""The lifetime model in ClickHouse: its inputs, `model_params` (one row per version) and
the per-customer predictions of each version.

The worker loads the latest version (`ClickHouseSink.latest_model`) to drive `low_p_alive`;
`retention model fit` (retention.analytics.model_fit) reads its inputs here and stores new
versions with `save_model`. The model itself (math, FittedModel) is retention.analytics.model.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from retention.analytics.model import (
    BgNbdParams,
    FittedModel,
    GammaGammaParams,
    Predictions,
    ProfileRule,
    Profiles,
)
from sinks.operations import run_operation
from sinks.reader import QueryResult, QueryRunner
from sinks.rows import COLUMNS
from sinks.sql_files import read_sql


def last_purchase_day(client: Client) -> dt.date | None:
    """The last UTC day with an order; None before the first purchase."""
    (last, count), = client.query(read_sql("model/last_purchase_day.sql")).result_rows
    day: dt.date = last
    return day if count else None


def model_inputs(client: Client, as_of: dt.date) -> dict[str, Sequence[Any]]:
    """Columns customer_id, x, t_x, T, m_x (None for x == 0) of sql/model/customer_rfm.sql:
    every customer with an order on or before `as_of`, by customer_id."""
    result = client.query(read_sql("model/customer_rfm.sql"), parameters={"as_of": as_of})
    return dict(zip(result.column_names, result.result_columns, strict=True))


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


def load_latest_model(source: QueryRunner | Client) -> FittedModel | None:
    """The newest stored model, or None before the first `retention model fit`.

    ``source`` is a QueryRunner (the CLI's, possibly the worker's operations view) or a
    clickhouse-connect client (the worker's own).
    """
    if isinstance(source, Client):
        result = QueryResult.of(run_operation(source, "model/latest_model", {}))
    else:
        result = source.run("model/latest_model", {})
    if not result.rows:
        return None
    row = dict(zip(result.columns, result.rows[0], strict=True))
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


def next_version(client: Client) -> int:
    (highest,), = client.query(read_sql("model/max_model_version.sql")).result_rows
    return int(highest or 0) + 1


def _nullable(values: list[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


def save_profiles(client: Client, model: FittedModel, profiles: Profiles,
                  rule: ProfileRule) -> None:
    """The version's predictive profiles, then how they were made (before model_params)."""
    n = profiles.customer_ids.size
    columns = [
        [model.version] * n,
        profiles.customer_ids.tolist(),
        [profiles.as_of] * n,
        profiles.orders.tolist(),
        profiles.historic_clv.tolist(),
        profiles.predicted_clv.tolist(),
        profiles.total_clv.tolist(),
        profiles.churn_probability.tolist(),
        profiles.expected_purchases.tolist(),
        [profiles.horizon_days] * n,
        _nullable(profiles.average_days_between_orders.tolist()),
        profiles.expected_next_order_dates(),
    ]
    client.insert("customer_profiles", columns, column_names=COLUMNS["customer_profiles"],
                  column_oriented=True)
    ready = rule.readiness
    client.insert(
        "model_profile_params",
        [[model.version, model.fitted_at, rule.annual_discount_rate, rule.discount_period_days,
          ready.buyers, rule.min_buyers, ready.history_days, rule.min_history_days,
          ready.customers_3plus, rule.min_customers_3plus]],
        column_names=COLUMNS["model_profile_params"],
    )


def save_model(client: Client, model: FittedModel, predictions: Predictions,
               profiles: Profiles, rule: ProfileRule) -> None:
    """Store predictions and profiles, then the params row: a visible version is always
    complete.

    ``client`` is a clickhouse-connect client (writes do not go through the worker's
    read-only operations).
    """
    n = predictions.customer_ids.size
    columns = [
        [model.version] * n,
        predictions.customer_ids.tolist(),
        predictions.x.tolist(),
        predictions.t_x.tolist(),
        predictions.T.tolist(),
        _nullable(predictions.m_x.tolist()),
        predictions.p_alive.tolist(),
        predictions.expected_purchases.tolist(),
        predictions.predicted_clv.tolist(),
    ]
    # A retry of the same version replaces rows (ReplacingMergeTree on version, customer).
    client.insert("customer_predictions", columns,
                  column_names=COLUMNS["customer_predictions"], column_oriented=True)
    save_profiles(client, model, profiles, rule)
    bg, gg = model.bgnbd, model.gamma_gamma
    client.insert(
        "model_params",
        [[model.version, model.fitted_at, model.as_of, model.horizon_days, bg.r, bg.alpha,
          bg.a, bg.b, gg.p, gg.q, gg.v, model.customers, model.repeat_customers,
          model.bgnbd_log_likelihood, model.gg_log_likelihood]],
        column_names=COLUMNS["model_params"],
    )
