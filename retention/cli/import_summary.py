"""What `retention import` reports: the input it read, the outputs it caused, the KPIs."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, get_args

import click

from retention.analytics.kpis import KpiValue, Period
from retention.cli.common import render
from retention.cli.kpi import emit_period
from schemas import InputEvent
from schemas.alerts import MilestoneKind, RuleId
from sinks.reader import QueryRunner

# (topic, kind) -> (historical, live)
OutputCounts = dict[tuple[str, str], tuple[int, int]]


@dataclass(frozen=True)
class InvalidLine:
    file: str
    line: int
    reason: str


@dataclass
class InputTally:
    """Counts of the lines sent, kept as they are sent (memory: one entry per customer)."""

    # Only the first few invalid lines are kept to show; all are counted.
    invalid_shown_max: int
    events: Counter[str] = field(default_factory=Counter)
    customers: set[str] = field(default_factory=set)
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    invalid: int = 0
    invalid_shown: list[InvalidLine] = field(default_factory=list)
    # (name as given, lines read) per input, in the order read
    files: list[tuple[str, int]] = field(default_factory=list)

    def sent(self, family: str, event: InputEvent) -> None:
        self.events[family] += 1
        self.customers.add(event.customer_id)
        at = event.occurred_at
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)

    def rejected(self, file: str, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.invalid_shown) < self.invalid_shown_max:
            self.invalid_shown.append(InvalidLine(file, line, reason))


def last_complete_year(first: dt.datetime | None, last: dt.datetime | None) -> Period | None:
    """The last calendar year the history covers whole, taking the history to span the
    days of its first and last events; None when it covers none."""
    if first is None or last is None:
        return None
    year = (last.date() + dt.timedelta(days=1)).year - 1
    if dt.date(year, 1, 1) < first.date():
        return None
    return Period(dt.date(year, 1, 1), dt.date(year + 1, 1, 1))


def output_counts(runner: QueryRunner) -> OutputCounts:
    result = runner.run("cookbook/outputs_by_delivery", {})
    return {(topic, kind): (int(hist), int(live)) for topic, kind, hist, live in result.rows}


def outputs_added(before: OutputCounts, after: OutputCounts) -> OutputCounts:
    """Outputs stored since `before` (the import's, and those of any live traffic in the
    meantime), every rule and milestone kind listed (zeros too: a rule that never fired is
    news as well)."""
    kinds = [("churn-risk", r) for r in get_args(RuleId)]
    kinds += [("milestones", m) for m in get_args(MilestoneKind)]
    kinds += sorted(set(after) - set(kinds))
    added: OutputCounts = {}
    for key in kinds:
        h1, l1 = after.get(key, (0, 0))
        h0, l0 = before.get(key, (0, 0))
        added[key] = (h1 - h0, l1 - l0)
    return added


def _iso(at: dt.datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


@dataclass
class ImportSummary:
    tally: InputTally
    publish_s: float
    # None when the worker did not finish in time: outputs and KPIs would be partial.
    wait_s: float | None = None
    outputs: OutputCounts | None = None
    kpi_period: Period | None = None
    kpis: list[KpiValue] | None = None

    def as_json(self) -> dict[str, Any]:
        t = self.tally
        outputs = None if self.outputs is None else [
            {"topic": topic, "kind": kind, "historical": h, "live": live}
            for (topic, kind), (h, live) in self.outputs.items()]
        kpis = None if self.kpis is None or self.kpi_period is None else {
            "period": {"start": self.kpi_period.start.isoformat(),
                       "end": self.kpi_period.end.isoformat()},
            "values": {v.output: v.value for v in self.kpis}}
        return {
            "files": [{"file": name, "lines": n} for name, n in t.files],
            "events": dict(sorted(t.events.items())),
            "events_total": sum(t.events.values()),
            "customers": len(t.customers),
            "time_range": {"first": _iso(t.first), "last": _iso(t.last)},
            "invalid_lines": {"count": t.invalid,
                              "shown": [asdict(i) for i in t.invalid_shown]},
            "outputs": outputs,
            "kpis": kpis,
            "seconds": {"publish": round(self.publish_s, 1),
                        "worker": None if self.wait_s is None else round(self.wait_s, 1)},
        }

    def echo_table(self) -> None:
        t = self.tally
        worker = ("" if self.wait_s is None
                  else f"; the worker finished {self.wait_s:.1f} s later")
        click.echo(f"import: {sum(t.events.values()):,} events sent in {self.publish_s:.1f} s"
                   + worker)
        rows: list[list[Any]] = [[f"  {name}", f"{n:,} lines"]
                                 for name, n in t.files]
        by_type = ", ".join(f"{family} {n:,}" for family, n in sorted(t.events.items()))
        rows += [["events", by_type or "none"],
                 ["customers", f"{len(t.customers):,}"],
                 ["time range", f"{_iso(t.first)} .. {_iso(t.last)}" if t.first else "none"],
                 ["invalid lines", f"{t.invalid:,}" + (" (not sent)" if t.invalid else "")]]
        rows += [[f"  {i.file}:{i.line}", i.reason] for i in t.invalid_shown]
        if t.invalid > len(t.invalid_shown):
            rows.append(["", f"... and {t.invalid - len(t.invalid_shown):,} more"])
        width = max(len(label) for label, _ in rows) + 2
        click.echo("\n".join(f"{label:<{width}}{value}".rstrip() for label, value in rows))
        if self.outputs is not None:
            click.echo("\noutputs of this import: historical = stored, not published unless "
                       "configured; live = published")
            click.echo(render(["topic", "kind", "historical", "live"],
                              [[topic, kind, h, live]
                               for (topic, kind), (h, live) in self.outputs.items()],
                              "table"))
        if self.kpis is not None and self.kpi_period is not None:
            click.echo(f"\nKPIs of {self.kpi_period.start.year}, the last complete calendar "
                       "year of the history")
            emit_period(self.kpis, self.kpi_period, "table")
        elif self.outputs is not None:
            click.echo("\nno KPI table: the history covers no complete calendar year")
