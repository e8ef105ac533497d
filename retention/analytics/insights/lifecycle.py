"""Lifecycle per period (sql/retention/lifecycle.sql): new, returning, resurrecting and
dormant customers, as PostHog's lifecycle insight defines them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from retention.analytics.insights.options import PeriodRange, as_date, check_event
from sinks.reader import QueryRunner

OPERATION = "retention/lifecycle"


@dataclass(frozen=True)
class LifecyclePeriod:
    period_start: dt.date
    new: int
    returning: int
    resurrecting: int
    dormant: int

    @property
    def active(self) -> int:
        return self.new + self.returning + self.resurrecting


def run_lifecycle(runner: QueryRunner, periods: PeriodRange,
                  event: str = "purchase") -> list[LifecyclePeriod]:
    """One entry per whole period of the range, periods without customers included."""
    result = runner.run(OPERATION, {**periods.parameters(), "event": check_event(event)})
    return [LifecyclePeriod(as_date(r["period_start"]), int(r["new"]), int(r["returning"]),
                            int(r["resurrecting"]), int(r["dormant"]))
            for r in result.dicts()]
