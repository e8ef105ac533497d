"""`retention lifecycle`: new, returning, resurrecting and dormant customers per period."""

from __future__ import annotations

import datetime as dt
import json

import click

from retention.analytics.insights import run_lifecycle
from retention.cli.common import FORMAT_OPTION, render
from retention.cli.insight_options import event_option, period_range, range_options
from retention.cli.kpi import backend
from retention.settings import get_settings

COLUMNS = ["period_start", "new", "returning", "resurrecting", "dormant", "active"]


@click.command("lifecycle")
@range_options(default_period="month")
@event_option("--event", help="The event that makes a customer active in a period.")
@FORMAT_OPTION
def lifecycle(start: dt.datetime, end: dt.datetime, period: str, tz: str | None, event: str,
              fmt: str) -> None:
    """Customers per period by lifecycle status, as PostHog defines them.

    new: first-ever active period; returning: active in this and the previous period;
    resurrecting: active again after at least one period away; dormant: active in the
    previous period, not in this one. Whole periods in [START, END) only.
    """
    settings = get_settings()
    periods = period_range(settings, start, end, period, tz)
    with backend(settings) as runner:
        rows = [[p.period_start.isoformat(), p.new, p.returning, p.resurrecting, p.dormant,
                 p.active] for p in run_lifecycle(runner, periods, event)]
    if fmt == "json":
        click.echo(json.dumps([dict(zip(COLUMNS, r, strict=True)) for r in rows]))
        return
    if fmt == "table":
        click.echo(f"customers by lifecycle status, {event} per {period} ({periods.tz})")
    click.echo(render(COLUMNS, rows, fmt))
