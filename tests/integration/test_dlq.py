"""The dead-letter workflow as an operator runs it, on the embedded backends (real tansu,
real chDB, the worker as a process, `retention dlq` as a subprocess): list, show, export,
fix, replay twice; then a settings fix and a replay of the letters whose reason is gone.
Each replayed event is stored once and raises its alert once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, worker_status
from streams.outputs import partition_for
from tests.integration.helpers import (
    counters,
    read_tables,
    read_topic,
    wait_for,
    wait_idle_alive,
)

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)
# The worker at first takes nothing older than 30 days: the purchase of 60 days ago is
# dead-lettered (stage event_time) until the setting is fixed.
FLOOR = (NOW - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
STACK_ENV = {
    "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
    "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
    "RETENTION_SIGNALS__MIN_EVENT_TIME": FLOOR,
    "RETENTION_KAFKA__MAX_MESSAGE_BYTES": "16384",  # its minimum: a 20 kB message is too big
}


def _at(delta: dt.timedelta) -> str:
    return (NOW - delta).isoformat().replace("+00:00", "Z")


OLD_PURCHASE = {"type": "purchase", "event_id": "e-old", "customer_id": "c-old",
                "occurred_at": _at(dt.timedelta(days=60)), "order_id": "o-old", "amount": 42.0}
BAD_SURVEY = {"type": "survey", "event_id": "s-fix", "customer_id": "c-fix",
              "occurred_at": _at(dt.timedelta(hours=1)), "survey": "nps", "score": 11}
# (topic, key, value) as a producer sent them, keyed by customer_id.
MESSAGES = [
    ("purchases", b"c-old", json.dumps(OLD_PURCHASE).encode()),
    ("survey-responses", b"c-fix", json.dumps(BAD_SURVEY).encode()),
    ("purchases", b"c-bad", b"{not json"),
    ("purchases", b"c-big", json.dumps({**OLD_PURCHASE, "event_id": "e-big", "customer_id":
                                        "c-big", "order_id": "o" * 20_000}).encode()),
]


def retention(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retention.cli.main", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300, check=False)


def wait_idle(stack: LocalStack) -> None:
    assert wait_idle_alive(stack, 180).idle, "the worker did not finish"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("dlq")
    local = LocalStack(folder / "stack", STACK_ENV)
    try:
        settings = local.start()
        local.start_worker()
        wait_for(lambda: worker_status(settings), timeout_s=120, what="the worker's web view")
        publisher = Publisher(settings)
        for topic, key, value in MESSAGES:
            publisher.send(topic, key, value)  # unchecked: as a careless producer sends
        publisher.flush()
        publisher.close()
        wait_idle(local)
        yield local
    finally:
        local.stop()


def test_the_workflow_replays_each_event_once(stack: LocalStack, tmp_path: Path) -> None:
    """list, show, export, fix, replay twice (and once more after the worker is idle), fix a
    setting, replay the stored letters twice: every replayed event is stored once, in the
    partition its key maps to, its alert published once, and no replay made a new letter."""
    env = stack.env
    assert stack.servers is not None

    listed = retention(env, "dlq", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    letters = {row["event_id"] or row["key"]: row
               for row in map(json.loads, listed.stdout.splitlines())}
    assert {k: v["stage"] for k, v in letters.items()} == {
        "e-old": "event_time", "s-fix": "parse", "c-bad": "parse", "c-big": "size"}
    assert not any(v["stored"] for v in letters.values())

    shown = retention(env, "dlq", "show", letters["s-fix"]["letter"])
    assert shown.returncode == 0, shown.stderr
    assert MESSAGES[1][2].decode() in shown.stdout.splitlines()
    assert "nps score must be 0-10, got 11" in shown.stdout
    # Too large to store whole: the letter keeps a prefix; the topic still has it all.
    big = letters["c-big"]["letter"]
    excerpt = retention(env, "dlq", "show", big)
    assert f"of {len(MESSAGES[3][2]):,} bytes (payload_truncated" in excerpt.stdout
    whole = subprocess.run([sys.executable, "-m", "retention.cli.main", "dlq", "show", "--raw",
                            "--from-topic", big], env={**os.environ, **env},
                           capture_output=True, timeout=120, check=False)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == MESSAGES[3][2]

    # Export the parse failures, fix the survey's score, leave the broken JSON as it is.
    fix = tmp_path / "fix.jsonl"
    exported = retention(env, "dlq", "export", "--stage", "parse", "--out", str(fix))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in fix.read_text().splitlines()]
    assert len(lines) == 2
    for line in lines:
        if line["key"] == "c-fix":
            line["payload"] = json.dumps({**BAD_SURVEY, "score": 3})
    fix.write_text("".join(json.dumps(line) + "\n" for line in lines))

    first = retention(env, "dlq", "replay", "--file", str(fix))
    second = retention(env, "dlq", "replay", "--file", str(fix))  # before the first is stored
    assert first.returncode == 1, first.stderr  # the broken JSON is refused
    assert "sent: event s-fix" in first.stdout
    assert "refused: not valid JSON" in first.stdout
    assert second.returncode == 1, second.stderr
    wait_idle(stack)
    third = retention(env, "dlq", "replay", "--file", str(fix))
    assert "already stored: event s-fix is stored" in third.stdout, third.stdout
    # A replay racing another (both checked before either was stored) sends the event
    # again: the worker is the backstop. Sent here on purpose, after it is stored.
    before = counters(stack)["duplicates"]
    racing = Publisher(stack.settings())
    racing.send("survey-responses", b"c-fix", json.dumps({**BAD_SURVEY, "score": 3}).encode())
    racing.flush()
    racing.close()
    wait_idle(stack)
    assert counters(stack)["duplicates"] == before + 1

    # The settings fix: the worker (and the replay's checks) take 60-day-old events again.
    stack.stop_worker()
    env["RETENTION_SIGNALS__MIN_EVENT_TIME"] = "2000-01-01T00:00:00Z"
    stack.start_worker()
    wait_for(lambda: worker_status(stack.settings()), timeout_s=120, what="the worker back")
    gone = retention(env, "dlq", "replay", "--stored")
    assert gone.returncode == 1, gone.stderr
    results = gone.stdout.splitlines()
    assert f"{letters['e-old']['letter']}  sent: event e-old" in results
    assert f"{letters['s-fix']['letter']}  already stored: event s-fix is stored" in results
    assert any(r.startswith(f"{letters['c-bad']['letter']}  refused") for r in results)
    wait_idle(stack)
    again = retention(env, "dlq", "replay", "--stored")
    assert f"{letters['e-old']['letter']}  already stored: event e-old is stored" in \
        again.stdout.splitlines()
    listed = retention(env, "dlq", "list", "--format", "json")
    stored = {row["event_id"]: row["stored"] for row in map(json.loads, listed.stdout.splitlines())}
    assert stored == {"e-old": True, "s-fix": True, None: False}

    partitions = stack.settings().kafka.partitions
    alerts = [a for a in read_topic(stack.servers, "churn-risk") if a["customer_id"] == "c-fix"]
    assert [(a["rule_id"], a["trigger_event_id"]) for a in alerts] == [
        ("nps_detractor", "s-fix")]
    rows = _stored(stack)
    assert rows["old"] == [[1, partition_for(b"c-old", partitions)]]
    assert rows["survey"][0][0] == 1
    assert rows["survey"][0][1] == partition_for(b"c-fix", partitions)
    assert rows["alerts"] == [[1]]
    assert rows["letters"] == [[len(MESSAGES)]]


def _stored(stack: LocalStack) -> dict[str, list[list[Any]]]:
    """Distinct events, their partition, alerts and letters, read once the worker stops."""
    return read_tables(stack, {
        "old": "SELECT count(), any(kafka_partition) FROM purchases FINAL "
               "WHERE event_id = 'e-old'",
        "survey": "SELECT count(), any(kafka_partition) FROM survey_responses FINAL "
                  "WHERE event_id = 's-fix'",
        "alerts": "SELECT count() FROM churn_risk_alerts FINAL WHERE customer_id = 'c-fix'",
        "letters": "SELECT count() FROM dead_letters FINAL",
    })
