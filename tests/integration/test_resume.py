"""A new embedded broker (a machine restart under `retention up`) brings an empty table:
the worker carries on from the customer states ClickHouse last held.

The embedded broker keeps topics in memory only, the table's changelog among them, so a
new one starts the worker over an emptied table. The states are put back in that table
on disk (streamed from ClickHouse, never held in memory at once: `bench/scale.py` times
the resume) and read like any stored state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from tests.integration.helpers import REPLAY_ENV, publish_all, read_tables, read_topic

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=80, months=6, seed=29)
ORDERS = {"orders": "SELECT customer_id, orders FROM customer_state FINAL"}


def test_a_new_broker_resumes_every_customer_from_clickhouse(tmp_path: Path) -> None:
    """With the broker replaced, each buyer's next purchase adds to the orders ClickHouse
    held: nobody starts again from zero (no second first_purchase), and the worker says how
    many states it resumed."""
    folder = tmp_path / "stack"
    with LocalStack(folder, REPLAY_ENV) as stack:
        stack.start_worker()
        publish_all(stack.settings(), list(to_json_lines(generate_history(SPEC))))
        assert stack.wait_idle(180).idle
        before = {c: n for c, n in read_tables(stack, ORDERS)["orders"]}
    buyers = sorted(c for c, n in before.items() if n)
    assert len(buyers) > 10
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    purchases = [json.dumps({"type": "purchase", "event_id": f"resume-{c}", "customer_id": c,
                             "occurred_at": at, "order_id": f"resume-{c}", "amount": 10.0,
                             "currency": "USD", "items": 1, "channel": "web"})
                 for c in buyers]

    with LocalStack(folder, REPLAY_ENV) as stack:  # a new broker: the table is emptied
        stack.start_worker()
        publish_all(stack.settings(), purchases)
        assert stack.wait_idle(180).idle
        k = stack.settings().kafka
        assert stack.servers is not None
        firsts = [m["customer_id"] for m in read_topic(stack.servers,
                                                       k.topic(k.topics.milestones))
                  if m["kind"] == "first_purchase"]
        after = {c: n for c, n in read_tables(stack, ORDERS)["orders"]}
    log = (folder / "worker.log").read_text()

    assert after == {c: n + (c in buyers) for c, n in before.items()}
    assert firsts == []
    assert f"table empty: resumed {len(before)} customer states from ClickHouse" in log
