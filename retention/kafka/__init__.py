"""Kafka plumbing for the CLI, the embedded stack and the worker's start-up: reaching the
broker with the one client configuration (`connection`), the pipeline's topics (`topics`),
log ends and lag (`offsets`), publishing events (`publisher`) and the worker's status
(`status`).

Other packages import from here, not from the modules.
"""

from retention.kafka.connection import (
    BrokerUnavailable,
    admin_client,
    bootstrap_servers,
    client_config,
    client_security,
    consumer,
    producer,
)
from retention.kafka.offsets import true_end_offsets
from retention.kafka.publisher import TOPIC_ALIASES, Publisher
from retention.kafka.status import (
    Status,
    WorkerUnauthorized,
    current_status,
    wait_idle,
    worker_status,
)
from retention.kafka.topics import ensure_topics

__all__ = [
    "TOPIC_ALIASES",
    "BrokerUnavailable",
    "Publisher",
    "Status",
    "WorkerUnauthorized",
    "admin_client",
    "bootstrap_servers",
    "client_config",
    "client_security",
    "consumer",
    "current_status",
    "ensure_topics",
    "producer",
    "true_end_offsets",
    "wait_idle",
    "worker_status",
]
