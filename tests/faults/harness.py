"""The fault matrix's bookkeeping: what a run offered, what it left behind, one row each.

Every row is judged by the same invariant: events offered = stored + dead-lettered, the
distinct alert and milestone ids equal an uninterrupted reference run of the same valid
events, and the worker is still running. Duplicates seen by subscribers (a record on
churn-risk or milestones whose id was already there) are counted, not judged: delivery is
at-least-once and subscribers dedupe by id (docs/alert-consumers.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from retention.demo.synthetic import HistorySpec, generate_history
from retention.settings import Settings
from tests.integration.helpers import REPLAY_ENV, read_topic_raw
from tests.integration.store_reader import Stored
from tests.integration.test_pipeline import _expected_outputs

# Small histories keep the whole matrix within minutes on two cores.
SPEC = HistorySpec(customers=300, months=12, seed=59)
# A replay (outputs published as if lived through, watermarks in event time) in batches
# of 100: many commits per run, so faults land between two of them.
STACK_ENV = {**REPLAY_ENV, "RETENTION_SINK__BATCH_MAX_EVENTS": "100"}
OUTPUT_IDS = {"churn-risk": "alert_id", "milestones": "milestone_id"}


@dataclass
class Row:
    fault: str
    offered: int
    stored: int
    dead_lettered: int
    # distinct ids seen on the topic / in the reference run
    alerts: tuple[int, int]
    milestones: tuple[int, int]
    duplicates_seen: int
    worker_running: bool
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def cells(self) -> list[str]:
        verdict = "ok" if self.ok else "FAIL: " + "; ".join(self.problems)
        return [self.fault, str(self.offered), str(self.stored), str(self.dead_lettered),
                "{} / {}".format(*self.alerts), "{} / {}".format(*self.milestones),
                str(self.duplicates_seen), "yes" if self.worker_running else "no",
                f"{self.seconds:.0f}", verdict]


HEADER = ["fault", "offered", "stored", "dead-lettered", "alert ids (run / reference)",
          "milestone ids (run / reference)", "duplicates seen by subscribers",
          "worker running", "seconds", "result"]
ROWS: list[Row] = []


def table(rows: list[Row]) -> str:
    """The matrix as a Markdown table (what `make faults` prints and the README shows)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def history() -> list[dict[str, Any]]:
    return generate_history(SPEC)


def cuts(events: list[dict[str, Any]], fractions: list[float]) -> list[int]:
    """Positions near `fractions` of the (time-sorted) history that split no timestamp: an
    event sharing its time with one published earlier could be late in one run and not in
    another (see tests/integration/test_restart.py)."""
    out = []
    for fraction in fractions:
        cut = max(1, int(len(events) * fraction))
        while cut < len(events) and events[cut - 1]["occurred_at"] == events[cut]["occurred_at"]:
            cut += 1
        out.append(cut)
    return out


@dataclass
class Topics:
    """What subscribers saw: every record's id, in order, duplicates included."""

    ids: dict[str, list[str]]

    @classmethod
    def read(cls, servers: str) -> Topics:
        return cls({topic: [json.loads(v)[col] for v in read_topic_raw(servers, topic)]
                    for topic, col in OUTPUT_IDS.items()})

    def distinct(self, topic: str) -> set[str]:
        return set(self.ids[topic])

    @property
    def duplicates(self) -> int:
        return sum(len(ids) - len(set(ids)) for ids in self.ids.values())


def merge(stores: list[Stored]) -> Stored:
    """Several workers' folders as one ClickHouse (in server mode they share one)."""
    return Stored(events=set().union(*(s.events for s in stores)),
                  dead_letters={k: v for s in stores for k, v in s.dead_letters.items()},
                  alerts=set().union(*(s.alerts for s in stores)),
                  milestones=set().union(*(s.milestones for s in stores)))


def distinct(events: list[dict[str, Any]]) -> int:
    return len({e["event_id"] for e in events})


def judge(fault: str, started: float, *, offered: int, applied: list[dict[str, Any]],
          settings: Settings, topics: Topics, stored: Stored, worker_running: bool,
          problems: list[str] | None = None) -> Row:
    """One row: `offered` events and messages went in; the reference run applies `applied`
    (the valid events, each routed to its customer's partition)."""
    expected_alerts, expected_milestones = _expected_outputs(applied, settings)
    row = Row(fault, offered, len(stored.events), len(stored.dead_letters),
              (len(topics.distinct("churn-risk")), len(expected_alerts)),
              (len(topics.distinct("milestones")), len(expected_milestones)),
              topics.duplicates, worker_running, time.monotonic() - started,
              list(problems or []))
    if offered != row.stored + row.dead_lettered:
        row.problems.append(f"offered {offered} != stored {row.stored} + dead-lettered "
                            f"{row.dead_lettered}")
    for name, seen, kept, expected in [
            ("alert", topics.distinct("churn-risk"), stored.alerts, expected_alerts),
            ("milestone", topics.distinct("milestones"), stored.milestones,
             expected_milestones)]:
        if seen != expected:
            row.problems.append(f"{name} ids: {len(expected - seen)} missing, "
                                f"{len(seen - expected)} extra")
        if kept != expected:
            row.problems.append(f"{name} ids in ClickHouse: {len(expected - kept)} missing, "
                                f"{len(kept - expected)} extra")
    if not worker_running:
        row.problems.append("the worker is not running")
    ROWS.append(row)
    return row
