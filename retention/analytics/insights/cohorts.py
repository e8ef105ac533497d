"""The retention insight: cohorts x intervals (or day brackets), from sql/retention/.

Which file runs is the query's shape: first-time or recurring cohorts over calendar
intervals (`first_occurrence.sql`, `recurring.sql`), or day brackets for either
(`brackets.sql`). The files count; this module reads their rows into a table and adds the
mean rows, which PostHog and Amplitude show under the matrix.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from retention.analytics.insights.options import PeriodRange, as_date, check_event
from sinks.reader import QueryRunner

CohortType = Literal["first", "recurring"]
Mode = Literal["on", "on_or_after"]
# What a percentage is taken of: the cohort's size, or the previous interval's count.
Basis = Literal["cohort", "previous"]
COHORT_TYPES: tuple[CohortType, ...] = get_args(CohortType)
MODES: tuple[Mode, ...] = get_args(Mode)
BASES: tuple[Basis, ...] = get_args(Basis)

_BRACKET = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True)
class Bracket:
    """Days first_day..last_day after a member's start day, both included."""

    first_day: int
    last_day: int

    @property
    def label(self) -> str:
        if self.first_day == self.last_day:
            return str(self.first_day)
        return f"{self.first_day}-{self.last_day}"


def parse_brackets(text: str) -> tuple[Bracket, ...]:
    """"1-7,8-30,31-90" (a leading "0", day 0, is the cohort column and may be written) as
    brackets: increasing, not overlapping, from day 1."""
    parts = [p.strip() for p in text.split(",")]
    if parts and parts[0] == "0":
        parts = parts[1:]
    brackets: list[Bracket] = []
    for part in parts:
        match = _BRACKET.fullmatch(part)
        if match is None:
            raise ValueError(f"a bracket is a day or a range of days like 8-30, not {part!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ValueError(f"bracket {part}: days run from 1 upwards, first <= last")
        if brackets and first <= brackets[-1].last_day:
            raise ValueError(f"bracket {part} overlaps or precedes {brackets[-1].label}")
        brackets.append(Bracket(first, last))
    if not brackets:
        raise ValueError("give at least one bracket, e.g. 1-7,8-30,31-90")
    return tuple(brackets)


@dataclass(frozen=True)
class CohortQuery:
    """One retention insight: which cohorts, which events, which intervals, how counted."""

    range: PeriodRange
    cohort: CohortType = "first"
    intervals: int = 12
    # Day brackets instead of calendar intervals (then `intervals` is not used).
    brackets: tuple[Bracket, ...] = ()
    start_event: str = "purchase"
    return_event: str = "purchase"
    mode: Mode = "on"

    def __post_init__(self) -> None:
        if self.cohort not in COHORT_TYPES:
            raise ValueError(f"cohort is first or recurring, not {self.cohort!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode is on or on_or_after, not {self.mode!r}")
        if not 1 <= self.intervals <= 1000:
            raise ValueError("intervals runs from 1 to 1000")
        check_event(self.start_event)
        check_event(self.return_event)

    @property
    def operation(self) -> str:
        """The named operation (sql/retention/<shape>.sql) that answers the query."""
        if self.brackets:
            return "retention/brackets"
        return "retention/first_occurrence" if self.cohort == "first" else "retention/recurring"

    def parameters(self) -> dict[str, Any]:
        """Values of exactly the parameters the operation's file binds."""
        values = {**self.range.parameters(), "start_event": self.start_event,
                  "return_event": self.return_event, "mode": self.mode}
        if self.brackets:
            return {**values, "cohort": self.cohort,
                    "brackets": ",".join(b.label for b in self.brackets)}
        return {**values, "intervals": self.intervals}

    @property
    def labels(self) -> tuple[str, ...]:
        """Column labels: interval k, or the bracket's days; "0" is the cohort itself."""
        if self.brackets:
            return ("0", *(b.label for b in self.brackets))
        return tuple(str(k) for k in range(self.intervals + 1))


@dataclass(frozen=True)
class CohortRow:
    cohort: dt.date
    size: int
    # Per column: customers counted, None while the interval is not over.
    counts: tuple[int | None, ...]
    share_of_cohort: tuple[float | None, ...]
    share_of_previous: tuple[float | None, ...]

    def shares(self, basis: Basis) -> tuple[float | None, ...]:
        return self.share_of_cohort if basis == "cohort" else self.share_of_previous


@dataclass(frozen=True)
class RetentionTable:
    query: CohortQuery
    rows: tuple[CohortRow, ...] = field(default=())

    @property
    def labels(self) -> tuple[str, ...]:
        return self.query.labels

    def mean(self, basis: Basis, *, weighted: bool) -> list[float | None]:
        """The mean row: per column, over the cohorts whose cell is known. Simple: the mean
        of their percentages. Weighted by cohort size: their counts over their sizes (over
        the previous column's counts for `previous`), so big cohorts weigh more."""
        means: list[float | None] = []
        for k in range(len(self.labels)):
            if weighted:
                known = [r for r in self.rows if r.counts[k] is not None]
                numerator = sum(r.counts[k] or 0 for r in known)
                if basis == "cohort":
                    denominator = sum(r.size for r in known)
                else:
                    denominator = 0 if k == 0 else sum(r.counts[k - 1] or 0 for r in known)
                means.append(numerator / denominator if denominator else None)
            else:
                shares = [s for r in self.rows if (s := r.shares(basis)[k]) is not None]
                means.append(math.fsum(shares) / len(shares) if shares else None)
        return means


def _number(value: Any) -> float | None:
    # Through the worker a NaN would arrive as null anyway.
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def run_cohorts(runner: QueryRunner, query: CohortQuery) -> RetentionTable:
    """Run the query's SQL file and read its long rows (cohort, column) into a table."""
    result = runner.run(query.operation, query.parameters())
    column = "j" if query.brackets else "k"
    cells: dict[dt.date, dict[int, dict[str, Any]]] = {}
    for row in result.dicts():
        cells.setdefault(as_date(row["cohort"]), {})[int(row[column])] = row
    rows = []
    for cohort, by_column in sorted(cells.items()):
        ordered = [by_column[k] for k in range(len(query.labels))]
        rows.append(CohortRow(
            cohort=cohort,
            size=int(ordered[0]["cohort_size"]),
            counts=tuple(None if c["returned"] is None else int(c["returned"]) for c in ordered),
            share_of_cohort=tuple(_number(c["share_of_cohort"]) for c in ordered),
            share_of_previous=tuple(_number(c["share_of_previous"]) for c in ordered),
        ))
    return RetentionTable(query, tuple(rows))
