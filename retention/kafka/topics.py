"""The pipeline's topics: created once, input topics co-partitioned."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from retention.kafka.connection import BrokerUnavailable, admin_client
from retention.settings import Settings


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
