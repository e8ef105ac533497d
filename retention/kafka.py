"""Kafka plumbing shared by the CLI and tests: connection, topics, lag (kafka-python)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from retention.embedded.runfile import read_run_file
from retention.settings import Settings


class BrokerUnavailable(RuntimeError):
    """No broker configured or reachable; the message says what to do."""


def bootstrap_servers(settings: Settings) -> str:
    """Configured servers, else the embedded broker a running `retention up` recorded."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    run = read_run_file(settings.run_file)
    if run is None:
        raise BrokerUnavailable(
            f"no Kafka broker: start `retention up` (embedded, records {settings.run_file}) "
            "or set RETENTION_KAFKA__BOOTSTRAP_SERVERS"
        )
    return run.bootstrap_servers


def client_config(settings: Settings, servers: str | None = None) -> dict[str, Any]:
    k = settings.kafka
    config: dict[str, Any] = {
        "bootstrap_servers": (servers or bootstrap_servers(settings)).split(","),
        "security_protocol": k.security_protocol,
    }
    if k.sasl_mechanism:
        config["sasl_mechanism"] = k.sasl_mechanism
        config["sasl_plain_username"] = k.sasl_username
        config["sasl_plain_password"] = (
            k.sasl_password.get_secret_value() if k.sasl_password else None
        )
    return config


def aiokafka_config(settings: Settings, servers: str | None = None) -> dict[str, Any]:
    """The same connection settings for aiokafka clients (the worker's producer)."""
    return client_config(settings, servers)


def admin_client(settings: Settings, servers: str | None = None) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            client_id="retention-admin", **client_config(settings, servers)
        )
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(f"Kafka broker at {servers or 'configured servers'} "
                                "does not answer") from exc


def ensure_topics(settings: Settings, servers: str | None = None) -> list[str]:
    """Create every topic the pipeline uses (input topics co-partitioned); return new ones."""
    k = settings.kafka
    wanted = k.input_topics + k.output_topics
    admin = admin_client(settings, servers)
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for name in wanted:
            if name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(name, k.partitions, k.replication_factor)], timeout_ms=10_000
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_metadata(admin, wanted)
    finally:
        admin.close()
    return created


def _wait_for_metadata(admin: KafkaAdminClient, topics: list[str], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if set(topics) <= set(admin.list_topics()):
            return
        time.sleep(0.1)
    raise BrokerUnavailable(f"topics {topics} did not appear in broker metadata")


def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """The true log end of every partition of `topics`."""
    consumer = KafkaConsumer(**client_config(settings), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or [])
        ]
        reported = consumer.end_offsets(partitions) if partitions else {}
    finally:
        consumer.close()
    return true_end_offsets(settings, reported)


def true_end_offsets(settings: Settings, reported: Mapping[Any, int]) -> dict[Any, int]:
    """Correct ListOffsets answers with the high watermark of a fetch.

    The embedded tansu answers ListOffsets(latest) with the last record *batch*'s base
    offset + 1, short of the end whenever a batch holds several records. A fetch from just
    before that answer returns the real high watermark, on any broker. Keys may be any
    (topic, partition) tuple type; they come back unchanged.
    """
    nonempty = {TopicPartition(tp[0], tp[1]): tp for tp, end in reported.items() if end > 0}
    if not nonempty:
        return dict(reported)
    consumer = KafkaConsumer(**client_config(settings), enable_auto_commit=False,
                             fetch_max_wait_ms=100)
    ends = dict(reported)
    try:
        consumer.assign(list(nonempty))
        for tp, original in nonempty.items():
            consumer.seek(tp, reported[original] - 1)
        deadline = time.monotonic() + 10
        missing = set(nonempty)
        while missing and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200, max_records=1)
            for tp in list(missing):
                high = consumer.highwater(tp)
                if high is not None:
                    ends[nonempty[tp]] = max(high, reported[nonempty[tp]])
                    missing.discard(tp)
    finally:
        consumer.close()
    return ends


def consumer_lag(settings: Settings) -> dict[str, int]:
    """Messages per input topic the worker's group has not committed yet."""
    topics = settings.kafka.input_topics
    ends = end_offsets(settings, topics)
    admin = admin_client(settings)
    try:
        group = settings.kafka.group_id
        committed = admin.list_group_offsets({group: list(ends)}).get(group, {})
    except KafkaError:
        committed = {}
    finally:
        admin.close()
    lag = dict.fromkeys(topics, 0)
    for tp, end in ends.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag[tp.topic] += max(end - done, 0)
    return lag
