"""The whole pipeline end to end: publish -> Kafka -> Faust worker -> ClickHouse -> KPIs.

Runs on the embedded backends (real tansu, real chDB) and, when a Docker engine answers,
on Apache Kafka + ClickHouse server through testcontainers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher
from retention.settings import Settings
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.signals import SignalEngine
from tests.integration.backends import Backend, docker_backend
from tests.integration.helpers import read_tables

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=400, months=12, seed=11)
PERIOD = ("2026-02-01", "2026-11-01")
API_TOKEN = "pipeline-test-token-5e0f"
STACK_ENV = {
    # A dated history checked on the output topics: published as if lived through (the
    # live horizon is what keeps an import off them: tests/streams/test_historical.py).
    "RETENTION_SIGNALS__LIVE_HORIZON_S": "inf",
    "RETENTION_SIGNALS__LIVE_WATERMARK": "false",
    "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
    "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
    # The CLI and the helpers must carry the worker's API token on every request.
    "RETENTION_WORKER__API_TOKEN": API_TOKEN,
}
INVALID = [
    (b"cust-x1", b"{not json"),
    (b"cust-x2", json.dumps({"event_id": "bad-1", "customer_id": "cust-x2",
                             "occurred_at": "2026-03-01", "order_id": "o", "amount": 5}).encode()),
    (b"cust-x3", json.dumps({"event_id": "bad-2", "customer_id": "cust-x3",
                             "occurred_at": "2026-03-01T00:00:00Z", "order_id": "o",
                             "amount": -1}).encode()),
]
# Keyed by someone else: re-routed to cust-x4's partition and applied there, once.
MISPLACED = {"type": "purchase", "event_id": "moved-1", "customer_id": "cust-x4",
             "occurred_at": "2026-03-01T00:00:00Z", "order_id": "o", "amount": 1}


def reference_results(events: list[dict], settings: Settings) -> list[BatchResult]:
    """An independent in-process run of the same history: every event, then all quiet."""
    engine = SignalEngine(settings.signals)
    clock = [0.0]
    n = settings.kafka.partitions
    topic = {"purchase": "purchases", "support": "support-events",
             "survey": "survey-responses"}
    messages = []
    for i, e in enumerate(events):
        key = e["customer_id"].encode()
        messages.append(InMessage(topic[e["type"]], (murmur2(key) & 0x7FFFFFFF) % n, i, key,
                                  json.dumps(e).encode()))
    # Every log read to its end, as the worker's consumer reports once all is in: only
    # then do quiet topics go idle (streams/processor/reorder.py).
    ends = {(m.topic, m.partition): m.offset + 1 for m in messages}
    processor = StreamProcessor(settings, engine, lambda *_: None, monotonic=lambda: clock[0],
                                end_offset=lambda topic, p: ends.get((topic, p), 0))
    results = [processor.process(messages)]
    clock[0] += settings.signals.idle_watermark_after_s + 1  # all topics go quiet, as live
    results.append(processor.tick())
    return results


def _expected_outputs(events: list[dict], settings: Settings) -> tuple[set[str], set[str]]:
    """Alert and milestone ids an independent in-process run of the same history gives."""
    results = reference_results(events, settings)
    alerts = {r[0] for res in results for r in res.rows.rows.get("churn_risk_alerts", [])}
    milestones = {r[0] for res in results for r in res.rows.rows.get("milestones", [])}
    return alerts, milestones


def _read_topic(servers: str, topic: str, timeout_s: float = 10) -> list[dict]:
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout_s * 1000))
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out = [json.loads(m.value) for m in consumer]
    consumer.close()
    return out


def _pandas_kpis(events: list[dict]) -> dict[str, float]:
    """repeat_customer_rate, repeat_purchase_rate, purchase_frequency from kpis.md."""
    df = pd.DataFrame([e for e in events if e["type"] == "purchase"])
    df = df[df.get("kind", pd.Series(index=df.index)).fillna("order") == "order"]
    df = df.drop_duplicates("event_id")
    df["at"] = pd.to_datetime(df["occurred_at"], utc=True, format="ISO8601")
    start, end = (pd.Timestamp(d, tz="UTC") for d in PERIOD)
    in_period = df[(df["at"] >= start) & (df["at"] < end)]
    buyers = in_period["customer_id"].unique()
    lifetime = df[df["at"] < end].groupby("customer_id").size()
    per_buyer = in_period.groupby("customer_id").size()
    return {
        "repeat_customer_rate": float((lifetime.loc[buyers] >= 2).sum() / len(buyers)),
        "repeat_purchase_rate": float((per_buyer >= 2).sum() / len(buyers)),
        "purchase_frequency": float(len(in_period) / len(buyers)),
    }


def _run_pipeline(tmp_path, backend: Backend) -> None:
    events = generate_history(SPEC)
    assert len(events) > 2000
    stack = LocalStack(tmp_path / "stack", {**STACK_ENV, **backend.env},
                       bootstrap_servers=backend.bootstrap_servers)
    settings = stack.start()
    try:
        stack.start_worker()
        publisher = Publisher(settings)
        report = publisher.publish_lines(to_json_lines(events))
        publisher.close()
        assert report.sent == len(events) and not report.rejected
        raw = KafkaProducer(bootstrap_servers=stack.servers)
        for key, value in INVALID:
            raw.send("purchases", key=key, value=value)
        raw.send("purchases", key=b"someone-else", value=json.dumps(MISPLACED).encode())
        raw.flush()
        events = [*events, MISPLACED]

        status = stack.wait_idle(timeout_s=240)
        assert status.idle, status

        # While the worker holds the database, the CLI reads through its named operations.
        assert stack.worker is not None and stack.worker.poll() is None
        got = json.loads(_cli(stack, "kpi", "all", "--start", PERIOD[0], "--end", PERIOD[1],
                              "--format", "json"))
        for name, value in _pandas_kpis(events).items():
            assert got[name] == pytest.approx(value, abs=1e-9), name
        by_rule = [json.loads(line) for line in _cli(
            stack, "query", "alerts_by_rule", "--param", "start=2000-01-01",
            "--param", "end=2100-01-01", "--format", "json").splitlines()]
        status_output = _cli(stack, "status", "--format", "json")
        assert json.loads(status_output)["worker"]["counters"]["events"] > 0
        assert API_TOKEN not in status_output

        unique = {e["event_id"]: e for e in events}
        by_type = Counter(e["type"] for e in unique.values())
        dlq = _read_topic(stack.servers, "dead-letter")
        assert sorted(d["payload"].encode() for d in dlq) == sorted(v for _, v in INVALID)
        assert all(d["reason"] and d["stage"] == "parse" for d in dlq)
        assert status.worker["counters"]["rerouted"] == 1

        expected_alerts, expected_milestones = _expected_outputs(events, settings)
        assert expected_alerts and expected_milestones
        on_topic_alerts = {a["alert_id"] for a in _read_topic(stack.servers, "churn-risk")}
        on_topic_milestones = {m["milestone_id"] for m in _read_topic(stack.servers,
                                                                      "milestones")}
        assert on_topic_alerts == expected_alerts
        assert on_topic_milestones == expected_milestones
        assert sum(r["alerts"] for r in by_rule) == len(expected_alerts)

        tables = {"purchases": "purchase", "support_events": "support",
                  "survey_responses": "survey"}
        stored = read_tables(stack, {
            **{table: f"SELECT count() FROM {table} FINAL" for table in tables},
            "dead_letters": "SELECT reason, payload FROM dead_letters FINAL",
            "alerts": "SELECT count(), uniqExact(alert_id) FROM churn_risk_alerts FINAL",
        })
        for table, kind in tables.items():
            assert stored[table][0][0] == by_type[kind], table
        assert len(stored["dead_letters"]) == len(INVALID)
        assert stored["alerts"][0] == [len(expected_alerts), len(expected_alerts)]
        assert API_TOKEN not in (stack.data_dir / "worker.log").read_text(errors="replace")
    finally:
        stack.stop()


def _cli(stack: LocalStack, *args: str) -> str:
    """`retention ARGS` with the stack's environment; its stdout (exit 0 asserted)."""
    done = subprocess.run([sys.executable, "-m", "retention.cli.main", *args],
                          env={**os.environ, **stack.env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pipeline_end_to_end_embedded(tmp_path):
    """Events, duplicates and invalid messages through real tansu + chDB give exact rows,
    KPIs equal to pandas, the expected alerts/milestones, every invalid line dead-lettered
    and a misplaced one re-routed and applied once."""
    started = time.monotonic()
    _run_pipeline(tmp_path, Backend("embedded"))
    print(f"embedded end-to-end run: {time.monotonic() - started:.1f} s "
          f"at {datetime.now(UTC):%H:%M:%S}")


def test_pipeline_end_to_end_docker(tmp_path):
    """The same run against Apache Kafka and ClickHouse server (testcontainers)."""
    with docker_backend() as backend:
        _run_pipeline(tmp_path, backend)
