"""`retention cohorts`: the retention insight, cohorts x intervals (or day brackets).

JSON output is a contract for scripts: {"labels": [...], "cohorts": {cohort: {"size",
"counts", "shares"}}, "mean": {"simple", "weighted"}} plus the query's options; a share is
a fraction, null where a cell's interval is not over yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any, cast

import click

from retention.analytics.insights import (
    BASES,
    COHORT_TYPES,
    Basis,
    CohortQuery,
    CohortType,
    RetentionTable,
    parse_brackets,
    run_cohorts,
)
from retention.cli.common import FORMAT_OPTION, render
from retention.cli.insight_options import event_option, percent, period_range, range_options
from retention.cli.kpi import backend
from retention.settings import get_settings

DEFAULT_INTERVALS = 12


def _json(table: RetentionTable, basis: Basis) -> str:
    q = table.query
    return json.dumps({
        "cohort": q.cohort, "period": q.range.period, "timezone": q.range.tz,
        "start_event": q.start_event, "return_event": q.return_event, "mode": q.mode,
        "percent_of": basis, "labels": list(table.labels),
        "cohorts": {r.cohort.isoformat(): {"size": r.size, "counts": list(r.counts),
                                           "shares": list(r.shares(basis))}
                    for r in table.rows},
        "mean": {"simple": table.mean(basis, weighted=False),
                 "weighted": table.mean(basis, weighted=True)},
    })


def _csv(table: RetentionTable, basis: Basis) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    labels = table.labels
    writer.writerow(["cohort", "size", *(f"count_{x}" for x in labels),
                     *(f"share_{x}" for x in labels)])
    for r in table.rows:
        writer.writerow([r.cohort.isoformat(), r.size, *r.counts, *r.shares(basis)])
    blank = [""] * len(labels)
    writer.writerow(["mean", "", *blank, *table.mean(basis, weighted=False)])
    writer.writerow(["weighted_mean", "", *blank, *table.mean(basis, weighted=True)])
    return out.getvalue().rstrip("\n")


def _table(table: RetentionTable, basis: Basis) -> str:
    q = table.query
    unit = "day" if q.brackets else q.range.period
    header = ["cohort", "size", *(f"{unit} {x}" for x in table.labels)]
    rows: list[list[Any]] = [[r.cohort.isoformat(), r.size, *map(percent, r.shares(basis))]
                             for r in table.rows]
    rows.append(["mean", "", *map(percent, table.mean(basis, weighted=False))])
    rows.append(["weighted mean", "", *map(percent, table.mean(basis, weighted=True))])
    kind = "first-ever" if q.cohort == "first" else "every"
    cohorts_of = {"day": "daily", "week": "weekly", "month": "monthly"}[q.range.period]
    returned = "on or after" if q.mode == "on_or_after" else "in"
    of = "the cohort" if basis == "cohort" else "the previous column"
    intro = (f"{cohorts_of} cohorts by {kind} {q.start_event} ({q.range.tz}); % of {of} "
             f"with a {q.return_event} {returned} each "
             f"{'day bracket after their day 0' if q.brackets else q.range.period}; "
             "blank = not over by --end")
    return intro + "\n" + render(header, rows, "table")


@click.command("cohorts")
@range_options(default_period="month")
@click.option("--cohort", "cohort_type", type=click.Choice(COHORT_TYPES), default="first",
              show_default=True,
              help="first: by each customer's first-ever start event; recurring: every "
                   "period the customer did it.")
@click.option("--intervals", type=click.IntRange(1, 1000), default=None,
              help=f"Intervals after the cohort's [default: {DEFAULT_INTERVALS}].")
@click.option("--brackets", default=None, metavar="DAYS",
              help="Day brackets after each customer's day 0 instead of intervals, "
                   "e.g. 1-7,8-30,31-90.")
@event_option("--start-event", help="The event that puts a customer in a cohort.")
@event_option("--return-event", help="The event that counts as coming back.")
@click.option("--on-or-after", "on_or_after", is_flag=True,
              help="Count a customer in every interval up to their last return (unbounded), "
                   "not only in the intervals they returned in.")
@click.option("--percent-of", "basis", type=click.Choice(BASES), default="cohort",
              show_default=True, help="Percentages of the cohort's size or of the previous "
                                      "column's count.")
@FORMAT_OPTION
def cohorts(start: dt.datetime, end: dt.datetime, period: str, tz: str | None,
            cohort_type: str, intervals: int | None, brackets: str | None, start_event: str,
            return_event: str, on_or_after: bool, basis: str, fmt: str) -> None:
    """Retention by cohort, as PostHog, Amplitude and Mixpanel show it.

    Cohorts are the whole periods in [START, END); a cell counts the cohort's customers
    who came back in that interval (or, with --brackets, in those days after their day 0).
    """
    if brackets is not None and intervals is not None:
        raise click.UsageError("--brackets replaces --intervals: give one of them")
    settings = get_settings()
    periods = period_range(settings, start, end, period, tz)
    try:
        query = CohortQuery(
            periods, cast(CohortType, cohort_type), intervals or DEFAULT_INTERVALS,
            parse_brackets(brackets) if brackets is not None else (), start_event,
            return_event, "on_or_after" if on_or_after else "on")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--brackets") from exc
    with backend(settings) as runner:
        table = run_cohorts(runner, query)
    chosen = cast(Basis, basis)
    click.echo({"json": _json, "csv": _csv, "table": _table}[fmt](table, chosen))
