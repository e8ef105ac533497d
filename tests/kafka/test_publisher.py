"""`retention publish`'s publisher: a line the worker would dead-letter is refused here, with
its line number, and never sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retention.kafka import Publisher
from retention.settings import Settings

LIMIT = 16_384
NOW = 1_798_761_600.0  # 2027-01-01T00:00:00Z


class RecordingProducer:
    """Stands in for kafka-python's KafkaProducer: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float) -> None:
        pass


def line(event_id: str, occurred_at: str = "2026-06-01T10:00:00Z", **extra: Any) -> str:
    return json.dumps({"type": "purchase", "event_id": event_id, "customer_id": "c1",
                       "occurred_at": occurred_at, "order_id": "o1", "amount": 5, **extra})


def publish(lines: list[str]) -> tuple[Any, RecordingProducer]:
    producer = RecordingProducer()
    settings = Settings(kafka={"max_message_bytes": LIMIT})  # type: ignore[arg-type]
    report = Publisher(settings, producer, wall_time=lambda: NOW).publish_lines(lines)
    return report, producer


def test_an_oversized_line_is_refused_with_its_line_number() -> None:
    """A line over RETENTION_KAFKA__MAX_MESSAGE_BYTES is reported by number, not sent; the
    lines around it are."""
    oversized = line("big")[:-1] + " " * LIMIT + "}"  # valid JSON, too large
    report, producer = publish([line("a"), oversized, line("b")])
    assert report.sent == 2
    assert [number for number, _ in report.rejected] == [2]
    assert f"over the limit of {LIMIT}" in report.rejected[0][1]
    assert [json.loads(v)["event_id"] for _, _, v in producer.sent] == ["a", "b"]


def test_a_line_at_the_limit_with_its_key_over_it_is_refused() -> None:
    """The limit counts key and value, as the worker does."""
    body = line("edge")
    at_limit = body[:-1] + " " * (LIMIT - len(body)) + "}"
    assert len(at_limit.encode()) == LIMIT
    report, producer = publish([at_limit])
    assert producer.sent == [] and "2-byte key" in report.rejected[0][1]


@pytest.mark.parametrize(("occurred_at", "reason"), [
    ("2027-01-02T00:00:01Z", "ahead of the wall clock"),
    ("1970-01-01T00:00:00Z", "before 2000-01-01T00:00:00Z"),
])
def test_event_times_the_worker_would_refuse_are_refused(occurred_at: str,
                                                         reason: str) -> None:
    """Events more than the skew ahead of the clock, or before the floor, are not sent."""
    report, producer = publish([line("t", occurred_at)])
    assert producer.sent == [] and reason in report.rejected[0][1]


def test_a_valid_line_is_sent_as_written_keyed_by_customer_id() -> None:
    """What the app wrote is what goes on the topic, keyed by customer_id."""
    text = line("ok", "2027-01-01T23:59:59Z")  # within a day ahead: accepted
    report, producer = publish([text])
    assert report.sent == 1 and producer.sent == [("purchases", b"c1", text.encode())]
