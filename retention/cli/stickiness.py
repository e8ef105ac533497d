"""`retention stickiness`: customers by the number of periods of a range they were active in."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from retention.analytics.insights import run_stickiness
from retention.cli.common import FORMAT_OPTION, render
from retention.cli.insight_options import event_option, percent, period_range, range_options
from retention.cli.kpi import backend
from retention.settings import get_settings

COLUMNS = ["active_periods", "customers", "customers_at_least", "share_of_active"]


@click.command("stickiness")
@range_options(default_period="week")
@event_option("--event", help="The event that makes a customer active in a period.")
@FORMAT_OPTION
def stickiness(start: dt.datetime, end: dt.datetime, period: str, tz: str | None,
               event: str, fmt: str) -> None:
    """How many customers were active in exactly n of the range's periods (PostHog's
    stickiness), n = 1 .. the number of whole periods in [START, END)."""
    settings = get_settings()
    periods = period_range(settings, start, end, period, tz)
    with backend(settings) as runner:
        found = run_stickiness(runner, periods, event)
    rows: list[list[Any]] = [[s.active_periods, s.customers, s.customers_at_least,
                              s.share_of_active] for s in found]
    if fmt == "json":
        click.echo(json.dumps([dict(zip(COLUMNS, r, strict=True)) for r in rows]))
        return
    if fmt == "table":
        click.echo(f"customers by the number of {period}s they were active in "
                   f"(event: {event}, {periods.tz})")
        rows = [[*r[:3], percent(r[3])] for r in rows]
    click.echo(render(COLUMNS, rows, fmt))
