"""Absence rules fire live: the wall clock moves the watermark when no event arrives."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.embedded.stack import LocalStack
from retention.kafka import Publisher
from tests.integration.helpers import counters, operations, wait_for, watch_topic

pytestmark = pytest.mark.integration

GAP_S = 20.0  # between the customer's two orders
FACTOR = 0.5  # overdue after 0.5 x the mean gap: 10 s after the last order
SLA_HOURS = 0.0025  # 9 s, exact in binary floating point
STACK_ENV = {
    "RETENTION_SIGNALS__LIVE_WATERMARK": "true",
    "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "1",
    "RETENTION_SIGNALS__OVERDUE_FLOOR_DAYS": "0",
    "RETENTION_SIGNALS__OVERDUE_FACTOR": str(FACTOR),
    "RETENTION_SIGNALS__SLA_HOURS": str(SLA_HOURS),
    "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
}
CUSTOMER = "cust-live-1"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _millis(text: str) -> int:
    """A ClickHouse DateTime64(3, 'UTC') as the worker sends it (ISO text, maybe naive)."""
    parsed = datetime.fromisoformat(text)
    at = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return round(at.timestamp() * 1000)


def test_absence_rules_fire_on_wall_clock_without_new_events(tmp_path: Path) -> None:
    """With no new events, inactive_overdue and slow_resolution fire as the wall clock
    passes their due times, decided at the exact due event time, with no trigger event."""
    started = time.monotonic()
    with LocalStack(tmp_path / "stack", STACK_ENV) as stack:
        stack.start_worker()
        publisher = Publisher(stack.settings())
        # A warm-up event proves the worker joined the group and consumes, so the due
        # times below fall after the worker has seen the evidence, not before.
        warm = {"type": "purchase", "event_id": "warm-1", "customer_id": "cust-warm",
                "occurred_at": _iso(time.time() - 3600), "order_id": "ow", "amount": 5.0}
        assert publisher.publish_lines([json.dumps(warm)]).sent == 1
        wait_for(lambda: counters(stack).get("events", 0) >= 1, timeout_s=90,
                 what="the worker to consume the warm-up event")

        now = float(math.floor(time.time()))  # whole seconds: the due times stay exact
        lines = [
            {"type": "purchase", "event_id": "live-o1", "customer_id": CUSTOMER,
             "occurred_at": _iso(now - GAP_S), "order_id": "o1", "amount": 20.0},
            {"type": "purchase", "event_id": "live-o2", "customer_id": CUSTOMER,
             "occurred_at": _iso(now), "order_id": "o2", "amount": 20.0},
            {"type": "support", "event_id": "live-t1", "customer_id": CUSTOMER,
             "occurred_at": _iso(now), "ticket_id": "tk-1", "action": "opened",
             "channel": "email"},
        ]
        report = publisher.publish_lines(json.dumps(e) for e in lines)
        publisher.close()
        assert report.sent == 3 and not report.rejected
        expected = {
            "inactive_overdue": datetime.fromtimestamp(now + FACTOR * GAP_S, UTC),
            "slow_resolution": datetime.fromtimestamp(now + SLA_HOURS * 3600, UTC),
        }
        # The setup is only meaningful if both due times are still ahead of the wall clock.
        assert time.time() < min(expected.values()).timestamp()

        assert stack.servers is not None
        seen = watch_topic(
            stack.servers, "churn-risk",
            lambda out: {a["rule_id"] for a in out if a["customer_id"] == CUSTOMER}
            >= set(expected),
            timeout_s=40)
        waited = time.time() - now
        mine = [a for a in seen if a["customer_id"] == CUSTOMER]
        assert sorted(a["rule_id"] for a in mine) == sorted(expected), mine
        for alert in mine:
            assert _at(alert["decided_at"]) == expected[alert["rule_id"]], alert
            assert alert["trigger_event_id"] is None, alert
            # Raised by the passing of wall-clock time, never ahead of the due time.
            assert _at(alert["raised_at"]) >= _at(alert["decided_at"]), alert

        # Read through the running worker, as `retention query customer_alerts` does.
        stored = operations(stack).run("cookbook/customer_alerts",
                                       {"customer_id": CUSTOMER}).dicts()
        assert sorted((r["rule_id"], _millis(r["decided_at"])) for r in stored) == sorted(
            (r, round(d.timestamp() * 1000)) for r, d in expected.items())
    print(f"\nlive absence: both alerts {waited:.1f} s after the last event "
          f"(due after 9 s and 10 s; lateness 5 s); test {time.monotonic() - started:.1f} s")
