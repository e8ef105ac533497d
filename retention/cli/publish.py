"""`retention publish FILE`: validated JSON lines onto the input topics."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from retention.cli import exit_codes
from retention.cli.common import fail
from retention.cli.import_files import regular_file_size
from retention.cli.progress import make_progress, tracked
from retention.embedded.runfile import read_run_file
from retention.kafka import TOPIC_ALIASES, BrokerUnavailable, Publisher
from retention.settings import get_settings


@click.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--topic", type=click.Choice(sorted(TOPIC_ALIASES)), default=None,
              help="Send every line to this topic; by default each line's `type` decides.")
def publish(file: TextIO, topic: str | None) -> None:
    """Validate and publish JSON lines from FILE (`-` for stdin).

    Lines the worker would dead-letter are reported with their line numbers and not sent:
    invalid events, lines over RETENTION_KAFKA__MAX_MESSAGE_BYTES, event times too far
    ahead of the clock or before RETENTION_SIGNALS__MIN_EVENT_TIME. Exit status 0 only if
    every line was sent, 1 if some were rejected, 3 if Kafka is unreachable.
    """
    settings = get_settings()
    run = read_run_file(settings.run_file)
    if run is not None and run.draining and not settings.kafka.bootstrap_servers:
        fail("the embedded pipeline is stopping (Ctrl-C drains it): nothing published")
    try:
        publisher = Publisher(settings)
    except (BrokerUnavailable, Exception) as exc:  # kafka-python raises several kinds
        fail(f"cannot reach Kafka: {exc}")
    progress = make_progress()
    progress.task(f"publish {file.name}", total=regular_file_size(file))
    try:
        report = publisher.publish_lines(
            tracked(file, progress, lambda line: len(line.encode())), topic)
        progress.done()
    finally:
        progress.close()
        publisher.close()
    for number, reason in report.rejected:
        click.echo(f"line {number}: {reason}", err=True)
    click.echo(f"sent {report.sent}, rejected {len(report.rejected)}", err=True)
    sys.exit(exit_codes.PARTIAL if report.rejected else exit_codes.OK)

