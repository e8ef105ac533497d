"""`retention demo`: the whole pipeline on a synthetic year, start to finish, then cleaned up."""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import click

from retention.cli import exit_codes
from retention.cli.common import fail, render
from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.publisher import Publisher


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
            publisher = Publisher(settings)
            report = publisher.publish_lines(to_json_lines(events))
            publisher.close()
            status = stack.wait_idle(timeout)
            elapsed = time.monotonic() - started
            if not status.idle:
                fail(f"the pipeline did not finish within {timeout:g} s "
                     f"(see {folder / 'worker.log'})", exit_codes.NOT_READY)
            counters = status.worker["counters"] if status.worker else {}
            click.echo(f"processed {report.sent} events in {elapsed:.1f} s "
                       f"({report.sent / elapsed:.0f} events/s end to end); "
                       f"duplicates dropped from state: {counters.get('duplicates')}", err=True)
            stack.stop_worker()
            _print_results(settings, spec)
        finally:
            stack.stop()


def _print_results(settings, spec: HistorySpec) -> None:
    from retention.query import ClientRunner

    runner = ClientRunner(settings)
    try:
        end = spec.end
        start = end - timedelta(days=365)
        click.echo("\nKPIs over the last year of the history")
        _print_kpis(runner, settings, start, end)
        rows = runner.query(
            "SELECT 'churn-risk' AS topic, rule_id AS kind, count() AS alerts "
            "FROM churn_risk_alerts FINAL GROUP BY rule_id "
            "UNION ALL SELECT 'milestones', kind, count() FROM milestones FINAL GROUP BY kind "
            "ORDER BY topic, kind").rows
        click.echo("\nAlerts by kind")
        click.echo(render(["topic", "kind", "count"], rows, "table"))
    finally:
        runner.close()


def _print_kpis(runner, settings, start, end) -> None:
    from retention.cli.kpi import _emit_scalar
    from retention.kpis import KPIS, Period

    names = [name for name, kpi in KPIS.items() if not kpi.matrix]
    _emit_scalar(names, [Period(start.date(), end.date())], None, runner, settings, "table")
