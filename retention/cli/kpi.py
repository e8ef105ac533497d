"""`retention kpi NAME|all --start --end`: the KPIs of kpis.md, computed in ClickHouse.

JSON output is a contract for scripts: one object mapping each output name to a number
(null when undefined, e.g. no buyer in the period); with --by, a list of such objects, each
with its "period_start"; cohort_retention gives a list of cohort rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import click

from retention.cli import exit_codes
from retention.cli.common import FORMAT_OPTION, fail, render
from retention.kpis import KPIS, Kpi, Period, Unit, run_all, run_matrix, split_period
from retention.kpis.runner import Granularity
from retention.query import QueryError, QueryRunner, open_runner
from retention.settings import Settings, get_settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@contextmanager
def backend(settings: Settings) -> Iterator[QueryRunner]:
    """A runner for the duration of a command; database failures exit with BACKEND (3)."""
    from sinks.migrations import MigrationError

    try:
        runner = open_runner(settings)
    except Exception as exc:  # any failure to reach or migrate ClickHouse
        kind = "migration failed" if isinstance(exc, MigrationError) else "cannot open ClickHouse"
        fail(f"{kind}: {exc}", exit_codes.BACKEND)
    try:
        yield runner
    except QueryError as exc:
        fail(f"query failed: {exc}", exit_codes.BACKEND)
    finally:
        runner.close()


def _format_value(unit: Unit, value: float | None) -> str:
    if value is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{value * 100:.2f}%"
    if unit is Unit.HOURS:
        return f"{value:.2f} h"
    return f"{value:,.2f}"


def _csv(columns: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def _emit_scalar(kpi_names: list[str], periods: list[Period], by: str | None,
                 runner: QueryRunner, settings: Settings, fmt: str) -> None:
    per_period: list[tuple[Period, list[Any]]] = []
    for period in periods:
        per_period.append((period, run_all(runner, period, settings, names=kpi_names)))
    if fmt == "json":
        objects = [{v.output: v.value for v in values} for _, values in per_period]
        if by is None:
            click.echo(json.dumps(objects[0]))
        else:
            click.echo(json.dumps([{"period_start": p.start.isoformat(), **o}
                                   for (p, _), o in zip(per_period, objects, strict=True)]))
        return
    if by is None and fmt == "table":
        period, values = per_period[0]
        rows = []
        for v in values:
            bench = v.kpi.benchmark
            inside = {True: "inside", False: "OUTSIDE", None: ""}[v.inside]
            if bench and bench.annual and v.value is not None and v.inside is None:
                inside = f"n/a ({period.days}-day period)"
            rows.append([v.output, _format_value(v.kpi.unit, v.value),
                         bench.describe() if bench else "", inside])
        click.echo(f"period {period.start} .. {period.end} (end excluded, UTC)")
        click.echo(render(["KPI", "value", "benchmark", "verdict"], rows, "table"))
        return
    outputs = [v.output for v in per_period[0][1]]
    if by is None:  # csv
        _, values = per_period[0]
        click.echo(_csv(["kpi", "value", "benchmark", "inside"],
                        [[v.output, v.value, v.kpi.benchmark.describe() if v.kpi.benchmark
                          else "", "" if v.inside is None else v.inside] for v in values]))
        return
    rows = [[p.start.isoformat(), *(v.value for v in values)] for p, values in per_period]
    if fmt == "csv":
        click.echo(_csv(["period_start", *outputs], rows))
    else:
        units = [v.kpi.unit for v in per_period[0][1]]
        shown = [[r[0], *(_format_value(u, x) for u, x in zip(units, r[1:], strict=True))]
                 for r in rows]
        click.echo(render(["period_start", *outputs], shown, "table"))


def _emit_matrix(kpi: Kpi, period: Period, runner: QueryRunner, settings: Settings,
                 fmt: str) -> None:
    rows = run_matrix(runner, kpi, period, settings)
    if fmt == "json":
        click.echo(json.dumps(rows))
        return
    columns = list(kpi.outputs)
    values = [[row[c] for c in columns] for row in rows]
    if fmt == "csv":
        click.echo(_csv(columns, values))
        return
    header = ["cohort", "customers", *(f"m{k}" for k in range(12))]
    shown = [[r[0][:7], r[1], *("" if x is None else f"{x * 100:.1f}%" for x in r[2:])]
             for r in values]
    click.echo(f"cohorts with a first order in {period.start} .. {period.end}; cell k = share "
               "ordering in month k after the cohort month")
    click.echo(render(header, shown, "table"))


@click.command("kpi")
@click.argument("name", type=click.Choice([*KPIS, "all"]), metavar="NAME|all")
@click.option("--start", type=_DATE, required=True, help="First day of the period (UTC).")
@click.option("--end", type=_DATE, required=True, help="Day after the period (excluded).")
@click.option("--by", type=click.Choice(["month", "quarter"]), default=None,
              help="One value per calendar month / quarter of the period.")
@FORMAT_OPTION
def kpi(name: str, start: dt.datetime, end: dt.datetime, by: str | None, fmt: str) -> None:
    """Compute a retention KPI (or all of them) for the period [START, END).

    NAME is one of the KPIs of kpis.md; `all` prints every scalar KPI with its benchmark.
    cohort_retention prints a matrix: cohort month x months 0..11 after it.
    """
    try:
        period = Period(start.date(), end.date())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start/--end") from exc
    chosen = KPIS.get(name)
    if chosen is not None and chosen.matrix and by is not None:
        raise click.UsageError(f"{name} is already broken down by month; drop --by")
    settings = get_settings()
    periods = split_period(period, cast(Granularity, by)) if by else [period]
    with backend(settings) as runner:
        if chosen is not None and chosen.matrix:
            _emit_matrix(chosen, period, runner, settings, fmt)
        else:
            names = [name] if chosen is not None else None
            _emit_scalar(names or [k.name for k in KPIS.values() if not k.matrix], periods,
                         by, runner, settings, fmt)
