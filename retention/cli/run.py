"""`retention up` and `retention worker`: run the pipeline in the foreground."""

from __future__ import annotations

import sys

import click

from retention.cli import exit_codes
from retention.cli.common import fail
from retention.embedded.broker import BrokerError, start_broker
from retention.embedded.runfile import read_run_file, remove_run_file
from retention.embedded.stack import forget_local_tables
from retention.embedded.supervisor import Supervisor
from retention.kafka import BrokerUnavailable, ensure_topics
from retention.settings import Settings, get_settings


@click.command()
def up() -> None:
    """Embedded broker + supervised worker in the foreground (data under the data dir).

    A crashed worker is restarted; the broker stays up. Ctrl-C drains (everything published
    is processed, then it stops); a second Ctrl-C stops at once.
    """
    settings = get_settings()
    if read_run_file(settings.run_file) is not None:
        fail(f"a pipeline is already running (see {settings.run_file})", exit_codes.USAGE)
    broker = None
    servers = settings.kafka.bootstrap_servers
    if not servers:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            broker = start_broker(log_path=settings.data_dir / "broker.log")
        except BrokerError as exc:
            fail(str(exc))
        servers = broker.bootstrap_servers
        forget_local_tables(settings)
    w = settings.worker
    try:
        ensure_topics(settings, servers)
        click.echo(f"retention up: Kafka at {servers}, worker at http://{w.web_host}:"
                   f"{w.web_port}, ClickHouse {_dsn_label(settings)}; Ctrl-C drains and "
                   "stops, twice stops at once.", err=True)
        supervisor = Supervisor(settings, servers, broker=broker,
                                say=lambda line: click.echo(f"retention up: {line}", err=True))
        code = supervisor.run()
    except BrokerUnavailable as exc:
        fail(str(exc))
    finally:
        remove_run_file(settings.run_file)
        if broker is not None:
            broker.stop()
    sys.exit(code)


@click.command()
def worker() -> None:
    """Only the worker, against configured Kafka (or the broker `retention up` started)."""
    settings = get_settings()
    try:
        ensure_topics(settings)
    except BrokerUnavailable as exc:
        fail(str(exc))
    from streams.worker import run_worker

    run_worker(settings)


def _dsn_label(settings: Settings) -> str:
    ch = settings.clickhouse
    if ch.is_embedded:
        from sinks.client import chdb_path

        return f"embedded at {chdb_path(ch.dsn.get_secret_value())}"
    return "server (DSN from settings)"
