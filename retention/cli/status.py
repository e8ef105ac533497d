"""`retention status`: lag per topic, rows waiting in the sink, `--wait-idle` for scripts
and `--watch` for people (refreshed in place on a terminal, until Ctrl-C)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from retention.cli import exit_codes
from retention.cli.common import fail
from retention.kafka import BrokerUnavailable, Status, WorkerUnauthorized, current_status
from retention.kafka import wait_idle as wait_until_idle
from retention.settings import get_settings


@click.command()
@click.option("--wait-idle", is_flag=True,
              help="Wait until every published event is processed and written.")
@click.option("--timeout", type=float, default=300, show_default=True,
              help="Seconds --wait-idle waits before giving up (exit 4).")
@click.option("--watch", is_flag=True,
              help="Refresh every --interval seconds until Ctrl-C (in place on a terminal).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between two refreshes of --watch.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status(wait_idle: bool, timeout: float, watch: bool, interval: float, fmt: str) -> None:
    """Consumer lag per input topic and the worker's counters."""
    if watch and (wait_idle or fmt != "table"):
        raise click.UsageError("--watch shows the table; it takes neither --wait-idle "
                               "nor --format json")
    settings = get_settings()
    if watch:
        watch_status(lambda: _read(lambda: current_status(settings)), interval)
        sys.exit(exit_codes.OK)
    st = _read(lambda: (wait_until_idle(settings, timeout) if wait_idle
                        else current_status(settings)))
    if fmt == "json":
        click.echo(json.dumps({"lag": st.lag, "worker": st.worker, "idle": st.idle}))
    else:
        click.echo("\n".join(status_lines(st)))
    if wait_idle and not st.idle:
        click.echo(f"error: not idle after {timeout:g} s", err=True)
        sys.exit(exit_codes.NOT_READY)


def _read(read: Callable[[], Status]) -> Status:
    try:
        return read()
    except (BrokerUnavailable, WorkerUnauthorized) as exc:
        fail(str(exc))


def status_lines(st: Status) -> list[str]:
    lines = [f"lag {topic:<24} {lag}" for topic, lag in st.lag.items()]
    if st.worker is None:
        lines.append("worker: not reachable")
    else:
        w = st.worker
        lines.append(f"rows waiting in the sink: {w['rows_pending']}")
        lines.append(f"events in the reorder buffer: {w['events_buffered']}")
        lines.append(f"rows written: {w['rows_written']}")
        lines += [f"{name}: {count}" for name, count in w["counters"].items()]
        lines.append(f"low_p_alive: {w['model']}")
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in w.get("seconds", {}).items())
        lines.append(f"time spent: {spent}")
    lines.append("idle" if st.idle else "busy")
    return lines


def watch_status(read: Callable[[], Status], interval_s: float,
                 console: Console | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
    """Show `read()` every `interval_s` until Ctrl-C: redrawn in place on a terminal, one
    timestamped block per reading otherwise (a log keeps every reading)."""
    console = console or Console()
    pause = sleep or time.sleep

    def screen() -> Text:
        at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        header = f"retention status at {at} UTC, every {interval_s:g} s (Ctrl-C stops)"
        return Text("\n".join([header, *status_lines(read())]))

    try:
        if console.is_terminal:
            with Live(screen(), console=console, auto_refresh=False) as live:
                while True:
                    pause(interval_s)
                    live.update(screen(), refresh=True)
        while True:
            console.print(screen())
            console.print()
            pause(interval_s)
    except KeyboardInterrupt:
        return
