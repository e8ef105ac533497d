"""The demo's `shop` history looks like a shop: its KPIs (pandas reference of kpis.md) land
in the sources' ranges, and leaving customers show it in support and surveys first."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retention.demo.synthetic import HistorySpec, generate_history

from .kpis.reference import Reference

SPEC = HistorySpec(customers=3000, months=36, seed=7, profile="shop")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return pd.DataFrame(generate_history(SPEC)).assign(ingested_at=0)


def test_last_year_kpis_are_where_real_shops_are(events: pd.DataFrame) -> None:
    """Repeat purchase rate inside 19.87-39.6%, annual churn far above the 5-7% line,
    historic CLV defined; the same for each of the two full years before."""
    purchases = events[events["type"] == "purchase"].assign(
        kind=lambda f: f["kind"].fillna("order"))
    reference = Reference(purchases, events[events["type"] == "support"],
                          events[events["type"] == "survey"])
    end = SPEC.end.date()
    for years_back in (0, 1):
        e = end - dt.timedelta(days=365 * years_back)
        s = e - dt.timedelta(days=365)
        rpr = reference.repeat_purchase_rate(s, e)
        churn = reference.churn_rate(s, e)
        assert rpr is not None and 0.1987 <= rpr <= 0.396, (s, rpr)
        assert churn is not None and churn > 0.2, (s, churn)
        assert reference.clv_historic(e) is not None


def test_leaving_shows_in_support_and_surveys(events: pd.DataFrame) -> None:
    """Customers whose last order is over a year before the end (gone) opened more tickets
    and gave lower NPS per customer than those who bought in the last year."""
    orders = events[(events["type"] == "purchase") & events["kind"].isna()]
    last = pd.to_datetime(orders.groupby("customer_id")["occurred_at"].max())
    cutoff = pd.Timestamp(SPEC.end) - pd.Timedelta(days=365)
    repeat = orders.groupby("customer_id").size() >= 2
    gone = set(last[(last < cutoff) & repeat].index)
    staying = set(last[last >= cutoff].index)
    tickets = events[(events["type"] == "support") & (events["action"] == "opened")]
    per_customer = tickets.groupby("customer_id").size()
    rate = {name: per_customer.reindex(list(group), fill_value=0).mean()
            for name, group in (("gone", gone), ("staying", staying))}
    assert rate["gone"] > 1.5 * rate["staying"], rate
    nps = events[(events["type"] == "survey") & (events["survey"] == "nps")]
    score = {name: nps[nps["customer_id"].isin(group)]["score"].mean()
             for name, group in (("gone", gone), ("staying", staying))}
    assert score["gone"] < score["staying"] - 1, score
