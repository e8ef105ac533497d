"""Two workers in one group: a rebalance mid-stream loses and changes nothing.

Worker A processes the first half of a history alone; worker B joins while the third
quarter is published: A hands partitions over (it flushes their state to the table and
drops what it had buffered, unacknowledged) and B restores their state from the
changelog; then the last quarter is published and both process it. The distinct alert
and milestone ids must equal an independent in-process run, and the two workers'
ClickHouse folders together must hold every event. Each worker has its own chDB folder
(a folder is opened by one process at a time).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, worker_status
from retention.settings import Settings
from tests.integration.helpers import (
    REPLAY_ENV,
    counters,
    read_tables,
    read_topic,
    wait_for,
    wait_idle_alive,
)
from tests.integration.test_pipeline import _expected_outputs, reference_results

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=400, months=12, seed=31)


def _publish(stack: LocalStack, events: list[dict[str, Any]]) -> None:
    publisher = Publisher(stack.settings())
    report = publisher.publish_lines(list(to_json_lines(events)))
    publisher.close()
    assert report.sent == len(events) and not report.rejected


def _partitions(stack: LocalStack) -> set[int]:
    """Input partitions the worker holds a watermark for: processed and still owned."""
    status = worker_status(stack.settings()) or {}
    return {int(p) for p in status.get("watermarks", {})}


def test_a_second_worker_joining_mid_stream_changes_no_output(tmp_path: Path) -> None:
    events = generate_history(SPEC)
    half = len(events) // 2
    # Sorted by event time; a cut must not split equal timestamps (as test_restart).
    last_quarter = 3 * len(events) // 4
    for cut in (half, last_quarter):
        assert events[cut - 1]["occurred_at"] < events[cut]["occurred_at"]
    distinct_events = {e["event_id"] for e in events}

    with LocalStack(tmp_path / "a", REPLAY_ENV) as a:
        # B is pointed at A's embedded broker by address, so it must be told it is tansu.
        b = LocalStack(tmp_path / "b", {**REPLAY_ENV, "RETENTION_KAFKA__BROKER_KIND": "tansu"},
                       bootstrap_servers=a.servers)
        b.start()
        try:
            _publish(a, events[:half])
            a.start_worker()
            wait_for(lambda: counters(a).get("events", 0) >= half // 2, timeout_s=120,
                     what="worker A processing the first half")
            b.start_worker()
            wait_for(lambda: worker_status(b.settings()), timeout_s=120, what="worker B up")
            _publish(a, events[half:last_quarter])
            wait_for(lambda: counters(b).get("events", 0) > 0, timeout_s=120,
                     what="worker B taking over partitions")
            _publish(a, events[last_quarter:])  # for both workers, after the hand-over
            for stack in (a, b):
                status = wait_idle_alive(stack, timeout_s=180)
                assert status.idle, status
            owned = (_partitions(a), _partitions(b))
            done = (counters(a), counters(b))
            assert a.servers is not None
            raw_alerts = read_topic(a.servers, "churn-risk")
            alerts = {r["alert_id"] for r in raw_alerts}
            milestones = {r["milestone_id"] for r in read_topic(a.servers, "milestones")}
            stored: list[str] = []
            for stack in (b, a):  # each worker stopped before its folder is read
                rows = read_tables(stack, {t: f"SELECT event_id FROM {t} FINAL" for t in
                                           ("purchases", "support_events", "survey_responses")})
                stored += [r[0] for table_rows in rows.values() for r in table_rows]
        finally:
            b.stop()

    expected_alerts, expected_milestones = _expected_outputs(events, a.settings())
    print(f"\ntwo workers: {len(events)} events; partitions after the rebalance A {owned[0]}, "
          f"B {owned[1]}; events applied A {done[0].get('events')}, B "
          f"{done[1].get('events')}, duplicates dropped {done[0].get('duplicates', 0)} + "
          f"{done[1].get('duplicates', 0)}; rows stored by both workers "
          f"{len(stored) - len(set(stored))}; alerts {len(alerts)}, milestones "
          f"{len(milestones)}")
    assert owned[0] and owned[1], "both workers must own partitions after the rebalance"
    # Rows: every event in one folder or both. Events A had read but not yet released at
    # the hand-over are written again by B: with one ClickHouse (any real deployment) the
    # ReplacingMergeTree keeps one row per event_id; here the folders are separate.
    assert set(stored) == distinct_events
    missing = Counter(r["rule_id"] for r in _reference(events, a.settings())
                      if r["alert_id"] in expected_alerts - alerts)
    extra = Counter(r["rule_id"] for r in raw_alerts if r["alert_id"] not in expected_alerts)
    print(f"alerts missing by rule {dict(missing)}, extra by rule {dict(extra)}")
    assert alerts == expected_alerts
    assert milestones == expected_milestones




def _reference(events: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """The alerts of an independent in-process run (as _expected_outputs), as payloads."""
    return [json.loads(m.value) for r in reference_results(events, settings)
            for m in r.messages if m.topic == "churn-risk"]
