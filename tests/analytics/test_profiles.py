"""`retention model fit` stores each customer's predictive profile, readable with plain SQL
under readonly = 1 (the read-only role's profile) through the `customer_profile` view."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from retention.analytics.model import probability_alive, rfm_from_purchases
from retention.analytics.model_fit import FitReport, fit_model

from .conftest import Db, open_db
from .histories import AS_OF, History, simulated_history

UTC = dt.UTC
READ_ONLY = {"readonly": 1}


@pytest.fixture(scope="module")
def fitted(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Db, History, FitReport]]:
    # One discount period as long as the horizon: the whole horizon's revenue is discounted
    # once, by 1.1, which the test can state without the model.
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("profiles"),
                 model={"annual_discount_rate": 0.1, "discount_period_days": 365})
    history = simulated_history(3000, seed=5)
    history.insert(db.client)
    report = fit_model(db.client, db.settings, AS_OF,
                       fitted_at=dt.datetime(2025, 1, 1, 6, tzinfo=UTC))
    assert report.model is not None, report.reasons
    yield db, history, report
    db.close()


def _orders(history: History) -> pd.DataFrame:
    purchases, _, _ = history.frames()
    orders = purchases[purchases["kind"] == "order"].drop_duplicates("event_id").copy()
    orders["day"] = pd.to_datetime(orders["occurred_at"], utc=True).dt.date
    return orders[orders["day"] <= AS_OF]


def _profiles(db: Db) -> pd.DataFrame:
    result = db.client.query("SELECT * FROM customer_profile ORDER BY customer_id",
                             settings=READ_ONLY)
    return pd.DataFrame(result.result_rows, columns=result.column_names)


def test_profile_fields_follow_their_definitions(fitted) -> None:
    """Orders and historic CLV are the customer's distinct orders up to the calibration day;
    churn = 1 - P(alive); predicted CLV is the stored horizon CLV discounted once by 1.1;
    total = historic + predicted; value at risk = predicted x churn; average days between
    orders = t_x / x."""
    db, history, report = fitted
    model = report.model
    assert model is not None
    got = _profiles(db)
    orders = _orders(history)
    by_customer = orders.groupby("customer_id").agg(n=("event_id", "size"),
                                                    revenue=("amount", "sum"))
    assert got["customer_id"].tolist() == by_customer.index.tolist()
    assert got["orders"].tolist() == by_customer["n"].tolist()
    np.testing.assert_allclose(got["historic_clv"], by_customer["revenue"], rtol=1e-12)

    ref = rfm_from_purchases(orders["customer_id"], pd.to_datetime(orders["occurred_at"],
                             utc=True), orders["amount"], AS_OF)
    np.testing.assert_allclose(got["churn_probability"],
                               1 - probability_alive(model.bgnbd, ref.x, ref.t_x, ref.T),
                               rtol=1e-9, atol=1e-12)
    horizon_clv = db.client.query(
        "SELECT predicted_clv FROM customer_predictions FINAL WHERE model_version = "
        "{v:UInt32} ORDER BY customer_id", parameters={"v": model.version}).result_columns[0]
    np.testing.assert_allclose(got["predicted_clv"], np.asarray(horizon_clv) / 1.1, rtol=1e-9)
    np.testing.assert_allclose(got["total_clv"], got["historic_clv"] + got["predicted_clv"],
                               rtol=1e-12)
    np.testing.assert_allclose(got["value_at_risk"],
                               got["predicted_clv"] * got["churn_probability"], rtol=1e-12)
    gaps = [None if x == 0 else t / x for x, t in zip(ref.x, ref.t_x, strict=True)]
    assert [None if v is None or math.isnan(v) else pytest.approx(v)
            for v in got["average_days_between_orders"]] == gaps
    assert set(got["model_version"]) == {model.version}
    assert set(got["as_of"]) == {AS_OF}


def test_next_order_date_is_the_first_day_the_next_order_is_more_likely_than_not(
        fitted) -> None:
    """Where a date is published, P(no order yet) (the BG/NBD silence probability) is at
    most 1/2 at its end and above 1/2 a day earlier; no date for single-purchase-day
    customers, for those more likely gone than not, or beyond the horizon."""
    db, history, report = fitted
    model = report.model
    assert model is not None
    got = _profiles(db)
    orders = _orders(history)
    ref = rfm_from_purchases(orders["customer_id"], pd.to_datetime(orders["occurred_at"],
                             utc=True), orders["amount"], AS_OF)
    p = model.bgnbd
    alive = probability_alive(p, ref.x, ref.t_x, ref.T)

    def silent(i: int, days: float) -> float:
        stay = ((p.alpha + ref.T[i]) / (p.alpha + ref.T[i] + days)) ** (p.r + ref.x[i])
        return float(1 - alive[i] + alive[i] * stay)

    dated = 0
    for i, day in enumerate(got["expected_next_order_date"]):
        if ref.x[i] == 0 or alive[i] <= 0.5 or silent(i, model.horizon_days) > 0.5:
            assert day is None, (i, ref.x[i], alive[i])
            continue
        dated += 1
        days = (day - AS_OF).days
        assert 1 <= days <= model.horizon_days
        assert silent(i, days) <= 0.5 < silent(i, days - 1)
    assert dated > 200


def test_readiness_rule_and_discount_are_stored_with_the_version(fitted) -> None:
    """model_profile_params holds the thresholds the fit passed and what the data had:
    buyers, the oldest customer's age in days, customers with 3+ purchase days."""
    db, history, _ = fitted
    orders = _orders(history)
    ref = rfm_from_purchases(orders["customer_id"], pd.to_datetime(orders["occurred_at"],
                             utc=True), orders["amount"], AS_OF)
    row = db.runner.run("customer/profile", {"customer_id": str(ref.customer_ids[0])}).dicts()
    assert len(row) == 1
    got = row[0]
    assert (got["buyers"], got["history_days"], got["customers_3plus"]) == (
        ref.customer_ids.size, int(ref.T.max()), int((ref.x >= 2).sum()))
    assert (got["min_buyers"], got["min_history_days"], got["min_customers_3plus"]) == (
        300, 90, 20)
    assert got["annual_discount_rate"] == 0.1


def test_the_view_shows_the_latest_version_only(make_db) -> None:
    """After a second fit the view holds one row per customer, all of the new version."""
    db = make_db()
    simulated_history(800, seed=9).insert(db.client)
    first = fit_model(db.client, db.settings, dt.date(2024, 6, 30))
    second = fit_model(db.client, db.settings, AS_OF)
    assert first.model is not None and second.model is not None
    got = _profiles(db)
    assert set(got["model_version"]) == {2}
    assert got["customer_id"].is_unique and len(got) == second.customers
