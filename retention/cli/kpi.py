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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar, cast

import click

from retention.analytics.kpis import (
    KPIS,
    Kpi,
    KpiValue,
    Period,
    Unit,
    run_all,
    run_matrix,
    split_period,
)
from retention.analytics.kpis.runner import Granularity
from retention.cli import exit_codes
from retention.cli.common import FORMAT_OPTION, fail, render
from retention.settings import Settings, get_settings
from sinks.reader import ClientRunner, QueryError, QueryRunner, open_runner, worker_holding_folder

_DATE = click.DateTime(formats=["%Y-%m-%d"])


class _Closable(Protocol):
    def close(self) -> None: ...


R = TypeVar("R", bound=_Closable)


@contextmanager
def _failing_with_backend(opened: Callable[[], R]) -> Iterator[R]:
    """`opened()` for the duration of a command; database failures exit with BACKEND (3)."""
    from sinks.migrations import MigrationError

    try:
        runner = opened()
    except Exception as exc:  # any failure to reach or migrate ClickHouse
        kind = "migration failed" if isinstance(exc, MigrationError) else "cannot open ClickHouse"
        fail(f"{kind}: {exc}", exit_codes.BACKEND)
    try:
        yield runner
    except QueryError as exc:
        fail(f"query failed: {exc}", exit_codes.BACKEND)
    finally:
        runner.close()


def backend(settings: Settings) -> AbstractContextManager[QueryRunner]:
    """Named read operations: the worker's, or a (read-only, when configured) client's."""
    return _failing_with_backend(lambda: open_runner(settings))


def writer(settings: Settings) -> AbstractContextManager[ClientRunner]:
    """The writer's own client; refused while a worker holds the embedded folder."""
    if worker_holding_folder(settings) is not None:
        fail("a running worker holds the embedded database and serves read operations only; "
             "stop it (or use a ClickHouse server) to write", exit_codes.BACKEND)
    return _failing_with_backend(lambda: ClientRunner(settings))


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


def _verdict(value: KpiValue, period: Period) -> str:
    bench = value.kpi.benchmark
    if bench and bench.annual and value.value is not None and value.inside is None:
        return f"n/a ({period.days}-day period)"
    return {True: "inside", False: "OUTSIDE", None: ""}[value.inside]


def emit_period(values: list[KpiValue], period: Period, fmt: str) -> None:
    """One period: JSON {output: value}, or a KPI / value / benchmark / verdict table."""
    if fmt == "json":
        click.echo(json.dumps({v.output: v.value for v in values}))
        return
    benchmarks = [v.kpi.benchmark.describe() if v.kpi.benchmark else "" for v in values]
    if fmt == "csv":
        click.echo(_csv(["kpi", "value", "benchmark", "inside"],
                        [[v.output, v.value, b, "" if v.inside is None else v.inside]
                         for v, b in zip(values, benchmarks, strict=True)]))
        return
    rows = [[v.output, _format_value(v.kpi.unit, v.value), b, _verdict(v, period)]
            for v, b in zip(values, benchmarks, strict=True)]
    click.echo(f"period {period.start} .. {period.end} (end excluded, UTC)")
    click.echo(render(["KPI", "value", "benchmark", "verdict"], rows, "table"))


def _emit_periods(per_period: list[tuple[Period, list[KpiValue]]], fmt: str) -> None:
    """--by: JSON [{period_start, output: value}], or one row per period."""
    if fmt == "json":
        click.echo(json.dumps([{"period_start": p.start.isoformat(),
                                **{v.output: v.value for v in values}}
                               for p, values in per_period]))
        return
    first = per_period[0][1]
    columns = ["period_start", *(v.output for v in first)]
    if fmt == "csv":
        click.echo(_csv(columns, [[p.start.isoformat(), *(v.value for v in values)]
                                  for p, values in per_period]))
        return
    if len(first) > 2:  # `all --by`: one row per KPI reads better than a very wide table
        rows = [[v.output, *(_format_value(v.kpi.unit, values[i].value)
                             for _, values in per_period)] for i, v in enumerate(first)]
        click.echo(render(["KPI", *(p.start.isoformat() for p, _ in per_period)], rows,
                          "table"))
        return
    rows = [[p.start.isoformat(), *(_format_value(v.kpi.unit, v.value) for v in values)]
            for p, values in per_period]
    click.echo(render(columns, rows, "table"))


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
            per_period = [(p, run_all(runner, p, settings, names=names)) for p in periods]
            if by is None:
                emit_period(per_period[0][1], period, fmt)
            else:
                _emit_periods(per_period, fmt)
