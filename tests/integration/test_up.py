"""`retention up` supervises its worker: a crash loses nothing, Ctrl-C drains, twice stops.

The embedded broker keeps topics in memory only; before the supervisor, a worker crash (or
Ctrl-C) under `retention up` took the broker, and every unprocessed event, with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.kafka import wait_idle, worker_status
from tests.integration.helpers import REPLAY_ENV, publish_all, read_topic, wait_for
from tests.integration.store_reader import read_store
from tests.integration.test_pipeline import _expected_outputs
from tests.integration.up import RetentionUp

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=200, months=12, seed=41)
UP_ENV = {**REPLAY_ENV, "RETENTION_SINK__BATCH_MAX_EVENTS": "100"}


def _applied(up: RetentionUp) -> int:
    status = worker_status(up.settings())
    return int(status["counters"]["events"]) if status else 0


def test_worker_killed_under_retention_up_loses_nothing_and_ctrl_c_drains(
        tmp_path: Path) -> None:
    """kill -9 of the worker child mid-stream: it is restarted against the broker that
    stayed up; every event is stored once, the alert and milestone ids equal an
    uninterrupted in-process run; Ctrl-C then drains and exits 0."""
    events = generate_history(SPEC)
    up = RetentionUp(tmp_path / "up", UP_ENV)
    try:
        first = up.start()
        publish_all(up.settings(), list(to_json_lines(events)))
        at_kill = wait_for(lambda: (n := _applied(up)) >= len(events) // 3 and n,
                           timeout_s=120, poll_s=0.02, what="a third of the events applied")
        killed = up.kill_worker()
        assert at_kill < len(events), "the kill must land mid-stream"
        second = up.wait_worker(timeout_s=120, not_pid=killed)
        assert second.pid == first.pid  # the same supervisor, hence the same broker
        assert wait_idle(up.settings(), timeout_s=180).idle
        servers = second.bootstrap_servers
        alerts = {a["alert_id"] for a in read_topic(servers, "churn-risk")}
        milestones = {m["milestone_id"] for m in read_topic(servers, "milestones")}
        up.interrupt()
        assert up.wait(timeout_s=120) == 0, up.log()
    finally:
        up.stop()
    assert "drained" in up.log()
    assert up.run_info() is None  # the run file is gone with the run

    expected_alerts, expected_milestones = _expected_outputs(events, up.settings())
    stored = read_store(up.env)
    print(f"\nretention up: {len(events)} events, worker killed after {at_kill} applied; "
          f"alerts {len(alerts)}/{len(expected_alerts)}, milestones "
          f"{len(milestones)}/{len(expected_milestones)} (run/reference)")
    assert stored.events == {e["event_id"] for e in events}
    assert not stored.dead_letters
    assert alerts == expected_alerts == stored.alerts
    assert milestones == expected_milestones == stored.milestones


def test_second_ctrl_c_stops_at_once_and_says_what_was_left(tmp_path: Path) -> None:
    """With the worker unable to finish, Ctrl-C starts a drain that refuses `retention
    publish`; a second Ctrl-C stops at once, counts the unprocessed events, exits 1 and
    leaves no process behind."""
    events = generate_history(HistorySpec(customers=20, months=3, seed=43))
    up = RetentionUp(tmp_path / "up", UP_ENV)
    try:
        info = up.start()
        assert info.worker_pid is not None
        os.kill(info.worker_pid, signal.SIGSTOP)  # a worker that cannot make progress
        publish_all(up.settings(), list(to_json_lines(events)))
        up.interrupt()
        wait_for(lambda: "draining" in up.log(), timeout_s=60, what="the drain to start")
        source = tmp_path / "more.jsonl"
        source.write_text("\n".join(to_json_lines(events)) + "\n")
        refused = subprocess.run(
            [sys.executable, "-m", "retention.cli.main", "publish", str(source)],
            env={**os.environ, **up.env}, capture_output=True, text=True, timeout=60,
            check=False)
        assert refused.returncode == 3, refused.stderr
        assert "stopping" in refused.stderr
        up.interrupt()
        code = up.wait(timeout_s=60)
    finally:
        up.stop()
    assert code == 1, up.log()
    assert f"stopped at once: {len(events)} published events were left unprocessed" in up.log()
    with pytest.raises(ProcessLookupError):
        os.kill(info.worker_pid, 0)
