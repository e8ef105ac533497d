"""`retention alerts tail`: read what subscribers read, readably or as JSON lines."""

from __future__ import annotations

import json
import time

import click
from kafka import TopicPartition

from retention.cli.common import fail
from retention.kafka import BrokerUnavailable, consumer
from retention.settings import get_settings


@click.group()
def alerts() -> None:
    """Alerts and milestones on their topics."""


@alerts.command()
@click.option("--topic", type=click.Choice(["churn-risk", "milestones", "dead-letter"]),
              default="churn-risk", show_default=True)
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message.")
@click.option("--max", "max_messages", type=int, default=None, help="Stop after N messages.")
@click.option("--idle-timeout", type=float, default=None,
              help="Stop when no message arrives for this many seconds.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def tail(topic: str, from_beginning: bool, max_messages: int | None,
         idle_timeout: float | None, fmt: str) -> None:
    """Follow a topic until Ctrl-C, --max or --idle-timeout."""
    settings = get_settings()
    k = settings.kafka
    name = {"churn-risk": k.topics.churn_risk, "milestones": k.topics.milestones,
            "dead-letter": k.topics.dead_letter}[topic]
    try:
        reader = consumer(settings)
    except BrokerUnavailable as exc:
        fail(str(exc))
    partitions = [TopicPartition(k.topic(name), p)
                  for p in sorted(reader.partitions_for_topic(k.topic(name)) or [])]
    reader.assign(partitions)
    if from_beginning:
        reader.seek_to_beginning(*partitions)
    else:
        reader.seek_to_end(*partitions)
    seen = 0
    last = time.monotonic()
    try:
        while max_messages is None or seen < max_messages:
            batch = reader.poll(timeout_ms=500)
            records = sorted((r for rs in batch.values() for r in rs),
                             key=lambda r: (r.timestamp, r.partition, r.offset))
            if records:
                last = time.monotonic()
            for record in records:
                click.echo(_line(record.value, fmt))
                seen += 1
                if max_messages is not None and seen >= max_messages:
                    break
            if idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()


def _line(value: bytes, fmt: str) -> str:
    if fmt == "json":
        return value.decode()
    d = json.loads(value)
    if "alert_id" in d:
        rules = "; ".join(f"{r['rule_id']}: {r['detail']}" for r in d["rules"])
        return (f"{d['decided_at']}  {d['customer_id']:<14} {d['level'].upper():<6} "
                f"score {d['score']:>3}  new: {d['rule_id']}  [{rules}]")
    if "milestone_id" in d:
        return f"{d['decided_at']}  {d['customer_id']:<14} {d['kind']:<16} {d['detail']}"
    return (f"{d['failed_at']}  {d['topic']}[{d['partition']}]@{d['offset']}  "
            f"{d['reason']}  payload={d['payload'][:80]!r}")
