"""Event histories for KPI and model tests: raw rows in sinks.rows.COLUMNS order.

Random histories mix refunds, re-delivered events, several orders a day, zero amounts,
timestamps written with non-UTC offsets (some on the other side of midnight UTC from their
local date), events exactly on period boundaries, tickets without `opened` or with replies
before it, reopened tickets and NPS ties.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retention.analytics.model import BgNbdParams, GammaGammaParams
from sinks.rows import COLUMNS
from tests.analytics.model.simulate import simulate_bgnbd_days, simulate_gamma_gamma

UTC = dt.UTC
OFFSETS = [dt.timezone(dt.timedelta(hours=h, minutes=m))
           for h, m in [(0, 0), (5, 30), (-8, 0), (14, 0), (-3, -30), (1, 0)]]
INGESTED = dt.datetime(2025, 6, 1, tzinfo=UTC)
# Model tests: calibration day and the parameters simulated histories are drawn from.
AS_OF = dt.date(2024, 12, 31)
TRUE_BG = BgNbdParams(r=0.25, alpha=30.0, a=0.8, b=2.5)
TRUE_GG = GammaGammaParams(p=6.0, q=4.0, v=15.0)

Row = tuple[Any, ...]


@dataclass
class History:
    purchases: list[Row] = field(default_factory=list)
    support: list[Row] = field(default_factory=list)
    surveys: list[Row] = field(default_factory=list)
    # Re-deliveries of some of the rows above, inserted in a later batch.
    redelivered: dict[str, list[Row]] = field(default_factory=dict)
    _seq: int = 0

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}"

    def order(self, customer: str, at: dt.datetime, amount: float, kind: str = "order",
              order_id: str | None = None) -> Row:
        row = (self._id("p"), customer, at, order_id or self._id("o"), amount, "USD", 1, None,
               kind, None, 1, 0, self._seq, INGESTED)
        self.purchases.append(row)
        return row

    def ticket(self, customer: str, ticket: str, action: str, at: dt.datetime,
               fcr: bool | None = None) -> Row:
        row = (self._id("s"), customer, at, ticket, action, "chat", None, fcr, None, 1, 0,
               self._seq, INGESTED)
        self.support.append(row)
        return row

    def answer(self, customer: str, survey: str, score: int, at: dt.datetime) -> Row:
        row = (self._id("r"), customer, at, survey, score, None, None, None, 1, 0, self._seq,
               INGESTED)
        self.surveys.append(row)
        return row

    def redeliver(self, table: str, row: Row) -> None:
        """The same event again, as after a crash: later ingested_at, another offset."""
        again = (*row[:-2], row[-2] + 1_000_000, row[-1] + dt.timedelta(hours=1))
        self.redelivered.setdefault(table, []).append(again)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What the database holds: every delivery, duplicates included."""
        def frame(table: str, rows: list[Row]) -> pd.DataFrame:
            every = rows + self.redelivered.get(table, [])
            return pd.DataFrame(every, columns=COLUMNS[table])

        return (frame("purchases", self.purchases), frame("support_events", self.support),
                frame("survey_responses", self.surveys))

    def insert(self, client: Any, *, redelivered: bool = True) -> None:
        batches = [("purchases", self.purchases), ("support_events", self.support),
                   ("survey_responses", self.surveys)]
        if redelivered:
            batches += list(self.redelivered.items())
        for table, rows in batches:
            if rows:
                client.insert(table, rows, column_names=COLUMNS[table],
                              settings={"max_partitions_per_insert_block": 0})


def _local(at: dt.datetime, rng: np.random.Generator) -> dt.datetime:
    """The same instant written with a random UTC offset, as producers send it; to the
    millisecond, the precision occurred_at is stored with."""
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return at.astimezone(OFFSETS[int(rng.integers(len(OFFSETS)))])


