"""A worker killed mid-stream (SIGKILL) and restarted changes no alert or milestone.

The embedded broker is a separate process, so it (and its committed offsets) survives the
kill; the worker's RocksDB table folder persists in the same data_dir, as on a real host.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher
from streams.state import day_of
from tests.integration.helpers import (
    REPLAY_ENV,
    counters,
    read_tables,
    read_topic,
    read_topic_raw,
    wait_for,
    wait_idle_alive,
)

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=400, months=12, seed=23)
TABLES = {"churn-risk": ("churn_risk_alerts", "alert_id"),
          "milestones": ("milestones", "milestone_id")}


@dataclass
class Outcome:
    records: dict[str, list[bytes]]
    ids: dict[str, list[str]]
    # topic -> (count(), uniqExact(id)) of its ClickHouse table after FINAL
    stored: dict[str, tuple[int, int]]
    stored_ids: dict[str, set[str]]
    changelog: list[dict[str, Any]]
    seconds: float


def _publish(stack: LocalStack, lines: list[str]) -> None:
    publisher = Publisher(stack.settings())
    report = publisher.publish_lines(lines)
    publisher.close()
    assert report.sent == len(lines) and not report.rejected


def _collect(stack: LocalStack, started: float) -> Outcome:
    status = wait_idle_alive(stack, timeout_s=120)
    assert status.idle, status
    assert stack.servers is not None
    records = {t: read_topic_raw(stack.servers, t) for t in TABLES}
    ids = {t: [json.loads(v)[col] for v in records[t]] for t, (_, col) in TABLES.items()}
    changelog = read_topic(stack.servers,
                           f"{stack.settings().kafka.group_id}-customer-state-changelog")
    rows = read_tables(stack, {topic: f"SELECT {col} FROM {table} FINAL"
                               for topic, (table, col) in TABLES.items()})
    stored = {t: (len(rows[t]), len({r[0] for r in rows[t]})) for t in TABLES}
    stored_ids = {t: {r[0] for r in rows[t]} for t in TABLES}
    return Outcome(records, ids, stored, stored_ids, changelog, time.monotonic() - started)


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    events = generate_history(SPEC)
    assert 2000 < len(events) < 10_000
    # Sorted by event time; the kill run's cut must not split equal timestamps, or an
    # event at the cut could be late in one run and not in the other.
    cut = 2 * len(events) // 3
    assert events[cut - 1]["occurred_at"] < events[cut]["occurred_at"]
    return events


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory,
              history: list[dict[str, Any]]) -> Outcome:
    """The run without a kill."""
    started = time.monotonic()
    with LocalStack(tmp_path_factory.mktemp("reference"), REPLAY_ENV) as stack:
        _publish(stack, list(to_json_lines(history)))
        stack.start_worker()
        return _collect(stack, started)


def _kill_run(data_dir: Path, lines: list[str]) -> tuple[Outcome, int]:
    """First two thirds published, SIGKILL once a third of all events is processed, the
    last third published, a fresh worker finishes. Returns events processed at the kill."""
    started = time.monotonic()
    cut = 2 * len(lines) // 3
    with LocalStack(data_dir, REPLAY_ENV) as stack:
        _publish(stack, lines[:cut])
        stack.start_worker()
        # Polled fast: a batch is 200 events, so the kill falls well inside the first part.
        at_kill = wait_for(
            lambda: (n := counters(stack).get("events", 0)) >= len(lines) // 3 and n,
            timeout_s=120, poll_s=0.02, what="a third of the events processed")
        stack.stop_worker(signal.SIGKILL)
        assert at_kill < cut, "the kill must land mid-stream, with events unprocessed"
        _publish(stack, lines[cut:])
        stack.start_worker()
        return _collect(stack, started), at_kill


def test_sigkill_mid_stream_changes_no_output(tmp_path: Path, history: list[dict[str, Any]],
                                              reference: Outcome) -> None:
    """SIGKILL mid-stream + restart: the same distinct alert/milestone ids as an unkilled
    run, and each id stored exactly once in ClickHouse."""
    killed, at_kill = _kill_run(tmp_path / "killed", list(to_json_lines(history)))

    # Printed before asserting: the numbers help whichever way the run goes.
    redelivered = {t: len(killed.ids[t]) - len(set(killed.ids[t])) for t in TABLES}
    identical = {t: sum(n - 1 for n in Counter(killed.records[t]).values()) for t in TABLES}
    print(f"\nrestart: {len(history)} events, killed after {at_kill} processed; distinct "
          f"ids reference {[len(set(reference.ids[t])) for t in TABLES]}, kill run "
          f"{[len(set(killed.ids[t])) for t in TABLES]} (churn-risk, milestones); "
          f"re-deliveries on the topics in the kill run (same id again): {redelivered}, of "
          f"them byte-identical records: {identical}; reference {reference.seconds:.1f} s, "
          f"kill run {killed.seconds:.1f} s")

    for topic in TABLES:
        expected = set(reference.ids[topic])
        assert expected, topic
        assert set(killed.ids[topic]) == expected, topic
        for run in (reference, killed):
            assert run.stored[topic] == (len(expected), len(expected)), (topic, run.stored)
            assert run.stored_ids[topic] == expected, topic


def _torn(state: dict[str, Any]) -> bool:
    """A state holding evidence from after its own `updated_at` (the latest event time
    it has applied) mixes two versions."""
    until = state["updated_at"]
    stamps = [*state["open_tickets"].values(), *state["tickets_opened_at"]]
    return (any(t > until for t in stamps)
            or any(int(day) > day_of(until) for day in state["daily"]))


def test_changelog_holds_consistent_customer_states(reference: Outcome) -> None:
    """Every customer-state changelog record (what a restarted or new worker restores
    from) is one consistent version of the state."""
    # Faust serialises a changelog value when its producer buffer flushes: a value that
    # shares containers with the live state would carry later batches' changes.
    torn = [s for s in reference.changelog if _torn(s)]
    print(f"\nchangelog: {len(reference.changelog)} records, {len(torn)} torn, e.g. "
          f"{[(s['customer_id'], s['version']) for s in torn[:3]]}")
    assert reference.changelog
    assert not torn
