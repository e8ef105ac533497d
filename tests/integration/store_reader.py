"""What a stopped worker's ClickHouse holds, for tests that judge a whole run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tests.integration.helpers import read_tables_in

QUERIES = {
    "events": "SELECT event_id FROM purchases FINAL UNION ALL "
              "SELECT event_id FROM support_events FINAL UNION ALL "
              "SELECT event_id FROM survey_responses FINAL",
    "dead_letters": "SELECT topic, partition, offset, reason FROM dead_letters FINAL",
    "alerts": "SELECT alert_id FROM churn_risk_alerts FINAL",
    "milestones": "SELECT milestone_id FROM milestones FINAL",
}


@dataclass(frozen=True)
class Stored:
    events: set[str]
    # (topic, partition, offset) of every dead letter, with its reason
    dead_letters: dict[tuple[str, int, int], str]
    alerts: set[str]
    milestones: set[str]


def read_store(env: Mapping[str, str]) -> Stored:
    """The distinct rows of the database `env` names; its worker must have stopped."""
    rows = read_tables_in(env, QUERIES)
    return Stored(events={r[0] for r in rows["events"]},
                  dead_letters={(t, int(p), int(o)): r for t, p, o, r in rows["dead_letters"]},
                  alerts={r[0] for r in rows["alerts"]},
                  milestones={r[0] for r in rows["milestones"]})
