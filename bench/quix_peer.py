"""The Python peer the worker is measured against: Quix Streams, one stateful update per event.

Run by bench/throughput.py with the peer's own interpreter (.venv-peer: Quix Streams 3.28
pins pydantic < 2.14 and pydantic-settings < 2.16, below this project's, so it cannot share
the project's environment); it imports nothing of the project. It reads the three input
topics in its own consumer group, counts per customer in its RocksDB state with a
changelog (what runtime.md measured at ~35,900-64,000 events/s), and records its progress
in a file so the benchmark can time it from outside.

Two tolerances for the embedded tansu broker, applied here only: tansu answers
DescribeConfigs with no configs, so `TopicAdmin.inspect_topics` takes a missing topic's
configs as empty and `TopicManager.derive_topic_config` defaults `retention.ms` (-1,
infinite, as tansu's in-memory topics are).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from quixstreams import Application, State
from quixstreams.models.topics import TopicAdmin, TopicConfig, TopicManager
from quixstreams.models.topics.admin import confluent_topic_config

SERVERS = os.environ["BENCH_BOOTSTRAP_SERVERS"]
PROGRESS = Path(os.environ["BENCH_PROGRESS_FILE"])
TOPICS = os.environ.get("BENCH_TOPICS", "purchases,support-events,survey-responses").split(",")


def inspect_topics(self: TopicAdmin, topic_names: list[str],
                   timeout: float = 30) -> dict[str, TopicConfig | None]:
    """Quix Streams' `TopicAdmin.inspect_topics`, with `configs.get(topic, {})`."""
    cluster_topics = self.list_topics(timeout=timeout)
    existing = [t for t in topic_names if t in cluster_topics]
    configs: dict[str, dict[str, str]] = {}
    if existing:
        futures = self.admin_client.describe_configs(
            [confluent_topic_config(t) for t in existing], request_timeout=timeout)
        configs = {resource.name: {c.name: c.value for c in future.result().values()}
                   for resource, future in futures.items()}
    return {t: TopicConfig(num_partitions=len(cluster_topics[t].partitions),
                           replication_factor=len(cluster_topics[t].partitions[0].replicas),
                           extra_config=configs.get(t, {})) if t in existing else None
            for t in topic_names}


_derive_topic_config = TopicManager.derive_topic_config.__func__  # type: ignore[attr-defined]


def derive_topic_config(cls: type[TopicManager], topics: Any) -> TopicConfig:
    for topic in topics:
        topic.broker_config.extra_config.setdefault("retention.ms", "-1")
    return _derive_topic_config(cls, topics)


TopicAdmin.inspect_topics = inspect_topics  # type: ignore[method-assign]
TopicManager.derive_topic_config = classmethod(derive_topic_config)  # type: ignore[assignment]

processed = 0
started: float | None = None


def count(value: dict[str, Any], state: State) -> None:
    """The one stateful update per event: a per-customer event count, in RocksDB."""
    global processed, started
    state.set("events", state.get("events", 0) + 1)
    processed += 1
    if started is None:
        started = time.monotonic()


def report_progress() -> None:
    """Every 0.1 s, from a thread of its own: the last events are counted too."""
    while True:
        time.sleep(0.1)
        if started is not None:
            PROGRESS.write_text(f"{processed} {time.monotonic() - started:.3f}")


def main() -> None:
    app = Application(
        broker_address=SERVERS,
        # its own group (one per run): it reads the whole backlog
        consumer_group=os.environ.get("BENCH_GROUP", "quix-bench"),
        auto_offset_reset="earliest",
        state_dir=os.environ["BENCH_DATA_DIR"],
        loglevel="WARNING",
    )
    threading.Thread(target=report_progress, daemon=True).start()
    for name in TOPICS:
        topic = app.topic(name, key_deserializer="str", value_deserializer="json")
        app.dataframe(topic).update(count, stateful=True)
    app.run()


if __name__ == "__main__":
    main()
