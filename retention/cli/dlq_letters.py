"""Dead letters as `retention dlq` reads them: the filters, the named operations
(sql/dlq/), one letter's original bytes, and the export line (the DeadLetter record, as on
the dead-letter topic).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition

from retention.kafka import consumer
from retention.settings import Settings
from schemas.alerts import DeadLetter
from sinks.reader import QueryRunner

# failed_at bounds when none is given: ClickHouse's DateTime64 range.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2299, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


class LetterNotFound(LookupError):
    """No dead letter is stored at the given topic, partition and offset."""


@dataclass(frozen=True)
class LetterFilter:
    """Which letters: topic and stage exact ('' any), a part of the reason, and failed_at
    in [since, until)."""

    topic: str = ""
    stage: str = ""
    reason: str = ""
    since: dt.datetime = EARLIEST
    until: dt.datetime = LATEST

    def parameters(self) -> dict[str, Any]:
        return {"topic": self.topic, "stage": self.stage, "reason": self.reason,
                "since": _iso(self.since), "until": _iso(self.until)}


@dataclass(frozen=True)
class LetterId:
    """Where a dead letter's message is: `topic:partition:offset` (Kafka topic names have
    no colon)."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> LetterId:
        topic, _, rest = text.rpartition(":")
        topic, _, partition = topic.rpartition(":")
        if not topic or not partition.isdigit() or not rest.isdigit():
            raise ValueError(f"expected TOPIC:PARTITION:OFFSET, got {text!r}")
        return cls(topic, int(partition), int(rest))

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class StoredLetter:
    """A `dead_letters` row, with the event id its payload names (or '') and whether that
    event is now in a raw table."""

    letter: DeadLetter
    event_id: str
    stored: bool

    @property
    def id(self) -> LetterId:
        return LetterId(self.letter.topic, self.letter.partition, self.letter.offset)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> StoredLetter:
        """A row of dlq/letters or dlq/letter, from a client or the worker's JSON."""
        fields = {name: row[name] for name in DeadLetter.model_fields if name in row}
        fields["failed_at"] = utc(row["failed_at"])
        return cls(DeadLetter.model_validate(fields), str(row["event_id"]), bool(row["stored"]))


def original_bytes(letter: DeadLetter) -> bytes:
    """The stored payload's bytes: the whole message's value unless payload_truncated."""
    if letter.payload_encoding == "base64":
        return base64.b64decode(letter.payload)
    return letter.payload.encode()


def read_from_topic(settings: Settings, letter: DeadLetter) -> bytes:
    """The whole message a letter stands for, read at its topic, partition and offset and
    checked against the letter's sha256; LetterNotFound when the topic no longer holds it."""
    where = LetterId(letter.topic, letter.partition, letter.offset)
    tp = TopicPartition(letter.topic, letter.partition)
    reader = consumer(settings, fetch_max_wait_ms=100)
    try:
        reader.assign([tp])
        reader.seek(tp, letter.offset)
        deadline = time.monotonic() + settings.kafka.connect_timeout_s
        while time.monotonic() < deadline:
            # A fetch starts at its record batch's first offset: skip what comes before.
            records = [r for r in reader.poll(timeout_ms=200).get(tp, [])
                       if r.offset >= letter.offset]
            if not records:
                continue
            found = records[0]
            if found.offset != letter.offset or found.value is None:
                break  # removed (retention, compaction): the log starts after it
            if hashlib.sha256(found.value).hexdigest() != letter.payload_sha256:
                raise LetterNotFound(f"the message at {where} is not this letter's (its "
                                     "sha256 differs): was the topic created again?")
            return bytes(found.value)
    finally:
        reader.close()
    raise LetterNotFound(f"{letter.topic} no longer holds the message at {where}")


def export_line(letter: DeadLetter) -> str:
    """One JSON line: the DeadLetter record a subscriber of the dead-letter topic sees."""
    return letter.model_dump_json()


def read_letters(runner: QueryRunner, which: LetterFilter, limit: int) -> list[StoredLetter]:
    result = runner.run("dlq/letters", {**which.parameters(), "max_letters": limit})
    return [StoredLetter.of(row) for row in result.dicts()]


def read_reasons(runner: QueryRunner, which: LetterFilter) -> tuple[list[str], list[list[Any]]]:
    result = runner.run("dlq/reasons", which.parameters())
    return result.columns, result.rows


def read_letter(runner: QueryRunner, where: LetterId) -> StoredLetter:
    result = runner.run("dlq/letter", {"topic": where.topic, "partition": where.partition,
                                       "offset": where.offset})
    if not result.rows:
        raise LetterNotFound(f"no dead letter at {where}")
    return StoredLetter.of(result.dicts()[0])


def hex_dump(data: bytes, width: int = 16) -> Iterator[str]:
    """`offset  hex bytes  |printable|` lines, as `xxd`/`hexdump -C` print them."""
    for start in range(0, len(data), width):
        chunk = data[start:start + width]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        yield f"{start:08x}  {chunk.hex(' '):<{width * 3 - 1}}  |{text}|"


def letter_summary(stored: StoredLetter) -> dict[str, Any]:
    """What `dlq list --format json` prints of a letter: everything but the payload."""
    fields = json.loads(stored.letter.model_dump_json(exclude={"payload"}))
    return {"letter": str(stored.id), **fields, "event_id": stored.event_id or None,
            "stored": stored.stored}


def utc(value: dt.datetime | str) -> dt.datetime:
    """A DateTime64(3, 'UTC') value, from a client (a datetime) or the worker's JSON (ISO
    text, without a zone), as an aware UTC datetime."""
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def _iso(at: dt.datetime) -> str:
    """UTC, as sql/dlq's parseDateTime64BestEffort(..., 'UTC') reads it."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
