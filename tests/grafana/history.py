"""A generated history through the worker's own path into a chDB database: the demo's
synthetic customers (two years) and a reopened ticket, published as Kafka messages with
some bad ones mixed in, processed by StreamProcessor, and written by the sink
(ClickHouseSink.write), so every table a panel reads holds what a worker would have written.

What went in and what came out is kept beside the database, so tests compare panels with
counts taken from the processor's own output messages, not from ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field

from retention.analytics.model import BgNbdParams
from retention.demo.synthetic import HistorySpec, generate_history
from retention.settings import SinkSettings
from schemas import ChurnRiskAlert, Milestone
from sinks.base import RowBatch
from sinks.clickhouse import ClickHouseSink
from streams.outputs import partition_for
from streams.processor import InMessage, StreamProcessor
from streams.signals.engine import SignalEngine

from ..analytics.conftest import Db
from ..streams.helpers import TOPIC_OF, BgNbdStub, FakeClock, Offsets, processor_settings

SPEC = HistorySpec(customers=400, months=24, seed=12,
                   end=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
PARTITIONS = 2
BATCH = 250
LATENESS_S = 3600.0
# CDNOW-like BG/NBD parameters in days, so low_p_alive raises alerts too.
MODEL = BgNbdParams(r=0.24, alpha=4.41 * 7, a=0.79, b=2.43)
# Every BAD_EVERY-th message is followed by one bad message, cycling through these.
BAD_EVERY = 97
BAD_KINDS = ("invalid_json", "invalid_field", "wrong_key", "tombstone")
# A reopened ticket, first resolved in May and again in June: FCR counts it once, in May.
_EDGE = {"type": "support", "customer_id": "edge-000001", "ticket_id": "t-edge",
         "channel": "chat"}
EDGE_EVENTS: list[dict[str, object]] = [
    {"type": "purchase", "event_id": "edge-p1", "customer_id": "edge-000001",
     "occurred_at": "2025-05-20T10:00:00Z", "order_id": "edge-o1", "amount": 30.0},
    {**_EDGE, "event_id": "edge-s1", "occurred_at": "2025-05-30T09:00:00Z", "action": "opened"},
    {**_EDGE, "event_id": "edge-s2", "occurred_at": "2025-05-31T09:00:00Z", "action": "resolved",
     "first_contact_resolution": True},
    {**_EDGE, "event_id": "edge-s3", "occurred_at": "2025-06-02T09:00:00Z", "action": "reopened"},
    {**_EDGE, "event_id": "edge-s4", "occurred_at": "2025-06-03T09:00:00Z", "action": "resolved",
     "first_contact_resolution": False},
]
EVENT_TABLE = {"purchase": "purchases", "support": "support_events", "survey": "survey_responses"}


@dataclass
class Loaded:
    """What the pipeline was given and what it decided."""

    db: Db
    started: dt.datetime
    finished: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    alerts: dict[str, ChurnRiskAlert] = field(default_factory=dict)
    milestones: dict[str, Milestone] = field(default_factory=dict)
    # (topic, kind of bad message) -> how many distinct bad messages
    bad: Counter[tuple[str, str]] = field(default_factory=Counter)
    # raw table -> distinct event ids of the valid events published to it
    events: Counter[str] = field(default_factory=Counter)
    # raw table -> rows it holds: merges are stopped, so every insert's rows stay, except
    # that an insert collapses rows repeating a (customer_id, event_id) key within itself
    # (ReplacingMergeTree, optimize_on_insert)
    stored: Counter[str] = field(default_factory=Counter)


def _bad_message(kind: str, topic: str, partition: int, offset: int,
                 event: dict[str, object]) -> InMessage:
    """A message the worker must dead-letter, with the reason `kind` names."""
    body = {k: v for k, v in event.items() if k != "type"}
    key: bytes | None = str(event["customer_id"]).encode()
    value: bytes | None
    if kind == "invalid_json":
        value = b'{"event_id": "broken'
    elif kind == "invalid_field":
        value = json.dumps({**body, "event_id": f"bad-{offset}", "occurred_at": "yesterday"}
                           ).encode()
    elif kind == "wrong_key":
        key, value = b"someone-else", json.dumps({**body, "event_id": f"bad-{offset}"}).encode()
    else:
        value = None
    return InMessage(topic, partition, offset, key, value, handle=(topic, partition, offset))


def load_history(db: Db) -> Loaded:
    """Publish, process and store the history; deliver the first batch twice and retry one
    insert, as after a crash, so duplicates reach ClickHouse as they do in production."""
    loaded = Loaded(db, started=dt.datetime.now(dt.UTC))
    # Merges stopped: the duplicates below stay visible, as between merges in production,
    # so a panel that forgets to deduplicate shows it.
    for (table,) in db.client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine LIKE '%MergeTree'").result_rows:
        db.client.command(f"SYSTEM STOP MERGES `{table}`")
    # A dated history whose outputs the panels are checked against: as if lived through.
    # A message keyed by someone else is one of the bad kinds here: dead-lettered, not
    # re-routed.
    settings = processor_settings(
        kafka={"partitions": PARTITIONS, "misplaced_events": "dead-letter"},
        live_watermark=False, allowed_lateness_s=LATENESS_S, live_horizon_s=float("inf"))
    engine = SignalEngine(settings.signals, model=BgNbdStub(MODEL))
    processor = StreamProcessor(settings, engine, load_state=lambda _cid, _p: None,
                                monotonic=FakeClock(0.0))
    sink = ClickHouseSink(db.client, SinkSettings())

    def write(batch: RowBatch) -> None:
        for table in EVENT_TABLE.values():
            # Raw rows start (event_id, customer_id, ...): sinks.rows.COLUMNS.
            loaded.stored[table] += len({(r[1], r[0]) for r in batch.rows.get(table, [])})
        sink.write(batch)

    offsets = Offsets()
    messages: list[InMessage] = []
    seen: set[tuple[str, str]] = set()
    events = sorted([*generate_history(SPEC), *EDGE_EVENTS],
                    key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))
    for n, event in enumerate(events):
        table = EVENT_TABLE[str(event["type"])]
        if (table, str(event["event_id"])) not in seen:
            seen.add((table, str(event["event_id"])))
            loaded.events[table] += 1
        topic = TOPIC_OF[str(event["type"])]
        # The producer's partitioner (murmur2): the worker re-routes anything placed otherwise.
        partition = partition_for(str(event["customer_id"]).encode(), PARTITIONS)
        offset = offsets.take(topic, partition)
        messages.append(InMessage(topic, partition, offset, str(event["customer_id"]).encode(),
                                  json.dumps(event).encode(), handle=(topic, partition, offset)))
        if n % BAD_EVERY == BAD_EVERY - 1:
            kind = BAD_KINDS[(n // BAD_EVERY) % len(BAD_KINDS)]
            messages.append(_bad_message(kind, topic, partition,
                                         offsets.take(topic, partition), event))
            loaded.bad[(topic, kind)] += 1

    batches = [messages[i:i + BATCH] for i in range(0, len(messages), BATCH)]
    # The first batch twice: a crash before its offsets were committed.
    steps = [lambda b=batch: processor.process(b) for batch in [batches[0], *batches]]
    steps.append(lambda: processor.drain(SPEC.end.timestamp()))
    retried = False
    for step in steps:
        result = step()
        processor.flush(result)
        for message in result.messages:
            if message.topic == "churn-risk":
                alert = ChurnRiskAlert.model_validate_json(message.value)
                loaded.alerts[alert.alert_id] = alert
            elif message.topic == "milestones":
                milestone = Milestone.model_validate_json(message.value)
                loaded.milestones[milestone.milestone_id] = milestone
        if result.alerts and not retried:
            # A retried insert: the same alert and milestone rows written twice.
            again = RowBatch()
            for table in ("churn_risk_alerts", "milestones"):
                for row in result.rows.rows.get(table, []):
                    again.add(table, row)
            write(again)
            retried = True
        write(result.rows)
        if result.flush is not None:
            processor.written(result.flush)
    loaded.finished = dt.datetime.now(dt.UTC)
    return loaded
