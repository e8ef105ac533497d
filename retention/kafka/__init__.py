"""Kafka plumbing for the CLI, the embedded stack and the worker's start-up: reaching the
broker (`connection`), the pipeline's topics (`topics`), log ends and lag (`offsets`),
publishing events (`publisher`) and the worker's status (`status`).

Other packages import from here, not from the modules.
"""

from retention.kafka.connection import BrokerUnavailable, bootstrap_servers, client_config
from retention.kafka.offsets import true_end_offsets
from retention.kafka.publisher import TOPIC_ALIASES, Publisher
from retention.kafka.status import Status, current_status, wait_idle, worker_status
from retention.kafka.topics import ensure_topics

__all__ = [
    "TOPIC_ALIASES",
    "BrokerUnavailable",
    "Publisher",
    "Status",
    "bootstrap_servers",
    "client_config",
    "current_status",
    "ensure_topics",
    "true_end_offsets",
    "wait_idle",
    "worker_status",
]
