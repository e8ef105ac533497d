"""`retention report --start --end --out FILE`: the KPIs, cohorts, trends, customers at risk
and alert counts of a period as one self-contained HTML page (retention/report/).

It reads through named operations only, like `retention kpi`: on the running worker while
it holds the embedded chDB folder, on ClickHouse directly otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import click

from retention.analytics.kpis import Period
from retention.cli.kpi import backend
from retention.cli.progress import make_progress
from retention.report.data import gather, step_count
from retention.report.page import render_page
from retention.settings import Settings, get_settings
from sinks.reader import worker_holding_folder

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _source(settings: Settings) -> str:
    """Where the numbers come from, without any address or credential."""
    if worker_holding_folder(settings) is not None:
        return "the embedded chDB folder, through the running worker"
    if settings.clickhouse.is_embedded:
        return "the embedded chDB folder"
    return f"a ClickHouse server (database {settings.clickhouse.database_name})"


def _write(out: Path, html: str) -> None:
    """Whole or not at all: a half-written report is never left under `out`'s name."""
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)


@click.command("report")
@click.option("--start", type=_DATE, required=True, help="First day of the period (UTC).")
@click.option("--end", type=_DATE, required=True, help="Day after the period (excluded).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="report.html",
              show_default=True, help="The HTML file to write.")
@click.option("--top", type=click.IntRange(1, 1000), default=25, show_default=True,
              help="How many customers at risk to list (highest risk score first).")
@click.option("--min-risk-score", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Lowest risk score listed (1 = any open risk episode).")
def report(start: dt.datetime, end: dt.datetime, out: Path, top: int,
           min_risk_score: int) -> None:
    """Write the retention report for [START, END) to one HTML file.

    KPI tiles against their benchmarks, the cohort heatmap and retention curve, monthly
    trends, the customers at risk now with their reasons, and alert and milestone counts.
    Every script and style is inlined: the file opens offline and can be mailed.
    """
    try:
        period = Period(start.date(), end.date())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start/--end") from exc
    if not out.parent.is_dir():
        raise click.BadParameter(f"no folder {out.parent}", param_hint="--out")
    settings = get_settings()
    started = time.monotonic()
    progress = make_progress()
    progress.task("report", total=step_count(period))
    try:
        with backend(settings) as runner:
            data = gather(runner, period, settings, top=top, min_risk_score=min_risk_score,
                          step=progress.step)
    finally:
        progress.close()
    html = render_page(data, dt.datetime.now(dt.UTC), _source(settings))
    _write(out, html)
    click.echo(f"wrote {out} ({len(html.encode()) / 1e6:.1f} MB) in "
               f"{time.monotonic() - started:.1f} s: {len(data.cohorts)} cohorts, "
               f"{len(data.months)} months, {len(data.at_risk)} customers at risk")
