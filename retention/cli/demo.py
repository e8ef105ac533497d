"""`retention demo`: the whole pipeline on a synthetic year, start to finish, then cleaned up."""

from __future__ import annotations

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
from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, current_status
from retention.settings import Settings
from schemas.alerts import MilestoneKind, RuleId

if TYPE_CHECKING:
    from sinks.reader import QueryRunner


@click.command()
@click.option("--customers", type=int, default=3000, show_default=True)
@click.option("--months", type=int, default=12, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the data in this folder instead of a temporary one.")
@click.option("--timeout", type=float, default=600, show_default=True)
def demo(customers: int, months: int, seed: int, keep: Path | None, timeout: float) -> None:
    """Generate a seeded history, run it through the embedded pipeline, print KPIs and alerts."""
    spec = HistorySpec(customers=customers, months=months, seed=seed)
    events = generate_history(spec)
    with tempfile.TemporaryDirectory(prefix="retention-demo-") as tmp:
        folder = keep or Path(tmp)
        stack = LocalStack(folder)
        try:
            settings = stack.start()
            stack.start_worker()
            click.echo(f"demo: {customers} customers, {months} months, {len(events)} events "
                       f"(including {spec.duplicate_rate:.0%} re-sent duplicates)", err=True)
            started = time.monotonic()
            progress = make_progress()
            try:
                progress.task("publish", total=len(events))
                publisher = Publisher(settings)
                report = publisher.publish_lines(tracked(to_json_lines(events), progress))
                publisher.close()
                finished = wait_for_worker(settings, timeout, report.sent, progress)
            finally:
                progress.close()
            elapsed = time.monotonic() - started
            if not finished:
                fail(f"the pipeline did not finish within {timeout:g} s "
                     f"(see {folder / 'worker.log'})", exit_codes.NOT_READY)
            status = current_status(settings)
            counters = status.worker["counters"] if status.worker else {}
            click.echo(f"processed {report.sent} events in {elapsed:.1f} s wall time (worker "
                       "start, group join and the final quiet-partition wait included; "
                       "`make bench` measures throughput); duplicates dropped from state: "
                       f"{counters.get('duplicates')}", err=True)
            stack.stop_worker()
            _print_results(settings, spec)
        finally:
            stack.stop()


def _print_results(settings: Settings, spec: HistorySpec) -> None:
    from sinks.reader import ClientRunner
    from sinks.sql_files import read_sql

    runner = ClientRunner(settings)
    progress = make_progress()
    try:
        from retention.analytics.model_fit import fit_model

        progress.task("model fit")
        report = fit_model(runner.client, settings)
        progress.close()
        if report.model is not None:
            p = report.model.bgnbd
            click.echo(f"\nlifetime model fitted on {report.customers} customers: BG/NBD r="
                       f"{p.r:.3f} alpha={p.alpha:.2f} a={p.a:.3f} b={p.b:.3f} (days)")
        else:
            click.echo("\nlifetime model not fitted: " + "; ".join(report.reasons))
        # The last six months: customers active at its start exist, so retention is defined.
        end = spec.end
        start = end - timedelta(days=182)
        click.echo("\nKPIs over the last six months of the history")
        _print_kpis(runner, settings, start, end)
        alerts = dict(runner.query(read_sql("queries/alerts_by_rule.sql")).rows)
        milestones = dict(runner.query(read_sql("queries/milestones_by_kind.sql")).rows)
        # Every kind is listed, zero counts too: a rule that never fired is news as well.
        rows = [["churn-risk", rule, alerts.get(rule, 0)] for rule in get_args(RuleId)]
        rows += [["milestones", kind, milestones.get(kind, 0)]
                 for kind in get_args(MilestoneKind)]
        click.echo("\nAlerts and milestones by kind (low_p_alive reads a model fitted before "
                   "the stream; in this demo it is fitted after)")
        click.echo(render(["topic", "kind", "count"], rows, "table"))
    finally:
        progress.close()
        runner.close()


def _print_kpis(runner: QueryRunner, settings: Settings, start: datetime,
                end: datetime) -> None:
    from retention.analytics.kpis import Period, run_all
    from retention.cli.kpi import emit_period

    period = Period(start.date(), end.date())
    emit_period(run_all(runner, period, settings), period, "table")
