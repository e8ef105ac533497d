"""Log ends and consumer lag, corrected for the embedded broker's ListOffsets answers."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from retention.kafka.connection import admin_client, consumer
from retention.settings import Settings


def end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """The true log end of every partition of `topics`."""
    reader = consumer(settings)
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(reader.partitions_for_topic(t) or [])
        ]
        reported = reader.end_offsets(partitions) if partitions else {}
    finally:
        reader.close()
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
    reader = consumer(settings, fetch_max_wait_ms=100)
    ends = dict(reported)
    try:
        reader.assign(list(nonempty))
        for tp, original in nonempty.items():
            reader.seek(tp, reported[original] - 1)
        deadline = time.monotonic() + 10
        missing = set(nonempty)
        while missing and time.monotonic() < deadline:
            reader.poll(timeout_ms=200, max_records=1)
            for tp in list(missing):
                high = reader.highwater(tp)
                if high is not None:
                    ends[nonempty[tp]] = max(high, reported[nonempty[tp]])
                    missing.discard(tp)
    finally:
        reader.close()
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
