"""`retention dlq list|show|export|replay`: the dead-letter workflow.

Reads go through named operations (sql/dlq/), on the running worker while it holds the
embedded chDB folder, on ClickHouse directly otherwise (like `retention kpi`). A replay
produces to the input topics with the publisher's checks; it never writes ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any, TextIO, get_args

import click

from retention.cli import exit_codes
from retention.cli.common import fail, render
from retention.cli.dlq_letters import (
    EARLIEST,
    LATEST,
    LetterFilter,
    LetterId,
    LetterNotFound,
    export_line,
    hex_dump,
    letter_summary,
    original_bytes,
    read_from_topic,
    read_letter,
    read_letters,
    read_reasons,
    utc,
)
from retention.cli.dlq_replay import (
    Candidate,
    ReplayChecker,
    ReplayReport,
    file_candidates,
    replay,
)
from retention.cli.kpi import backend
from retention.embedded.runfile import read_run_file
from retention.kafka import TOPIC_ALIASES, BrokerUnavailable, Publisher
from retention.settings import Settings, get_settings
from schemas.alerts import DeadLetterStage
from streams.processor.parse import families_by_topic

_TIME = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])
_STAGES = click.Choice(list(get_args(DeadLetterStage)))
# Reason text shown in a table row; the whole reason is in `show` and the JSON formats.
REASON_CHARS = 72


def _filter_options(command: Any) -> Any:
    """--topic, --stage, --reason, --since, --until: the same on list, export and replay."""
    for option in reversed([
        click.option("--topic", type=click.Choice(sorted(TOPIC_ALIASES)), default=None,
                     help="Letters of this input topic only."),
        click.option("--stage", type=_STAGES, default=None,
                     help="Letters refused at this stage only."),
        click.option("--reason", default="", metavar="TEXT",
                     help="Letters whose reason contains TEXT (any case)."),
        click.option("--since", type=_TIME, default=None,
                     help="Failed at or after this time (UTC)."),
        click.option("--until", type=_TIME, default=None,
                     help="Failed before this time (UTC)."),
    ]):
        command = option(command)
    return command


def _letter_filter(settings: Settings, topic: str | None, stage: str | None, reason: str,
                   since: dt.datetime | None, until: dt.datetime | None) -> LetterFilter:
    names = {family: name for name, family in families_by_topic(settings).items()}
    return LetterFilter(
        topic=names[TOPIC_ALIASES[topic]] if topic else "", stage=stage or "", reason=reason,
        since=since.replace(tzinfo=dt.UTC) if since else EARLIEST,
        until=until.replace(tzinfo=dt.UTC) if until else LATEST)


@click.group("dlq")
def dlq() -> None:
    """Dead letters: list them by reason and time, show one, export them to fix, replay."""


@dlq.command("list")
@_filter_options
@click.option("--by-reason", is_flag=True,
              help="Count letters per stage, reason and topic instead of listing them.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Letters listed, newest first.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True)
def list_letters(topic: str | None, stage: str | None, reason: str,
                 since: dt.datetime | None, until: dt.datetime | None, by_reason: bool,
                 limit: int, fmt: str) -> None:
    """Dead letters, newest first, or their counts per reason (--by-reason).

    `stored` says whether the event a letter names (its payload's event_id) is now in the
    raw tables: replayed, or sent again correctly since.
    """
    settings = get_settings()
    which = _letter_filter(settings, topic, stage, reason, since, until)
    with backend(settings) as runner:
        if by_reason:
            columns, rows = read_reasons(runner, which)
            times = [i for i, c in enumerate(columns) if c.endswith("_at")]
            rows = [[_when(v, fmt) if i in times else v for i, v in enumerate(row)]
                    for row in rows]
            click.echo(render(columns, rows, fmt))
            return
        letters = read_letters(runner, which, limit)
    summaries = [letter_summary(s) for s in letters]
    if fmt == "json":
        click.echo("\n".join(json.dumps(s) for s in summaries))
        return
    columns = ["letter", "failed_at", "stage", "reason", "bytes", "event_id", "stored"]
    rows = [[s["letter"], _when(stored.letter.failed_at, fmt), s["stage"],
             _short(s["reason"]) if fmt == "table" else s["reason"],
             s["payload_bytes"], s["event_id"] or "", "yes" if s["stored"] else "no"]
            for s, stored in zip(summaries, letters, strict=True)]
    click.echo(render(columns, rows, fmt))
    if fmt == "table":
        click.echo(f"{len(rows)} letters" + (f" (the newest {limit})" if len(rows) == limit
                                             else ""), err=True)


def _when(value: dt.datetime | str, fmt: str) -> str:
    """A time as tables show it (to the second, UTC) or in full (ISO 8601)."""
    at = utc(value)
    if fmt == "table":
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.isoformat().replace("+00:00", "Z")


def _short(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


@dlq.command("show")
@click.argument("letter", metavar="TOPIC:PARTITION:OFFSET")
@click.option("--raw", is_flag=True,
              help="Write the payload's bytes alone to stdout, as they were sent.")
@click.option("--from-topic", is_flag=True,
              help="Read the whole message from its topic (while the topic retains it), "
                   "checked against the letter's sha256: for letters too large to store.")
def show(letter: str, raw: bool, from_topic: bool) -> None:
    """One dead letter: where and why it was refused, and its original bytes (text as it
    is; a hex dump when it is not UTF-8)."""
    try:
        where = LetterId.parse(letter)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="LETTER") from exc
    settings = get_settings()
    with backend(settings) as runner:
        try:
            stored = read_letter(runner, where)
        except LetterNotFound as exc:
            fail(str(exc), exit_codes.NOT_READY)
    try:
        data = (read_from_topic(settings, stored.letter) if from_topic
                else original_bytes(stored.letter))
    except LetterNotFound as exc:
        fail(str(exc), exit_codes.NOT_READY)
    except BrokerUnavailable as exc:
        fail(str(exc))
    if raw:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    d = stored.letter
    click.echo(f"letter     {where}")
    click.echo(f"failed at  {d.failed_at.isoformat()}")
    click.echo(f"stage      {d.stage}")
    click.echo(f"reason     {d.reason}")
    click.echo(f"key        {d.key!r}")
    click.echo(f"event id   {stored.event_id or '(none in the payload)'}"
               + (" (stored now)" if stored.stored else ""))
    whole = len(data) == d.payload_bytes
    kept = (f"{d.payload_bytes:,} bytes, whole" + (", read from the topic" if from_topic else "")
            if whole else f"first {len(data):,} of {d.payload_bytes:,} bytes "
            "(payload_truncated; --from-topic reads the whole message while the topic "
            "retains it)")
    click.echo(f"payload    {kept}, {d.payload_encoding}, sha256 {d.payload_sha256}")
    click.echo("")
    if d.payload_encoding == "utf-8":
        click.echo(data.decode("utf-8", "replace"))
    else:
        click.echo("\n".join(hex_dump(data)))


@dlq.command("export")
@_filter_options
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-",
              show_default=True, help="The JSON-lines file to write (`-`: stdout).")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100_000,
              show_default=True, help="Letters exported, newest first.")
@click.option("--pending", is_flag=True,
              help="Only letters whose event is not stored (not replayed yet).")
def export(topic: str | None, stage: str | None, reason: str, since: dt.datetime | None,
           until: dt.datetime | None, out: TextIO, limit: int, pending: bool) -> None:
    """Dead letters as JSON lines to fix and replay: one DeadLetter record per line, as on
    the dead-letter topic. Fix `payload` (and `key`, if it was wrong), then
    `retention dlq replay --file`."""
    settings = get_settings()
    which = _letter_filter(settings, topic, stage, reason, since, until)
    with backend(settings) as runner:
        letters = read_letters(runner, which, limit)
    written = 0
    for stored in letters:
        if pending and stored.stored:
            continue
        out.write(export_line(stored.letter) + "\n")
        written += 1
    out.flush()
    click.echo(f"exported {written} letters to {out.name}", err=True)


@dlq.command("replay")
@click.option("--file", "source", type=click.File("r", encoding="utf-8"), default=None,
              help="Replay the letters of this file (from `dlq export`, fixed; `-`: stdin).")
@click.option("--stored", is_flag=True,
              help="Replay the stored letters (filtered as below) that today's code and "
                   "settings accept: those whose reason is gone.")
@_filter_options
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100_000,
              show_default=True, help="Stored letters considered, newest first.")
@click.option("--dry-run", is_flag=True, help="Check and report; send nothing.")
def replay_letters(source: TextIO | None, stored: bool, topic: str | None,
                   stage: str | None, reason: str, since: dt.datetime | None,
                   until: dt.datetime | None, limit: int, dry_run: bool) -> None:
    """Re-send dead letters to their input topic, with their key as it is (so Kafka's
    partitioner places them as a producer's would), each checked first as the worker
    checks input today (size, schema, event time, placement).

    A letter whose event id is stored already is not sent: replaying twice stores nothing
    twice. Exit 0 when every letter was sent or is stored, 1 when some were refused.
    """
    if (source is None) == (not stored):
        raise click.UsageError("give either --file FILE or --stored")
    settings = get_settings()
    run = read_run_file(settings.run_file)
    if run is not None and run.draining and not settings.kafka.bootstrap_servers:
        fail("the embedded pipeline is stopping (Ctrl-C drains it): nothing replayed")
    report = ReplayReport()
    with backend(settings) as runner:
        if source is not None:
            candidates = list(file_candidates(source, source.name, report))
        else:
            which = _letter_filter(settings, topic, stage, reason, since, until)
            candidates = [Candidate(str(s.id), s.letter)
                          for s in read_letters(runner, which, limit)]
        try:
            publisher = Publisher(settings)
        except Exception as exc:  # kafka-python raises several kinds
            fail(f"cannot reach Kafka: {exc}")
        try:
            replay(candidates, ReplayChecker(settings, publisher), runner, report,
                   send=not dry_run)
        finally:
            publisher.close()
    _print_report(report, dry_run)
    sys.exit(exit_codes.PARTIAL if report.count("refused") else exit_codes.OK)


def _print_report(report: ReplayReport, dry_run: bool) -> None:
    words = {"sent": "would send" if dry_run else "sent", "stored": "already stored",
             "refused": "refused"}
    for source, outcome, detail in report.results:
        click.echo(f"{source}  {words[outcome]}: {detail}")
    click.echo(f"{words['sent']} {report.count('sent')}, already stored "
               f"{report.count('stored')}, refused {report.count('refused')}", err=True)

