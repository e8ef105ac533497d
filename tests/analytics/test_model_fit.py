"""`retention model fit` end to end: inputs from ClickHouse, fit, storage, loading."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from retention.analytics.kpis import Period, run_kpi
from retention.analytics.model import (
    fit_bgnbd,
    predicted_clv,
    probability_alive,
    rfm_from_purchases,
)
from retention.analytics.model_fit import FitReport, customer_rfm, default_as_of, fit_model
from sinks.model_store import load_latest_model

from .conftest import Db, open_db
from .histories import AS_OF, TRUE_BG, TRUE_GG, History, simulated_history

UTC = dt.UTC


@pytest.fixture(scope="module")
def fitted(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Db, History, FitReport]]:
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("model"))
    history = simulated_history(4000, seed=3)
    history.insert(db.client)
    report = fit_model(db.client, db.settings, AS_OF,
                       fitted_at=dt.datetime(2025, 1, 1, 6, tzinfo=UTC))
    yield db, history, report
    db.close()


def _reference_rfm(history: History):
    purchases, _, _ = history.frames()
    orders = purchases[purchases["kind"] == "order"].drop_duplicates("event_id")
    return rfm_from_purchases(orders["customer_id"], pd.to_datetime(orders["occurred_at"],
                              utc=True), orders["amount"], AS_OF)


def test_sql_model_inputs_match_the_definition(fitted) -> None:
    """x, t_x, T, m_x from SQL equal retention.analytics.model.rfm_from_purchases on the same orders
    (refunds out, re-deliveries once, same-day orders one purchase day)."""
    db, history, _ = fitted
    sql = customer_rfm(db.client, AS_OF)
    ref = _reference_rfm(history)
    assert sql["customer_id"].tolist() == ref.customer_ids.tolist()
    for col in ("x", "t_x", "T"):
        assert sql[col].tolist() == getattr(ref, col).tolist(), col
    np.testing.assert_allclose(sql["m_x"], ref.m_x, rtol=1e-12, equal_nan=True)


def test_fit_recovers_known_parameters(fitted) -> None:
    """The stored params are the MLE of the reference inputs and near the simulated truth."""
    _, history, report = fitted
    assert report.model is not None, report.reasons
    ref = _reference_rfm(history)
    direct = fit_bgnbd(ref.x, ref.t_x, ref.T).params
    for name in ("r", "alpha", "a", "b"):
        assert getattr(report.model.bgnbd, name) == pytest.approx(getattr(direct, name),
                                                                  rel=1e-5)
    # 4,000 customers: a few sd of sampling noise (day grain biases alpha up a little).
    limits = {"r": 0.25, "alpha": 0.4, "a": 0.45, "b": 0.6}
    for name, limit in limits.items():
        rel = getattr(report.model.bgnbd, name) / getattr(TRUE_BG, name) - 1
        assert abs(rel) < limit, (name, report.model.bgnbd)
    gg = report.model.gamma_gamma
    assert gg.v * gg.p / (gg.q - 1) == pytest.approx(
        TRUE_GG.v * TRUE_GG.p / (TRUE_GG.q - 1), rel=0.25)


def test_predictions_are_stored_and_feed_clv_predicted(fitted) -> None:
    """One prediction row per customer; clv_predicted is their mean and sum."""
    db, history, report = fitted
    model = report.model
    assert model is not None
    rows = db.client.query(
        "SELECT customer_id, x, t_x, T, m_x, p_alive, expected_purchases, predicted_clv "
        "FROM customer_predictions FINAL WHERE model_version = {v:UInt32} ORDER BY customer_id",
        parameters={"v": model.version},
    ).result_columns
    ref = _reference_rfm(history)
    assert list(rows[0]) == ref.customer_ids.tolist()
    m_x = np.array([np.nan if v is None else v for v in rows[4]])
    clv = predicted_clv(model.bgnbd, model.gamma_gamma, model.horizon_days, ref.x, ref.t_x,
                        ref.T, m_x)
    np.testing.assert_allclose(rows[7], clv, rtol=1e-9)
    np.testing.assert_allclose(rows[5], probability_alive(model.bgnbd, ref.x, ref.t_x, ref.T),
                               rtol=1e-12)
    assert all(0.0 < p <= 1.0 for p in rows[5])

    after = Period(dt.date(2024, 1, 1), AS_OF + dt.timedelta(days=1))
    kpi = run_kpi(db.runner, "clv_predicted", after, db.settings)
    assert kpi["clv_predicted_mean"] == pytest.approx(float(np.mean(clv)), rel=1e-9)
    assert kpi["clv_predicted_sum"] == pytest.approx(float(np.sum(clv)), rel=1e-9)
    # A period ending on the calibration day itself predates the model: nothing to show.
    before = Period(dt.date(2024, 1, 1), AS_OF)
    assert run_kpi(db.runner, "clv_predicted", before, db.settings) == {
        "clv_predicted_mean": None, "clv_predicted_sum": None}


def test_load_latest_model_gives_what_the_engine_needs(fitted) -> None:
    """load_latest_model returns the stored params, through a runner or a raw client."""
    db, _, report = fitted
    for source in (db.runner, db.client):
        latest = load_latest_model(source)
        assert latest == report.model
    model = load_latest_model(db.runner)
    assert model is not None and model.as_of == AS_OF
    assert model.fitted_at == dt.datetime(2025, 1, 1, 6, tzinfo=UTC)
    assert model.p_alive(0, 0, 100) == 1.0
    assert model.p_alive(3, 40, 100) == pytest.approx(
        float(probability_alive(model.bgnbd, 3, 40, 100)))


def test_day_p_alive_drops_below_is_the_threshold_crossing(fitted) -> None:
    """p_alive at the returned age equals the threshold and is above it a day earlier."""
    model = fitted[2].model
    assert model is not None
    assert model.day_p_alive_drops_below(0, 0, 0.3) is None
    for x, t_x in [(1, 0), (1, 30), (4, 90), (12, 300)]:
        day = model.day_p_alive_drops_below(x, t_x, 0.3)
        assert day is not None and day >= t_x
        if day > t_x:
            assert model.p_alive(x, t_x, day) == pytest.approx(0.3, abs=1e-9)
            assert model.p_alive(x, t_x, max(t_x, day - 1)) > 0.3
        assert model.p_alive(x, t_x, day + 1) < 0.3


def test_refits_get_new_versions_and_clv_predicted_uses_the_latest(make_db) -> None:
    """Two fits: versions 1 and 2; a period ending between their as-of days sees version 1."""
    db = make_db()
    simulated_history(800, seed=9).insert(db.client)
    first = fit_model(db.client, db.settings, dt.date(2024, 6, 30))
    second = fit_model(db.client, db.settings, AS_OF)
    assert first.model is not None and second.model is not None, (first.reasons,
                                                                   second.reasons)
    assert (first.model.version, second.model.version) == (1, 2)
    assert load_latest_model(db.runner) == second.model
    mid = Period(dt.date(2024, 1, 1), dt.date(2024, 9, 1))
    mean_v1 = db.client.query(
        "SELECT avg(predicted_clv) FROM customer_predictions FINAL WHERE model_version = 1"
    ).result_rows[0][0]
    assert run_kpi(db.runner, "clv_predicted", mid, db.settings)["clv_predicted_mean"] == (
        pytest.approx(mean_v1, rel=1e-12))


def test_not_ready_stores_nothing_and_says_why(make_db) -> None:
    """Too few buyers and too short a history: reasons, no model, no predictions."""
    db = make_db()
    h = History()
    for i in range(20):
        h.order(f"c{i}", dt.datetime(2024, 12, 1, tzinfo=UTC), 10.0)
        h.order(f"c{i}", dt.datetime(2024, 12, 20, tzinfo=UTC), 12.0)
    h.insert(db.client)
    report = fit_model(db.client, db.settings, AS_OF)
    assert report.model is None
    assert any("buyers" in r for r in report.reasons)
    assert any("days of purchase history" in r for r in report.reasons)
    assert load_latest_model(db.runner) is None
    assert db.client.query("SELECT count() FROM customer_predictions").result_rows[0][0] == 0


def test_default_as_of_is_the_last_complete_day(make_db) -> None:
    """The last purchase day, but never today (an incomplete day); None without data."""
    db = make_db()
    assert default_as_of(db.client) is None
    h = History()
    h.order("a", dt.datetime(2024, 5, 3, 12, tzinfo=UTC), 5.0)
    h.insert(db.client)
    assert default_as_of(db.client, today=dt.date(2025, 1, 1)) == dt.date(2024, 5, 3)
    assert default_as_of(db.client, today=dt.date(2024, 5, 3)) == dt.date(2024, 5, 2)
