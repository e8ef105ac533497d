"""rfm_from_purchases: x, t_x, T, m_x exactly as kpis.md defines them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retention.analytics.model import rfm_from_purchases


def test_definitions_on_a_hand_worked_example() -> None:
    """Same-day orders are one purchase day, the first day is left out of m_x, D is inclusive."""
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d"],
            "occurred_at": pd.to_datetime(
                [
                    "2024-01-01 09:00",  # a: first day
                    "2024-01-01 18:00",  # a: same day -> same purchase day
                    "2024-01-11 10:00",  # a: repeat day 1 (10 + 5 = 15 revenue below)
                    "2024-01-11 11:00",
                    "2024-03-01 00:00",  # b: single purchase
                    "2024-02-01 12:00",  # c: first
                    "2024-03-31 23:59",  # c: repeat on D itself (inclusive)
                    "2024-04-01 00:00",  # d: after D -> not a customer yet
                ]
            ),
            "revenue": [100.0, 50.0, 10.0, 5.0, 20.0, 30.0, 7.0, 99.0],
        }
    )
    rfm = rfm_from_purchases(
        orders["customer_id"], orders["occurred_at"], orders["revenue"], dt.date(2024, 3, 31)
    )
    assert rfm.customer_ids.tolist() == ["a", "b", "c"]
    assert rfm.x.tolist() == [1, 0, 1]
    assert rfm.t_x.tolist() == [10, 0, 59]
    assert rfm.T.tolist() == [90, 30, 59]
    assert rfm.m_x[0] == 15.0
    assert np.isnan(rfm.m_x[1])
    assert rfm.m_x[2] == 7.0


def test_mean_is_over_repeat_days_not_orders() -> None:
    """m_x averages revenue per repeat purchase day; several orders on a day are summed."""
    rfm = rfm_from_purchases(
        [1, 1, 1, 1, 1],
        ["2024-01-01", "2024-01-05", "2024-01-05", "2024-01-05", "2024-01-09"],
        [1000.0, 10.0, 10.0, 10.0, 60.0],
        "2024-01-31",
    )
    assert rfm.x.tolist() == [2]
    assert rfm.m_x.tolist() == [pytest.approx(45.0)]  # (30 + 60) / 2


def test_timezone_aware_times_take_their_utc_date() -> None:
    """An order at 23:30 in New York on Jan 1 is a Jan 2 (UTC) purchase day."""
    times = pd.Series(
        pd.to_datetime(["2024-01-01 08:00", "2024-01-01 23:30"]).tz_localize("America/New_York")
    )
    rfm = rfm_from_purchases(["a", "a"], times, [1.0, 2.0], dt.date(2024, 1, 2))
    assert rfm.x.tolist() == [1]
    assert rfm.t_x.tolist() == [1]
    assert rfm.T.tolist() == [1]
