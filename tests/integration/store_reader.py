"""What a stopped worker's ClickHouse holds, read in a process of its own.

A process opens one embedded chDB folder at most (the test process has the session's), so
tests that check several workers' folders read each with `read_store(settings)`, which runs
this module as `python -m tests.integration.store_reader` with the stack's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from retention.settings import Settings
from sinks.reader import ClientRunner

EVENT_TABLES = ("purchases", "support_events", "survey_responses")


@dataclass(frozen=True)
class Stored:
    events: set[str]
    # (topic, partition, offset) of every dead letter, with its reason
    dead_letters: dict[tuple[str, int, int], str]
    alerts: set[str]
    milestones: set[str]


def read_store(env: dict[str, str], timeout_s: float = 120) -> Stored:
    """The folder named by `env`'s DSN; its worker must have stopped."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
    done = subprocess.run([sys.executable, "-m", "tests.integration.store_reader"],
                          env={**base, **env}, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise AssertionError(f"reading the store failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout)
    return Stored(events=set(data["events"]),
                  dead_letters={(t, int(p), int(o)): r for t, p, o, r in data["dead_letters"]},
                  alerts=set(data["alerts"]), milestones=set(data["milestones"]))


def main() -> None:
    runner = ClientRunner(Settings())
    try:
        events = [r[0] for table in EVENT_TABLES
                  for r in runner.query(f"SELECT event_id FROM {table} FINAL").rows]
        letters = runner.query("SELECT topic, partition, offset, reason FROM dead_letters FINAL")
        alerts = runner.query("SELECT alert_id FROM churn_risk_alerts FINAL")
        milestones = runner.query("SELECT milestone_id FROM milestones FINAL")
        json.dump({"events": events, "dead_letters": letters.rows,
                   "alerts": [r[0] for r in alerts.rows],
                   "milestones": [r[0] for r in milestones.rows]}, sys.stdout)
    finally:
        runner.close()


if __name__ == "__main__":
    main()