def random_history(seed: int, customers: int = 60) -> History:
    rng = np.random.default_rng(seed)
    h = History()
    first_day = dt.datetime(2022, 10, 1, tzinfo=UTC)
    last_day = dt.datetime(2025, 3, 1, tzinfo=UTC)
    span_s = (last_day - first_day).total_seconds()
    boundaries = [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 3, 1, tzinfo=UTC),
                  dt.datetime(2025, 1, 1, tzinfo=UTC)]

    for i in range(customers):
        cid = f"c{i:03d}"
        at = first_day + dt.timedelta(seconds=float(rng.uniform(0, span_s * 0.9)))
        # Orders: exponential gaps, sometimes two on one day, sometimes on a boundary.
        for _ in range(int(rng.geometric(0.25))):
            if at >= last_day:
                break
            amount = 0.0 if rng.random() < 0.05 else round(float(rng.uniform(1, 250)), 2)
            row = h.order(cid, _local(at, rng), amount)
            if rng.random() < 0.15:
                h.order(cid, _local(at + dt.timedelta(days=2), rng), amount, kind="refund",
                        order_id=row[3])
            if rng.random() < 0.15:
                h.redeliver("purchases", row)
            if rng.random() < 0.1:
                h.order(cid, _local(at + dt.timedelta(minutes=30), rng), 19.99)
            gap = dt.timedelta(days=float(rng.exponential(70)))
            at = at + gap
            if rng.random() < 0.08:
                edge = boundaries[int(rng.integers(len(boundaries)))]
                # Exactly on the boundary, or the last millisecond before it.
                at = edge - dt.timedelta(milliseconds=int(rng.integers(2)))
        # Support tickets.
        for t in range(int(rng.integers(0, 3))):
            tid = f"T{i:03d}-{t}"
            opened = first_day + dt.timedelta(seconds=float(rng.uniform(0, span_s)))
            if rng.random() > 0.07:  # some tickets never had an `opened` event
                row = h.ticket(cid, tid, "opened", _local(opened, rng))
                if rng.random() < 0.2:
                    h.redeliver("support_events", row)
            if rng.random() < 0.07:  # producer clock skew: a reply before the opening
                h.ticket(cid, tid, "replied", _local(opened - dt.timedelta(hours=1), rng))
            reply = opened
            for _ in range(int(rng.integers(0, 3))):
                reply = reply + dt.timedelta(hours=float(rng.exponential(10)))
                h.ticket(cid, tid, "replied", _local(reply, rng))
            if rng.random() < 0.8:
                skew = -1 if rng.random() < 0.05 else 1
                resolved = opened + skew * dt.timedelta(hours=float(rng.exponential(60)))
                fcr = [True, False, None][int(rng.integers(3))]
                row = h.ticket(cid, tid, "resolved", _local(resolved, rng), fcr)
                if rng.random() < 0.2:
                    h.redeliver("support_events", row)
                if rng.random() < 0.3:
                    again = resolved + dt.timedelta(days=float(rng.exponential(5)))
                    h.ticket(cid, tid, "reopened", _local(again, rng))
                    h.ticket(cid, tid, "resolved",
                             _local(again + dt.timedelta(hours=3), rng), not fcr)
        # Surveys: several NPS answers, ties on time, and CSAT.
        for _ in range(int(rng.integers(0, 4))):
            when = first_day + dt.timedelta(seconds=float(rng.uniform(0, span_s)))
            row = h.answer(cid, "nps", int(rng.integers(0, 11)), _local(when, rng))
            if rng.random() < 0.15:
                h.answer(cid, "nps", int(rng.integers(0, 11)), _local(when, rng))
            if rng.random() < 0.15:
                h.redeliver("survey_responses", row)
        for _ in range(int(rng.integers(0, 3))):
            when = first_day + dt.timedelta(seconds=float(rng.uniform(0, span_s)))
            row = h.answer(cid, "csat", int(rng.integers(1, 6)), _local(when, rng))
            if rng.random() < 0.15:
                h.redeliver("survey_responses", row)
    return h


def single_customer_history() -> History:
    """One customer: three orders (two on one UTC day), a refund, one ticket, one answer."""
    h = History()
    plus9 = dt.timezone(dt.timedelta(hours=9))
    # 2024-03-01 08:00 +09:00 is still 2024-02-29 UTC.
    first = h.order("solo", dt.datetime(2024, 3, 1, 8, 0, tzinfo=plus9), 40.0)
    h.order("solo", dt.datetime(2024, 2, 29, 22, 0, tzinfo=UTC), 10.0)
    h.order("solo", dt.datetime(2024, 6, 10, 12, 0, tzinfo=UTC), 25.5)
    h.order("solo", dt.datetime(2024, 6, 11, 12, 0, tzinfo=UTC), 25.5, kind="refund")
    h.redeliver("purchases", first)
    h.ticket("solo", "T1", "opened", dt.datetime(2024, 4, 1, 9, 0, tzinfo=UTC))
    h.ticket("solo", "T1", "replied", dt.datetime(2024, 4, 1, 10, 30, tzinfo=UTC))
    h.ticket("solo", "T1", "resolved", dt.datetime(2024, 4, 2, 9, 0, tzinfo=UTC), True)
    h.answer("solo", "nps", 10, dt.datetime(2024, 5, 1, tzinfo=UTC))
    h.answer("solo", "csat", 3, dt.datetime(2024, 4, 2, 10, 0, tzinfo=UTC))
    return h


def simulated_history(n: int, seed: int) -> History:
    """Customers drawn from the BG/NBD and Gamma-Gamma stories, written as raw events:
    a purchase day sometimes split into two orders, some refunds and re-deliveries."""
    rng = np.random.default_rng(seed)
    T = rng.integers(120, 600, n)
    customers, days = simulate_bgnbd_days(TRUE_BG, T, rng)
    pairs = np.unique(np.column_stack([customers, days]), axis=0)
    x = np.bincount(pairs[:, 0], minlength=n) - 1
    # One Gamma-Gamma draw per repeat purchase day, around each customer's own mean.
    spend_mean = np.where(x > 0, simulate_gamma_gamma(TRUE_GG, np.maximum(x, 1), rng), 30.0)
    h = History()
    for cust, day in pairs:
        when = (dt.datetime.combine(AS_OF, dt.time(), UTC)
                - dt.timedelta(days=int(T[cust]) - int(day))
                + dt.timedelta(seconds=float(rng.uniform(0, 86_399))))
        when = when.replace(microsecond=0)
        amount = round(float(rng.gamma(TRUE_GG.p, spend_mean[cust] / TRUE_GG.p)), 2) + 0.01
        if rng.random() < 0.1:  # the day's revenue in two orders
            h.order(f"c{cust:05d}", when, round(amount / 2, 2))
            h.order(f"c{cust:05d}", when + dt.timedelta(seconds=1), round(amount / 2, 2))
        else:
            row = h.order(f"c{cust:05d}", when, amount)
            if rng.random() < 0.05:
                h.redeliver("purchases", row)
        if rng.random() < 0.03:
            h.order(f"c{cust:05d}", when, amount, kind="refund")
    return h
