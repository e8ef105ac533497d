"""Every KPI of kpis.md in plain pandas, written from the spec (not from the SQL).

The interpretations the spec leaves open are the ones documented in the SQL headers
(sql/kpis/*.sql): whole UTC days, gross revenue, first resolution decides a ticket's
period, replies/resolutions timed from the first `opened`, cohort cells observed up to `end`.
Undefined values (empty denominators) are None.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True)


def _midnight(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC")


def _dedupe(events: pd.DataFrame) -> pd.DataFrame:
    """Duplicates by event_id count once (kpis.md): keep the latest delivery."""
    if events.empty:
        return events
    return events.sort_values("ingested_at").drop_duplicates("event_id", keep="last")


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


class Reference:
    """KPIs over in-memory event tables (the columns of sinks.rows.COLUMNS)."""

    def __init__(self, purchases: pd.DataFrame, support: pd.DataFrame,
                 surveys: pd.DataFrame, activity_window_days: int = 365,
                 lifespan_cap_years: float = 20.0) -> None:
        self.window = pd.Timedelta(days=activity_window_days)
        self.cap = lifespan_cap_years
        purchases = _dedupe(purchases.assign(occurred_at=_utc(purchases["occurred_at"])))
        # Refunds are not purchases.
        self.orders = purchases[purchases["kind"] == "order"]
        self.support = _dedupe(support.assign(occurred_at=_utc(support["occurred_at"])))
        self.surveys = _dedupe(surveys.assign(occurred_at=_utc(surveys["occurred_at"])))

    # --- purchase vocabulary ---------------------------------------------------------
    def _orders_in(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        o = self.orders
        return o[(o["occurred_at"] >= start) & (o["occurred_at"] < end)]

    def _active_at(self, t: pd.Timestamp) -> set[str]:
        return set(self._orders_in(t - self.window, t)["customer_id"])

    def _first_order_at(self) -> pd.Series:
        return self.orders.groupby("customer_id")["occurred_at"].min()

    def _new_in(self, start: pd.Timestamp, end: pd.Timestamp) -> set[str]:
        first = self._first_order_at()
        return set(first[(first >= start) & (first < end)].index)

    # --- purchase KPIs ---------------------------------------------------------------
    def repeat_customer_rate(self, start: dt.date, end: dt.date) -> float | None:
        s, e = _midnight(start), _midnight(end)
        buyers = set(self._orders_in(s, e)["customer_id"])
        lifetime = self.orders[self.orders["occurred_at"] < e].groupby("customer_id").size()
        repeat = sum(1 for c in buyers if lifetime[c] >= 2)
        return _ratio(repeat, len(buyers))

    def repeat_purchase_rate(self, start: dt.date, end: dt.date) -> float | None:
        per_buyer = self._orders_in(_midnight(start), _midnight(end)).groupby("customer_id").size()
        return _ratio(int((per_buyer >= 2).sum()), len(per_buyer))

    def purchase_frequency(self, start: dt.date, end: dt.date) -> float | None:
        period = self._orders_in(_midnight(start), _midnight(end))
        return _ratio(len(period), period["customer_id"].nunique())

    def average_order_value(self, start: dt.date, end: dt.date) -> float | None:
        period = self._orders_in(_midnight(start), _midnight(end))
        return _ratio(float(period["amount"].sum()), len(period))

    def _retention_parts(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int, int]:
        return (len(self._active_at(start)), len(self._active_at(end)),
                len(self._new_in(start, end)))

    def customer_retention_rate(self, start: dt.date, end: dt.date) -> float | None:
        s, e, n = self._retention_parts(_midnight(start), _midnight(end))
        return _ratio(e - n, s)

    def churn_rate(self, start: dt.date, end: dt.date) -> float | None:
        crr = self.customer_retention_rate(start, end)
        return None if crr is None else 1 - crr

    def net_customer_loss_rate(self, start: dt.date, end: dt.date) -> float | None:
        s, e, _ = self._retention_parts(_midnight(start), _midnight(end))
        return _ratio(s - e, s)

    def clv_historic(self, end: dt.date) -> float | None:
        """AOV x annual frequency x min(1 / annual churn, cap), all over [end - 1y, end)."""
        year_start = (_midnight(end) - pd.DateOffset(years=1)).date()
        aov = self.average_order_value(year_start, end)
        frequency = self.purchase_frequency(year_start, end)
        churn = self.churn_rate(year_start, end)
        if aov is None or frequency is None or churn is None:
            return None
        lifespan = self.cap if churn <= 0 else min(1 / churn, self.cap)
        return aov * frequency * lifespan

    def cohort_retention(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        s, e = _midnight(start), _midnight(end)
        first = self._first_order_at()
        first = first[first < e]  # not known yet at `end` otherwise
        cohort = first.dt.tz_localize(None).dt.to_period("M")
        cohort = cohort[(cohort.dt.start_time >= s.tz_localize(None))
                        & (cohort.dt.start_time < e.tz_localize(None))]
        observed = self.orders[self.orders["occurred_at"] < e]
        months = observed.assign(
            month=observed["occurred_at"].dt.tz_localize(None).dt.to_period("M")
        )[["customer_id", "month"]].drop_duplicates()
        rows = []
        for month in sorted(set(cohort)):
            members = set(cohort[cohort == month].index)
            row: dict[str, Any] = {"cohort_month": month.start_time.date().isoformat(),
                                   "customers": len(members)}
            for k in range(12):
                cell_month = month + k
                if cell_month.start_time >= e.tz_localize(None):
                    row[f"month_{k}"] = None
                    continue
                active = months[(months["month"] == cell_month)
                                & months["customer_id"].isin(members)]
                row[f"month_{k}"] = len(active) / len(members)
            rows.append(row)
        return rows

    # --- voice of the customer -------------------------------------------------------
    def _answers(self, survey: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        a = self.surveys
        return a[(a["survey"] == survey) & (a["occurred_at"] >= _midnight(start))
                 & (a["occurred_at"] < _midnight(end))]

    def nps(self, start: dt.date, end: dt.date) -> float | None:
        answers = self._answers("nps", start, end).sort_values(["occurred_at", "event_id"])
        latest = answers.groupby("customer_id").tail(1)["score"]
        if latest.empty:
            return None
        return 100 * (int((latest >= 9).sum()) - int((latest <= 6).sum())) / len(latest)

    def csat(self, start: dt.date, end: dt.date) -> float | None:
        scores = self._answers("csat", start, end)["score"]
        return _ratio(int((scores >= 4).sum()), len(scores))

    def _tickets(self, action: str) -> pd.DataFrame:
        t = self.support
        return t[t["action"] == action]

    def _first_resolutions(self) -> pd.DataFrame:
        resolved = self._tickets("resolved").sort_values(["occurred_at", "event_id"])
        return resolved.groupby(["customer_id", "ticket_id"]).head(1)

    def first_contact_resolution_rate(self, start: dt.date, end: dt.date) -> float | None:
        first = self._first_resolutions()
        period = first[(first["occurred_at"] >= _midnight(start))
                       & (first["occurred_at"] < _midnight(end))]
        fcr = period["first_contact_resolution"].map(lambda v: v is True or v == 1)
        return _ratio(int(fcr.sum()), len(period))

    def _opened_at(self) -> pd.Series:
        return self._tickets("opened").groupby(["customer_id", "ticket_id"])["occurred_at"].min()

    @staticmethod
    def _median_p90(hours: list[float]) -> tuple[float | None, float | None]:
        if not hours:
            return None, None
        median, p90 = np.quantile(np.asarray(hours, dtype=float), [0.5, 0.9])
        return float(median), float(p90)

    def time_to_first_response(self, start: dt.date, end: dt.date) -> tuple[Any, Any]:
        opened = self._opened_at()
        opened = opened[(opened >= _midnight(start)) & (opened < _midnight(end))]
        replies = self._tickets("replied")
        hours = []
        for key, opened_at in opened.items():
            mine = replies[(replies["customer_id"] == key[0]) & (replies["ticket_id"] == key[1])
                           & (replies["occurred_at"] >= opened_at)]
            if not mine.empty:
                hours.append((mine["occurred_at"].min() - opened_at) / pd.Timedelta(hours=1))
        return self._median_p90(hours)

    def time_to_resolution(self, start: dt.date, end: dt.date) -> tuple[Any, Any]:
        first = self._first_resolutions()
        first = first[(first["occurred_at"] >= _midnight(start))
                      & (first["occurred_at"] < _midnight(end))]
        opened = self._opened_at()
        hours = []
        for _, row in first.iterrows():
            key = (row["customer_id"], row["ticket_id"])
            if key in opened.index and opened[key] <= row["occurred_at"]:
                hours.append((row["occurred_at"] - opened[key]) / pd.Timedelta(hours=1))
        return self._median_p90(hours)

    # --- all scalar outputs, named like the SQL outputs ------------------------------
    def scalar_outputs(self, start: dt.date, end: dt.date) -> dict[str, float | None]:
        ttfr = self.time_to_first_response(start, end)
        ttr = self.time_to_resolution(start, end)
        return {
            "repeat_customer_rate": self.repeat_customer_rate(start, end),
            "repeat_purchase_rate": self.repeat_purchase_rate(start, end),
            "purchase_frequency": self.purchase_frequency(start, end),
            "average_order_value": self.average_order_value(start, end),
            "customer_retention_rate": self.customer_retention_rate(start, end),
            "churn_rate": self.churn_rate(start, end),
            "net_customer_loss_rate": self.net_customer_loss_rate(start, end),
            "clv_historic": self.clv_historic(end),
            "nps": self.nps(start, end),
            "csat": self.csat(start, end),
            "first_contact_resolution_rate": self.first_contact_resolution_rate(start, end),
            "time_to_first_response_median_hours": ttfr[0],
            "time_to_first_response_p90_hours": ttfr[1],
            "time_to_resolution_median_hours": ttr[0],
            "time_to_resolution_p90_hours": ttr[1],
        }
