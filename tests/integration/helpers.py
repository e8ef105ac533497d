"""Shared helpers for integration tests that drive a LocalStack worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition

from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, Status, current_status, worker_status
from retention.settings import Settings
from sinks.reader import WorkerRunner

T = TypeVar("T")

# A replay on a stack: watermarks follow event time only (no wall clock), quiet topics are
# idle after 2 s, and small batches make many commits per run (so a kill or a rebalance
# lands between two of them).
REPLAY_ENV = {
    # A dated history checked on the output topics: published as if lived through (the
    # live horizon is what keeps an import off them: tests/streams/test_historical.py).
    "RETENTION_SIGNALS__LIVE_HORIZON_S": "inf",
    "RETENTION_SIGNALS__LIVE_WATERMARK": "false",
    "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
    "RETENTION_SINK__BATCH_MAX_EVENTS": "200",
    "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
}

# Run by `read_tables` in a process of its own: a read-only session on the stack's database.
_READ_TABLES = """
import json, sys
from retention.settings import Settings
from sinks.reader import ClientRunner
runner = ClientRunner(Settings(), read_only=True)
queries = json.load(sys.stdin)
print(json.dumps({name: runner.query(sql).rows for name, sql in queries.items()}, default=str))
"""


def publish_all(settings: Settings, lines: list[str]) -> None:
    """Publish JSON-lines events as `retention publish` does; none may be refused."""
    publisher = Publisher(settings)
    report = publisher.publish_lines(lines)
    publisher.close()
    assert report.sent == len(lines) and not report.rejected


def worker_url(stack: LocalStack) -> str:
    return f"http://127.0.0.1:{stack.env['RETENTION_WORKER__WEB_PORT']}"


def operations(stack: LocalStack) -> WorkerRunner:
    """Named operations (sinks/operations.py) through the running worker, as the CLI runs
    them: the worker holds the embedded chDB folder."""
    return WorkerRunner(worker_url(stack), stack.settings().worker.auth_headers())


def read_tables(stack: LocalStack, queries: Mapping[str, str]) -> dict[str, list[list[Any]]]:
    """The rows of read-only `queries` on what the stack stored, once its worker has stopped.

    The worker's HTTP API runs named operations only, never SQL; so a test reads what a
    stack stored as an operator would after `retention up` ends: from the database itself,
    in a process of its own (chDB opens one folder per process, and this one has its own).
    Stops the worker first; values come back as JSON (dates as text).
    """
    stack.stop_worker()
    return read_tables_in(stack.env, queries)


def read_tables_in(env: Mapping[str, str], queries: Mapping[str, str]
                   ) -> dict[str, list[list[Any]]]:
    """As `read_tables`, for the database `env` names (no worker may hold it)."""
    done = subprocess.run([sys.executable, "-c", _READ_TABLES], input=json.dumps(queries),
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows: dict[str, list[list[Any]]] = json.loads(done.stdout)
    return rows


def read_topic_raw(servers: str, topic: str, timeout_s: float = 2) -> list[bytes]:
    """Every record value on `topic`, from the beginning, without a consumer group.

    Read until `timeout_s` without a record: tansu's end offsets fall short of the log
    end (they stop at the last record batch's base offset), so they cannot say "done".
    """
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                             consumer_timeout_ms=int(timeout_s * 1000))
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out = [m.value for m in consumer]
    consumer.close()
    return out


def read_topic(servers: str, topic: str, timeout_s: float = 2) -> list[dict[str, Any]]:
    return [json.loads(v) for v in read_topic_raw(servers, topic, timeout_s)]


def counters(stack: LocalStack) -> dict[str, int]:
    """The running worker's processor counters ({} while its web view is not up)."""
    status = worker_status(stack.settings())
    return dict(status["counters"]) if status else {}


def wait_for(probe: Callable[[], T | None], timeout_s: float, poll_s: float = 0.1,
             what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def log_tail(stack: LocalStack, lines: int = 25) -> str:
    path = stack.data_dir / "worker.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def wait_idle_alive(stack: LocalStack, timeout_s: float) -> Status:
    """stack.wait_idle, but fail at once (with the log) if the worker process dies."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while True:
        if stack.worker is not None and stack.worker.poll() is not None:
            raise AssertionError(f"worker exited with code {stack.worker.returncode}; "
                                 f"{stack.data_dir / 'worker.log'}:\n{log_tail(stack)}")
        status = current_status(stack.settings())
        # Idle twice in a row: a commit can land between two reads (as wait_idle).
        streak = streak + 1 if status.idle else 0
        if streak >= 2 or time.monotonic() >= deadline:
            return status
        time.sleep(0.5)


def watch_topic(servers: str, topic: str, done: Callable[[list[dict[str, Any]]], bool],
                timeout_s: float) -> list[dict[str, Any]]:
    """Records of `topic` from the beginning, read as they arrive until `done` holds.

    Returns what was read by then (the caller asserts on it) even if `done` never holds.
    """
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(out) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=250).values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        consumer.close()
    return out
