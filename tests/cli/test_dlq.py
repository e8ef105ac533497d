"""`retention dlq` on chDB without a broker: letters made by the worker's own parser, stored
as the sink stores them; list, counts, show, export, and the replay's checks and dedupe
(the producer records what would be sent: the real broker is tests/integration/test_dlq.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from retention.cli.dlq_replay import Candidate, ReplayChecker, ReplayReport, replay
from retention.cli.main import cli
from retention.kafka import Publisher
from retention.settings import Settings, get_settings
from schemas import DeadLetter
from sinks.rows import COLUMNS, dead_letter_row
from streams.processor.dead_letters import DeadLetters
from streams.processor.messages import BatchResult, InMessage
from streams.processor.parse import EventParser
from tests.analytics.conftest import Db, open_db
from tests.cli.test_import_files import RecordingProducer

LIMIT = 16_384  # RETENTION_KAFKA__MAX_MESSAGE_BYTES (its minimum): a 20 kB message is too big
NOW = dt.datetime.now(dt.UTC)
HOUR_AGO = (NOW - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def purchase(event_id: str, customer: str, amount: Any = 10.0, at: str = HOUR_AGO) -> bytes:
    return json.dumps({"type": "purchase", "event_id": event_id, "customer_id": customer,
                       "occurred_at": at, "order_id": f"o-{event_id}",
                       "amount": amount}).encode()


def survey(event_id: str, customer: str, score: int) -> bytes:
    return json.dumps({"type": "survey", "event_id": event_id, "customer_id": customer,
                       "occurred_at": HOUR_AGO, "survey": "nps", "score": score}).encode()


# (topic, key, value, failed hours ago); offsets are positions in this list. One partition,
# so every correctly keyed message is in its customer's partition.
MESSAGES: list[tuple[str, bytes | None, bytes, int]] = [
    ("purchases", b"c1", purchase("e-ok", "c1"), 0),                        # valid: stored
    ("purchases", b"c2", b"{not json", 5),                                  # parse
    ("survey-responses", b"c3", survey("s-bad", "c3", 11), 4),              # parse
    ("purchases", b"c4", b"\xff\xfe not utf-8", 3),                         # parse, base64
    ("purchases", b"c1", purchase("e-ok", "c1", amount="x"), 2),            # parse, e-ok stored
    ("purchases", b"c5", purchase("e-old", "c5", at="1990-01-01T00:00:00Z"), 1),  # event_time
    ("purchases", b"c6", purchase("e-big", "c6") + b" " * 20_000, 1),       # size, truncated
]
# By hand from MESSAGES.
LETTERS = {1: "parse", 2: "parse", 3: "parse", 4: "parse", 5: "event_time", 6: "size"}


@pytest.fixture
def env(chdb_dsn: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """A database holding what the worker's parser made of MESSAGES: the valid event's row
    and one dead letter per refused message, failed at its own hour."""
    db = open_db(chdb_dsn, tmp_path, kafka={"partitions": 1, "max_message_bytes": LIMIT})
    parser = EventParser(db.settings, DeadLetters(db.settings.kafka))
    result = BatchResult()
    for offset, (topic, key, value, _) in enumerate(MESSAGES):
        parser.parse(InMessage(topic, 0, offset, key, value), result, NOW, NOW.timestamp())
    for table in ("purchases",):
        db.client.insert(table, result.rows.rows[table], column_names=COLUMNS[table])
    letters = [DeadLetter.model_validate_json(m.value) for m in result.messages]
    rows = [dead_letter_row(letter.model_copy(update={
        "failed_at": NOW - dt.timedelta(hours=MESSAGES[letter.offset][3])}))
        for letter in letters]
    db.client.insert("dead_letters", rows, column_names=COLUMNS["dead_letters"])
    ch = db.settings.clickhouse
    for name, value in {"RETENTION_CLICKHOUSE__DSN": ch.dsn.get_secret_value(),
                        "RETENTION_CLICKHOUSE__DATABASE": str(ch.database),
                        "RETENTION_DATA_DIR": str(tmp_path),
                        "RETENTION_KAFKA__PARTITIONS": "1",
                        "RETENTION_KAFKA__MAX_MESSAGE_BYTES": str(LIMIT)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
    db.close()


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["dlq", *args], catch_exceptions=False)
    return result


def listed(*args: str) -> list[dict[str, Any]]:
    result = run("list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_list_shows_every_letter_newest_first_with_its_event(env: Db) -> None:
    """One row per refused message, newest first, with its stage, size, the event id its
    payload names and whether that event is stored (only e-ok is)."""
    rows = listed()
    assert [r["offset"] for r in rows] == sorted(LETTERS, key=lambda o: MESSAGES[o][3])
    assert {r["offset"]: r["stage"] for r in rows} == LETTERS
    by_offset = {r["offset"]: r for r in rows}
    assert by_offset[4]["event_id"] == "e-ok" and by_offset[4]["stored"] is True
    assert by_offset[2]["event_id"] == "s-bad" and by_offset[2]["stored"] is False
    assert by_offset[1]["event_id"] is None and by_offset[3]["event_id"] is None
    assert by_offset[6]["payload_truncated"] is True
    assert by_offset[6]["payload_bytes"] == len(MESSAGES[6][2])
    assert by_offset[3]["payload_encoding"] == "base64"
    assert by_offset[1]["letter"] == "purchases:0:1"


def test_list_filters_by_topic_stage_reason_and_time(env: Db) -> None:
    """Each filter keeps exactly the letters a hand count of MESSAGES gives."""
    assert {r["offset"] for r in listed("--topic", "survey")} == {2}
    assert {r["offset"] for r in listed("--stage", "parse")} == {1, 2, 3, 4}
    assert {r["offset"] for r in listed("--reason", "json")} == {1, 3}
    assert {r["offset"] for r in listed("--reason", "SCORE")} == {2}
    since = (NOW - dt.timedelta(hours=3, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (NOW - dt.timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert {r["offset"] for r in listed("--since", since, "--until", until)} == {3, 4}
    # The newest two: both failed an hour ago, then ordered by (topic, partition, offset).
    assert [r["offset"] for r in listed("--limit", "2")] == [5, 6]


def test_counts_per_reason(env: Db) -> None:
    """--by-reason: one row per (stage, reason, topic); the counts add up to the letters
    and the stored count is the one letter naming a stored event."""
    result = run("list", "--by-reason", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(r["letters"] for r in rows) == len(LETTERS)
    assert sum(r["stored"] for r in rows) == 1
    by_stage: dict[str, int] = {}
    for r in rows:
        by_stage[r["stage"]] = by_stage.get(r["stage"], 0) + r["letters"]
    assert by_stage == {"parse": 4, "event_time": 1, "size": 1}


def test_show_prints_the_original_bytes(env: Db) -> None:
    """Text payloads as they were; bytes that are not UTF-8 as a hex dump, and --raw
    writes them exactly."""
    text = run("show", "survey-responses:0:2")
    assert text.exit_code == 0, text.output
    assert "stage      parse" in text.stdout
    assert MESSAGES[2][2].decode() in text.stdout.splitlines()
    binary = run("show", "purchases:0:3")
    assert "ff fe 20 6e 6f 74" in binary.stdout  # \xff\xfe" not"
    raw = CliRunner().invoke(cli, ["dlq", "show", "--raw", "purchases:0:3"])
    assert raw.stdout_bytes == MESSAGES[3][2]
    truncated = run("show", "purchases:0:6")
    assert f"of {len(MESSAGES[6][2]):,} bytes (payload_truncated;" in truncated.stdout
    missing = run("show", "purchases:0:99")
    assert missing.exit_code == 4 and "no dead letter at purchases:0:99" in missing.stderr
    assert run("show", "purchases-0-1").exit_code == 2


def test_export_writes_the_dead_letter_records(env: Db) -> None:
    """One DeadLetter per line, equal to what is stored: payloads decode to the original
    bytes; --pending leaves out the letter whose event is stored."""
    result = run("export", "--stage", "parse")
    assert result.exit_code == 0, result.output
    letters = [DeadLetter.model_validate_json(line) for line in result.stdout.splitlines()]
    assert sorted(x.offset for x in letters) == [1, 2, 3, 4]
    binary = next(x for x in letters if x.offset == 3)
    assert base64.b64decode(binary.payload) == MESSAGES[3][2]
    assert next(x for x in letters if x.offset == 2).payload == MESSAGES[2][2].decode()
    pending = run("export", "--stage", "parse", "--pending")
    assert sorted(DeadLetter.model_validate_json(x).offset
                  for x in pending.stdout.splitlines()) == [1, 2, 3]


def exported(env: Db) -> dict[int, DeadLetter]:
    result = run("export")
    return {x.offset: x for x in map(DeadLetter.model_validate_json, result.stdout.splitlines())}


def replay_of(settings: Settings, env: Db, letters: list[DeadLetter],
              ) -> tuple[ReplayReport, RecordingProducer]:
    producer = RecordingProducer()
    publisher = Publisher(settings, producer=producer)
    report = replay([Candidate(str(x.offset), x) for x in letters],
                    ReplayChecker(settings, publisher), env.runner, ReplayReport())
    return report, producer


def test_replay_sends_fixed_letters_with_their_key_and_refuses_the_rest(env: Db) -> None:
    """A fixed survey is sent to its topic with its key and the fixed bytes; unfixed,
    truncated and stored ones are not, each with the reason."""
    letters = exported(env)
    fixed = letters[2].model_copy(update={"payload": survey("s-bad", "c3", 3).decode()})
    report, producer = replay_of(get_settings(), env, [fixed, *(
        letters[o] for o in (1, 3, 4, 6))])
    assert producer.sent == [("survey-responses", b"c3", survey("s-bad", "c3", 3))]
    outcomes = {source: (outcome, detail) for source, outcome, detail in report.results}
    assert outcomes["2"] == ("sent", "event s-bad")
    assert outcomes["1"][0] == "refused" and "not valid JSON" in outcomes["1"][1]
    assert outcomes["3"][0] == "refused"
    # Still invalid, but it names an event that is stored: nothing to replay.
    assert outcomes["4"] == ("stored", "event e-ok is stored")
    assert outcomes["6"][0] == "refused" and "payload_truncated" in outcomes["6"][1]
    # Fixed, but its event is stored already: not sent.
    fixed_ok = letters[4].model_copy(update={"payload": purchase("e-ok", "c1").decode()})
    report, producer = replay_of(get_settings(), env, [fixed_ok])
    assert producer.sent == [] and report.results[0][1] == "stored"


def test_replay_sends_one_copy_per_event_id(env: Db) -> None:
    """Two letters naming the same (unstored) event: it is sent once."""
    letter = exported(env)[2].model_copy(update={"payload": survey("s-bad", "c3", 3).decode()})
    report, producer = replay_of(get_settings(), env, [letter, letter])
    assert len(producer.sent) == 1
    assert [o for _, o, _ in report.results] == ["sent", "stored"]


def test_replay_checks_with_todays_settings(env: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event-time letter passes once RETENTION_SIGNALS__MIN_EVENT_TIME allows its time
    (its reason is gone); misplaced keys are refused while the worker would refuse them."""
    old = exported(env)[5]
    report, producer = replay_of(get_settings(), env, [old])
    assert producer.sent == [] and "before" in report.results[0][2]
    monkeypatch.setenv("RETENTION_SIGNALS__MIN_EVENT_TIME", "1980-01-01T00:00:00Z")
    monkeypatch.setenv("RETENTION_KAFKA__MISPLACED_EVENTS", "dead-letter")
    get_settings.cache_clear()
    report, producer = replay_of(get_settings(), env, [old])
    assert producer.sent == [("purchases", b"c5", MESSAGES[5][2])]
    rekeyed = old.model_copy(update={"key": "someone-else"})
    report, producer = replay_of(get_settings(), env, [rekeyed])
    assert producer.sent == [] and "not by its customer_id 'c5'" in report.results[0][2]


def test_replay_needs_one_source() -> None:
    """Neither or both of --file and --stored is a usage error (exit 2)."""
    assert run("replay").exit_code == 2


def test_a_processing_letter_is_sent_although_its_event_is_stored(env: Db) -> None:
    """A `processing` letter's event was written on arrival but never applied: stored or
    not, it is sent (the worker's memory of event ids dedupes a second replay)."""
    letter = exported(env)[4].model_copy(update={
        "stage": "processing", "payload": purchase("e-ok", "c1").decode()})
    report, producer = replay_of(get_settings(), env, [letter])
    assert producer.sent == [("purchases", b"c1", purchase("e-ok", "c1"))]
    assert report.results == [("4", "sent", "event e-ok")]
