"""Stickiness (sql/retention/stickiness.sql): customers by the number of periods of a range
they were active in, as PostHog's stickiness insight counts them."""

from __future__ import annotations

from dataclasses import dataclass

from retention.analytics.insights.options import PeriodRange, check_event
from sinks.reader import QueryRunner

OPERATION = "retention/stickiness"


@dataclass(frozen=True)
class StickinessRow:
    active_periods: int
    # Active in exactly / at least `active_periods` of the range's periods.
    customers: int
    customers_at_least: int
    # customers / customers active at least once; None when nobody was.
    share_of_active: float | None


def run_stickiness(runner: QueryRunner, periods: PeriodRange,
                   event: str = "purchase") -> list[StickinessRow]:
    """One entry per n = 1 .. the number of whole periods in the range, zeros included."""
    result = runner.run(OPERATION, {**periods.parameters(), "event": check_event(event)})
    return [StickinessRow(int(r["active_periods"]), int(r["customers"]),
                          int(r["customers_at_least"]),
                          None if r["share_of_active"] is None else float(r["share_of_active"]))
            for r in result.dicts()]
