"""`retention demo`: the whole pipeline on a synthetic shop, start to finish, then cleaned up.

The history is published in two parts with `retention model fit` between them, as an
operator would run it, so `low_p_alive` has a model for the rest of the stream.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from retention.cli import exit_codes
from retention.cli.common import fail, render
from retention.cli.progress import make_progress, tracked
from retention.cli.worker_wait import wait_for_worker
from retention.demo.synthetic import (
    PROFILES,
    HistorySpec,
    Profile,
    generate_history,
    iso_time,
    to_json_lines,
)
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher
from retention.settings import Settings
from schemas.alerts import MilestoneKind, RuleId

if TYPE_CHECKING:
    from sinks.reader import QueryRunner


@click.command()
@click.option("--customers", type=int, default=3000, show_default=True)
@click.option("--months", type=int, default=36, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--profile", type=click.Choice(PROFILES), default="shop", show_default=True,
              help="shop: KPIs where real shops are; steady: the original process.")
@click.option("--fit-months-before-end", "fit_months", type=click.IntRange(min=1), default=6,
              show_default=True,
              help="`retention model fit` runs when the stream reaches this many 30-day "
                   "months before the history's end.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the data in this folder instead of a temporary one.")
@click.option("--timeout", type=float, default=600, show_default=True)
def demo(customers: int, months: int, seed: int, profile: Profile, fit_months: int,
         keep: Path | None, timeout: float) -> None:
    """Generate a seeded history, run it through the embedded pipeline with the lifetime
    model fitted part-way, print KPIs and alerts."""
    spec = HistorySpec(customers=customers, months=months, seed=seed, profile=profile)
    events = generate_history(spec)
    fit_day = spec.end - timedelta(days=30 * fit_months)
    parts = ([e for e in events if e["occurred_at"] < iso_time(fit_day)],
             [e for e in events if e["occurred_at"] >= iso_time(fit_day)])
    with tempfile.TemporaryDirectory(prefix="retention-demo-") as tmp:
        folder = keep or Path(tmp)
        stack = LocalStack(folder)
        try:
            settings = stack.start()
            click.echo(f"demo: {customers} customers ({profile}), {months} months, "
                       f"{len(events)} events (including {spec.duplicate_rate:.0%} re-sent "
                       "duplicates)", err=True)
            started = time.monotonic()
            sent = 0
            for number, part in enumerate(parts):
                if number:
                    _fit_model(stack, fit_day - timedelta(days=1), folder)
                stack.start_worker()
                sent += _publish(settings, part, timeout, folder)
                stack.stop_worker()
            click.echo(f"processed {sent} events in {time.monotonic() - started:.1f} s wall "
                       "time (worker starts, group joins, the model fit and the final "
                       "quiet-partition waits included; `make bench` measures throughput)",
                       err=True)
            _print_results(settings, spec)
        finally:
            stack.stop()


def _publish(settings: Settings, events: list[dict[str, object]],
             timeout: float, folder: Path) -> int:
    progress = make_progress()
    try:
        progress.task("publish", total=len(events))
        publisher = Publisher(settings)
        report = publisher.publish_lines(tracked(to_json_lines(events), progress))
        publisher.close()
        finished = wait_for_worker(settings, timeout, report.sent, progress)
    finally:
        progress.close()
    if not finished:
        fail(f"the pipeline did not finish within {timeout:g} s "
             f"(see {folder / 'worker.log'})", exit_codes.NOT_READY)
    return report.sent


def _fit_model(stack: LocalStack, as_of: datetime, folder: Path) -> None:
    """`retention model fit --as-of DAY` against the stack's database, as an operator runs
    it (the worker is stopped: a fit writes)."""
    click.echo(f"stream paused: retention model fit --as-of {as_of.date()}", err=True)
    fit = subprocess.run(
        [sys.executable, "-m", "retention.cli.main", "model", "fit",
         "--as-of", as_of.date().isoformat()],
        env={**os.environ, **stack.env}, capture_output=True, text=True, check=False)
    click.echo((fit.stdout + fit.stderr).rstrip(), err=True)
    if fit.returncode not in (0, exit_codes.NOT_READY):
        fail(f"model fit failed (exit {fit.returncode}); see {folder}", exit_codes.BACKEND)


def _print_results(settings: Settings, spec: HistorySpec) -> None:
    from sinks.reader import ClientRunner
    from sinks.sql_files import read_sql

    runner = ClientRunner(settings)
    try:
        from sinks.model_store import load_latest_model

        model = load_latest_model(runner)
        if model is not None:
            p = model.bgnbd
            click.echo(f"\nlifetime model v{model.version} fitted on data up to {model.as_of} "
                       f"({model.customers} customers): BG/NBD r={p.r:.3f} alpha={p.alpha:.2f} "
                       f"a={p.a:.3f} b={p.b:.3f} (days)")
        else:
            click.echo("\nlifetime model not fitted (see the fit's reasons above)")
        # The last year: annual benchmarks (churn, CLV's lifespan) are about a year.
        end = spec.end
        start = end - timedelta(days=365)
        click.echo(f"\nKPIs over the last year of the history ({start.date()} .. "
                   f"{end.date()})")
        _print_kpis(runner, settings, start, end)
        alerts = dict(runner.query(read_sql("queries/alerts_by_rule.sql")).rows)
        milestones = dict(runner.query(read_sql("queries/milestones_by_kind.sql")).rows)
        # Every kind is listed, zero counts too: a rule that never fired is news as well.
        rows = [["churn-risk", rule, alerts.get(rule, 0)] for rule in get_args(RuleId)]
        rows += [["milestones", kind, milestones.get(kind, 0)]
                 for kind in get_args(MilestoneKind)]
        click.echo("\nAlerts and milestones by kind (low_p_alive fires after the model fit)")
        click.echo(render(["topic", "kind", "count"], rows, "table"))
        _print_at_risk(runner)
    finally:
        runner.close()


def _print_at_risk(runner: QueryRunner) -> None:
    from retention.analytics.customer import at_risk

    rows = at_risk(runner, 0.0, 5)
    click.echo("\nWhom to call today (`retention at-risk --limit 5`; `retention customer ID` "
               "tells one story)")
    click.echo(render(["customer_id", "value_at_risk", "churn_probability", "reasons"],
                      [[r["customer_id"], r["value_at_risk"], r["churn_probability"],
                        ", ".join(r["episode_rules"])] for r in rows], "table"))


def _print_kpis(runner: QueryRunner, settings: Settings, start: datetime,
                end: datetime) -> None:
    from retention.analytics.kpis import Period, run_all
    from retention.cli.kpi import emit_period

    period = Period(start.date(), end.date())
    emit_period(run_all(runner, period, settings), period, "table")
