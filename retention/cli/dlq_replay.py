"""Replaying dead letters: each one checked as the worker would check it today, sent to its
topic with its key as it is, unless its event is stored already.

No duplicates, by event id: a letter whose event id is in a raw table (replayed before, or
the event sent again correctly since) is not sent, nor is a second letter with an event id
this replay already sent. The worker is the backstop for a replay racing another one: its
raw tables keep one row per event id and its customer state drops an event id it has seen,
so a copy changes nothing and raises nothing. A `processing` letter is the exception: its
event was written to the raw tables on arrival but never applied to its customer's state
(the rule raised), so it is sent whether stored or not, and the state's memory of event ids
is what keeps a second replay of it from counting twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from retention.cli.dlq_letters import LetterId, original_bytes
from retention.kafka import Publisher
from retention.settings import Settings
from schemas import EventFamily, InvalidEvent
from schemas.alerts import DeadLetter
from sinks.operations import MAX_ARRAY_ITEMS
from sinks.reader import QueryRunner
from streams.processor.parse import families_by_topic

Outcome = Literal["sent", "stored", "refused"]


@dataclass(frozen=True)
class Candidate:
    """A letter to replay: where it came from (a stored letter or a file's line), its topic,
    key and value."""

    source: str
    letter: DeadLetter


@dataclass(frozen=True)
class Checked:
    candidate: Candidate
    value: bytes
    event_id: str


@dataclass
class ReplayReport:
    # (source, outcome, detail) in the order the letters came
    results: list[tuple[str, Outcome, str]] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for _, o, _ in self.results if o == outcome)


class ReplayChecker:
    """The worker's checks (size, contract, event time, placement) with today's code and
    settings, through the publisher's own validation."""

    def __init__(self, settings: Settings, publisher: Publisher) -> None:
        self.families: dict[str, EventFamily] = families_by_topic(settings)
        self.publisher = publisher
        self.misplaced_refused = settings.kafka.misplaced_events == "dead-letter"

    def check(self, candidate: Candidate) -> Checked:
        """The message to send; InvalidEvent when the worker would refuse it again."""
        letter = candidate.letter
        family = self.families.get(letter.topic)
        if family is None:
            raise InvalidEvent(f"{letter.topic} is not an input topic of this pipeline")
        if letter.payload_truncated:
            where = LetterId(letter.topic, letter.partition, letter.offset)
            raise InvalidEvent(
                f"only the first bytes of its {letter.payload_bytes}-byte payload are stored "
                f"(payload_truncated): `retention dlq show --raw --from-topic {where}` reads "
                "the whole message while the topic retains it; put a fixed payload and "
                "payload_truncated false in an exported file")
        value = original_bytes(letter)
        key = letter.key.encode() if letter.key is not None else None
        self.publisher.check_size(value, key or b"")
        event = self.publisher.check(value, family)
        if self.misplaced_refused and key != event.customer_id.encode():
            raise InvalidEvent(
                f"keyed {letter.key!r}, not by its customer_id {event.customer_id!r}: the "
                "worker would dead-letter it again (RETENTION_KAFKA__MISPLACED_EVENTS="
                "dead-letter); set `key` in an exported file")
        return Checked(candidate, value, event.event_id)


def stored_event_ids(runner: QueryRunner, event_ids: Iterable[str]) -> set[str]:
    """The ids among `event_ids` that a raw table holds (dlq/stored_events, in chunks)."""
    ids = sorted(set(event_ids))
    found: set[str] = set()
    for start in range(0, len(ids), MAX_ARRAY_ITEMS):
        chunk = ids[start:start + MAX_ARRAY_ITEMS]
        found.update(row[0] for row in runner.run("dlq/stored_events",
                                                  {"event_ids": chunk}).rows)
    return found


def named_event_id(letter: DeadLetter) -> str | None:
    """The event id a letter's payload names, if it is JSON text with a string event_id
    (valid or not otherwise): what tells a letter whose event is stored already."""
    if letter.payload_encoding != "utf-8" or letter.payload_truncated:
        return None
    try:
        named = json.loads(letter.payload)
    except ValueError:
        return None
    event_id = named.get("event_id") if isinstance(named, dict) else None
    return event_id if isinstance(event_id, str) else None


def replay(candidates: Iterable[Candidate], checker: ReplayChecker, runner: QueryRunner,
           report: ReplayReport, *, send: bool = True) -> ReplayReport:
    """Send every candidate whose event is not stored and that passes the checks (with
    `send` false: report what would be sent); the outcomes are added to `report`."""
    named = [(candidate, named_event_id(candidate.letter)) for candidate in candidates]
    stored = stored_event_ids(runner, (event_id for _, event_id in named if event_id))
    sent: set[str] = set()
    for candidate, event_id in named:
        source, letter = candidate.source, candidate.letter
        if event_id in stored and letter.stage != "processing":
            report.results.append((source, "stored", f"event {event_id} is stored"))
            continue
        try:
            checked = checker.check(candidate)
        except InvalidEvent as exc:
            report.results.append((source, "refused", exc.reason))
            continue
        if checked.event_id in sent:
            report.results.append((source, "stored",
                                   f"event {checked.event_id} sent by this replay already"))
            continue
        if send:
            key = letter.key.encode() if letter.key is not None else None
            checker.publisher.send(letter.topic, key, checked.value)
        sent.add(checked.event_id)
        report.results.append((source, "sent", f"event {checked.event_id}"))
    if send:
        checker.publisher.flush()
    return report


def file_candidates(lines: Iterable[str], name: str,
                    report: ReplayReport) -> Iterator[Candidate]:
    """The letters of an exported (and fixed) file, one DeadLetter per line; a line that is
    not one is refused in `report` with its line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        source = f"{name}:{number}"
        try:
            yield Candidate(source, DeadLetter.model_validate_json(line))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            first = str(exc).splitlines()
            report.results.append((source, "refused",
                                   f"not a dead letter: {' '.join(first[:3])}"))
