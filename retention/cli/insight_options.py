"""Options the retention insight commands (`cohorts`, `lifecycle`, `stickiness`) share: the
range of whole periods, the reporting time zone, and the event vocabulary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from retention.analytics.insights import EVENTS, PERIODS, Period, PeriodRange, check_timezone
from retention.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
_DATE = click.DateTime(formats=["%Y-%m-%d"])


def event_option(*names: str, help: str) -> Callable[[F], F]:
    """An event option: purchase (the default), support[.ACTION], survey[.nps|.csat] or any."""
    return click.option(*names, type=click.Choice(EVENTS), default="purchase",
                        show_default=True, metavar="EVENT",
                        help=f"{help} One of purchase, support, support.ACTION (opened, "
                             "replied, resolved, reopened, escalated, closed), survey, "
                             "survey.nps, survey.csat, any.")


def range_options(default_period: Period) -> Callable[[F], F]:
    """--start, --end, --period and --tz."""

    def decorate(command: F) -> F:
        for option in reversed([
            click.option("--start", type=_DATE, required=True,
                         help="First local day of the range."),
            click.option("--end", type=_DATE, required=True,
                         help="Local day after the range (excluded); periods not over by "
                              "then are left out."),
            click.option("--period", type=click.Choice(PERIODS), default=default_period,
                         show_default=True, help="Days, weeks (from Monday) or months."),
            click.option("--tz", default=None, metavar="ZONE",
                         help="IANA time zone periods are cut in [default: "
                              "RETENTION_REPORTING_TIMEZONE, UTC]."),
        ]):
            command = option(command)
        return command

    return decorate


def period_range(settings: Settings, start: dt.datetime, end: dt.datetime, period: str,
                 tz: str | None) -> PeriodRange:
    """The options as a PeriodRange; a bad range or zone is a usage error (exit 2)."""
    try:
        zone = check_timezone(tz) if tz is not None else settings.reporting_timezone
        return PeriodRange(start.date(), end.date(), cast(Period, period), zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start/--end/--tz") from exc


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"
