"""`retention status`: lag per topic, rows waiting in the sink, and `--wait-idle`."""

from __future__ import annotations

import json
import sys

import click

from retention.cli import exit_codes
from retention.cli.common import fail
from retention.kafka import BrokerUnavailable, WorkerUnauthorized, current_status
from retention.kafka import wait_idle as wait_until_idle
from retention.settings import get_settings


@click.command()
@click.option("--wait-idle", is_flag=True,
              help="Wait until every published event is processed and written.")
@click.option("--timeout", type=float, default=300, show_default=True,
              help="Seconds --wait-idle waits before giving up (exit 4).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status(wait_idle: bool, timeout: float, fmt: str) -> None:
    """Consumer lag per input topic and the worker's counters."""
    settings = get_settings()
    try:
        st = wait_until_idle(settings, timeout) if wait_idle else current_status(settings)
    except (BrokerUnavailable, WorkerUnauthorized) as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps({"lag": st.lag, "worker": st.worker, "idle": st.idle}))
    else:
        for topic, lag in st.lag.items():
            click.echo(f"lag {topic:<24} {lag}")
        if st.worker is None:
            click.echo("worker: not reachable")
        else:
            w = st.worker
            click.echo(f"rows waiting in the sink: {w['rows_pending']}")
            click.echo(f"events in the reorder buffer: {w['events_buffered']}")
            click.echo(f"rows written: {w['rows_written']}")
            for name, count in w["counters"].items():
                click.echo(f"{name}: {count}")
            click.echo(f"low_p_alive: {w['model']}")
            spent = ", ".join(f"{k} {v:.1f} s" for k, v in w.get("seconds", {}).items())
            click.echo(f"time spent: {spent}")
        click.echo("idle" if st.idle else "busy")
    if wait_idle and not st.idle:
        click.echo(f"error: not idle after {timeout:g} s", err=True)
        sys.exit(exit_codes.NOT_READY)

