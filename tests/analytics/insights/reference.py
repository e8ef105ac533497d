"""The retention insights in plain Python and pandas, written from the definitions the SQL
headers cite (PostHog's retention, lifecycle and stickiness insights, Amplitude's "Return On"
and "Return On or After"), not from the SQL: customer by customer, with sets of days and
periods.

Vocabulary: a customer's local day of an event is its date in the reporting time zone; a
period is that day's day, Monday week or month. The range's whole periods start on or after
`start` and end on or before `end`; events are observed before `end`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any

import pandas as pd

Row = dict[str, Any]


def period_of(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def shift(start: dt.date, n: int, period: str) -> dt.date:
    """The period start n periods after `start` (a period start itself)."""
    if period == "day":
        return start + dt.timedelta(days=n)
    if period == "week":
        return start + dt.timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return dt.date(months // 12, months % 12 + 1, 1)


def whole_periods(start: dt.date, end: dt.date, period: str) -> list[dt.date]:
    """Starts of the periods lying entirely inside [start, end)."""
    first = period_of(start, period)
    if first < start:
        first = shift(first, 1, period)
    found = []
    while shift(first, 1, period) <= end:
        found.append(first)
        first = shift(first, 1, period)
    return found


def _shares(returned: list[int | None], size: int) -> tuple[list[Any], list[Any]]:
    of_cohort = [None if r is None else r / size for r in returned]
    of_previous: list[Any] = [None]
    for previous, current in itertools.pairwise(returned):
        of_previous.append(None if current is None or not previous else current / previous)
    return of_cohort, of_previous


class InsightReference:
    """Insights over in-memory event tables (the columns of sinks.rows.COLUMNS)."""

    def __init__(self, purchases: pd.DataFrame, support: pd.DataFrame,
                 surveys: pd.DataFrame) -> None:
        def named(frame: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
            # A re-delivered event is the same event: keep one row per event_id.
            frame = frame.assign(event=names).drop_duplicates("event_id")
            return frame[["customer_id", "occurred_at", "event"]]

        orders = purchases[purchases["kind"] == "order"]
        self.events = pd.concat([
            named(orders, pd.Series("purchase", index=orders.index)),
            named(support, "support." + support["action"].astype(str)),
            named(surveys, "survey." + surveys["survey"].astype(str)),
        ], ignore_index=True)
        self.events["occurred_at"] = pd.to_datetime(self.events["occurred_at"], utc=True)

    # --- vocabulary ------------------------------------------------------------------
    def days(self, event: str, tz: str, before: dt.date | None = None) -> dict[str, set[dt.date]]:
        """Per customer, the local days with a matching event (observed before `before`)."""
        e = self.events
        family = e["event"].str.split(".").str[0]
        if event != "any":
            e = e[(e["event"] == event) | (family == event)]
        local = e["occurred_at"].dt.tz_convert(tz).dt.date
        found: dict[str, set[dt.date]] = defaultdict(set)
        for customer, day in zip(e["customer_id"], local, strict=True):
            if before is None or day < before:
                found[customer].add(day)
        return found

    # --- retention insight -----------------------------------------------------------
    def cohort_rows(self, *, start: dt.date, end: dt.date, period: str, tz: str,
                    cohort: str, start_event: str, return_event: str, mode: str,
                    intervals: int | None = None,
                    brackets: list[tuple[int, int]] | None = None) -> list[Row]:
        """Rows like the SQL's: cohort, cohort_size, k (or j with first_day/last_day),
        returned, share_of_cohort, share_of_previous."""
        ranged = set(whole_periods(start, end, period))
        start_days = self.days(start_event, tz)
        return_days = self.days(return_event, tz, before=end)
        # Members: (cohort, customer, day 0).
        members: list[tuple[dt.date, str, dt.date]] = []
        for customer, days in start_days.items():
            if cohort == "first":
                first = min(days)
                candidates = [(period_of(first, period), first)]
            else:
                by_period: dict[dt.date, dt.date] = {}
                for day in sorted(days):
                    by_period.setdefault(period_of(day, period), day)
                candidates = list(by_period.items())
            members += [(p, customer, day0) for p, day0 in candidates if p in ranged]
        cohorts: dict[dt.date, list[tuple[str, dt.date]]] = defaultdict(list)
        for p, customer, day0 in members:
            cohorts[p].append((customer, day0))

        rows = []
        for p in sorted(cohorts):
            size = len(cohorts[p])
            if brackets is not None:
                returned = [size]
                for first_day, last_day in brackets:
                    over = shift(p, 1, period) + dt.timedelta(days=last_day) <= end
                    returned.append(None if not over else sum(
                        1 for customer, day0 in cohorts[p]
                        if any((first_day <= (r - day0).days <= last_day) if mode == "on"
                               else (r - day0).days >= first_day
                               for r in return_days.get(customer, ()))))
                bounds = [(0, 0), *brackets]
            else:
                assert intervals is not None
                returned = [size]
                for k in range(1, intervals + 1):
                    over = shift(p, k + 1, period) <= end
                    target = shift(p, k, period)
                    returned.append(None if not over else sum(
                        1 for customer, _ in cohorts[p]
                        if any(period_of(r, period) == target if mode == "on"
                               else period_of(r, period) >= target
                               for r in return_days.get(customer, ()))))
            of_cohort, of_previous = _shares(returned, size)
            for k, count in enumerate(returned):
                row: Row = {"cohort": p, "cohort_size": size, "returned": count,
                            "share_of_cohort": of_cohort[k], "share_of_previous": of_previous[k]}
                if brackets is not None:
                    row.update(j=k, first_day=bounds[k][0], last_day=bounds[k][1])
                else:
                    row.update(k=k, interval_start=shift(p, k, period))
                rows.append(row)
        return rows

    # --- lifecycle and stickiness ----------------------------------------------------
    def lifecycle(self, *, start: dt.date, end: dt.date, period: str, tz: str,
                  event: str) -> list[Row]:
        active: dict[str, set[dt.date]] = {
            c: {period_of(d, period) for d in days}
            for c, days in self.days(event, tz, before=end).items()}
        rows = []
        for p in whole_periods(start, end, period):
            before = shift(p, -1, period)
            counts = dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0)
            for periods in active.values():
                now, then = p in periods, before in periods
                if now and p == min(periods):
                    counts["new"] += 1
                elif now and then:
                    counts["returning"] += 1
                elif now:
                    counts["resurrecting"] += 1
                elif then:
                    counts["dormant"] += 1
            rows.append({"period_start": p, **counts,
                         "active": counts["new"] + counts["returning"] + counts["resurrecting"]})
        return rows

    def stickiness(self, *, start: dt.date, end: dt.date, period: str, tz: str,
                   event: str) -> list[Row]:
        ranged = set(whole_periods(start, end, period))
        per_customer = [len({period_of(d, period) for d in days} & ranged)
                        for days in self.days(event, tz).values()]
        active = [n for n in per_customer if n > 0]
        rows = []
        for n in range(1, len(ranged) + 1):
            exactly = sum(1 for m in active if m == n)
            rows.append({"active_periods": n, "customers": exactly,
                         "customers_at_least": sum(1 for m in active if m >= n),
                         "share_of_active": exactly / len(active) if active else None})
        return rows


def mean_row(rows: list[Row], column: str, basis: str, weighted: bool) -> list[Any]:
    """The mean row of a reference matrix, per column index (k or j), from its cells."""
    by_cohort: dict[dt.date, dict[int, Row]] = defaultdict(dict)
    for row in rows:
        by_cohort[row["cohort"]][row[column]] = row
    width = max((len(cells) for cells in by_cohort.values()), default=0)
    means: list[Any] = []
    for k in range(width):
        known = [cells for cells in by_cohort.values() if cells[k]["returned"] is not None]
        if weighted:
            if basis == "cohort":
                total = sum(c[k]["cohort_size"] for c in known)
            else:
                total = sum(c[k - 1]["returned"] for c in known) if k else 0
            means.append(sum(c[k]["returned"] for c in known) / total if total else None)
        else:
            key = f"share_of_{basis}"
            shares = [c[k][key] for c in by_cohort.values() if c[k][key] is not None]
            means.append(sum(shares) / len(shares) if shares else None)
    return means
