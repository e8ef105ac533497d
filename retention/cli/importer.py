"""`retention import FILE...`: load a history once: validate, publish, wait, summarise."""

from __future__ import annotations

import json
import sys
import time

import click
from kafka.errors import KafkaError

from retention.analytics.kpis import run_all
from retention.cli import exit_codes
from retention.cli.common import fail
from retention.cli.import_files import BrokenInput, InputFile, Line, open_input
from retention.cli.import_summary import (
    ImportSummary,
    InputTally,
    last_complete_year,
    output_counts,
    outputs_added,
)
from retention.cli.kpi import backend
from retention.cli.progress import CommandProgress, make_progress
from retention.cli.worker_wait import wait_for_worker
from retention.kafka import TOPIC_ALIASES, BrokerUnavailable, Publisher, worker_status
from retention.settings import Settings, get_settings
from schemas import family_of_line, parse_event

# Lines handed to the publisher at a time: it reports rejected lines per call (so each is
# mapped back to its line number) and flushes at the end of each call (one round trip per
# chunk, negligible at this size), and the progress bar moves once per chunk.
CHUNK_LINES = 2000


@click.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--topic", type=click.Choice(sorted(TOPIC_ALIASES)), default=None,
              help="Send every line to this topic; by default each line's `type` decides.")
@click.option("--timeout", type=click.FloatRange(min=0), default=3600, show_default=True,
              help="Seconds to wait for the worker to process and write everything "
                   "(exit 4 after).")
@click.option("--show-invalid", type=click.IntRange(min=0), default=20, show_default=True,
              help="Invalid lines listed in the summary (all are counted).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Format of the summary.")
def import_command(files: tuple[str, ...], topic: str | None, timeout: float,
                   show_invalid: int, fmt: str) -> None:
    """Import a history: validate and publish JSON lines from FILES (`-` for stdin, gzip
    accepted), wait until the worker has processed and written all of it, then summarise:
    events by type, customers, time range, invalid lines, the outputs the import caused
    (historical: stored, not published; live: published) and the KPIs of the last complete
    calendar year of the history.

    Exit status 0 if every line was sent, 1 if some were rejected (the rest is imported),
    3 if Kafka, ClickHouse or the worker is unreachable, 4 if the worker did not finish
    within --timeout.
    """
    settings = get_settings()
    if worker_status(settings) is None:
        fail("the worker does not answer: start `retention up` (or `retention worker`), "
             "then import")
    with backend(settings) as runner:
        before = output_counts(runner)
        tally = InputTally(show_invalid)
        progress = make_progress()
        try:
            started = time.monotonic()
            _publish_all(settings, files, topic, tally, progress)
            summary = ImportSummary(tally, publish_s=time.monotonic() - started)
            published = time.monotonic()
            done = wait_for_worker(settings, timeout, sum(tally.events.values()), progress)
        except BrokerUnavailable as exc:
            fail(str(exc))
        except KafkaError as exc:
            fail(f"Kafka: {exc}")
        finally:
            progress.close()
        if not done:
            _emit(summary, fmt)
            fail(f"the worker did not finish within {timeout:g} s; it carries on (see "
                 "`retention status`), the summary above lacks its outputs and KPIs",
                 exit_codes.NOT_READY)
        summary.wait_s = time.monotonic() - published
        summary.outputs = outputs_added(before, output_counts(runner))
        summary.kpi_period = last_complete_year(tally.first, tally.last)
        if summary.kpi_period is not None:
            summary.kpis = run_all(runner, summary.kpi_period, settings)
    _emit(summary, fmt)
    sys.exit(exit_codes.PARTIAL if tally.invalid else exit_codes.OK)


def _emit(summary: ImportSummary, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(summary.as_json()))
    else:
        summary.echo_table()


def _publish_all(settings: Settings, names: tuple[str, ...], topic: str | None,
                 tally: InputTally, progress: CommandProgress) -> None:
    try:
        publisher = Publisher(settings)
    except Exception as exc:  # kafka-python raises several kinds
        raise BrokerUnavailable(f"cannot reach Kafka: {exc}") from exc
    try:
        for name in names:
            with open_input(name) as source:
                progress.task(f"publish {name}", total=source.size)
                lines = publish_input(publisher, source, topic, tally, progress)
                tally.files.append((name, lines))
                progress.done(f"{lines:,} lines")
    finally:
        publisher.close()


def publish_input(publisher: Publisher, source: InputFile, topic: str | None,
                  tally: InputTally, progress: CommandProgress,
                  chunk_lines: int = CHUNK_LINES) -> int:
    """Publish one input through the publisher's own validation; returns the lines read."""
    chunk: list[Line] = []
    read = 0
    try:
        for line in source.lines():
            chunk.append(line)
            read = line.number
            if len(chunk) >= chunk_lines:
                _publish_chunk(publisher, source.name, chunk, topic, tally)
                chunk = []
                progress.update(source.position() or 0, f"{read:,} lines")
    except BrokenInput as exc:
        _publish_chunk(publisher, source.name, chunk, topic, tally)
        tally.rejected(source.name, exc.after_line + 1, exc.reason)
        return read
    _publish_chunk(publisher, source.name, chunk, topic, tally)
    return read


def _publish_chunk(publisher: Publisher, name: str, chunk: list[Line], topic: str | None,
                   tally: InputTally) -> None:
    if not chunk:
        return
    # A line that is not UTF-8 goes in as a blank line (the publisher skips those), so the
    # publisher's line numbers stay the chunk's positions.
    report = publisher.publish_lines([line.text or "" for line in chunk], topic)
    rejected = dict(report.rejected)
    forced = TOPIC_ALIASES[topic] if topic else None
    for position, line in enumerate(chunk, start=1):
        if line.text is None:
            tally.rejected(name, line.number, "not UTF-8 text")
        elif position in rejected:
            tally.rejected(name, line.number, rejected[position])
        elif line.text.strip():
            # Sent, so valid: parsed again only to count it (the publisher keeps no events).
            family = forced or family_of_line(line.text)
            tally.sent(family, parse_event(line.text, family))
