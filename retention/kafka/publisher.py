"""Publishing events for apps: validate, route to the right topic, key by customer_id."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from retention.kafka.connection import producer as make_producer
from retention.settings import Settings
from schemas import EventFamily, InputEvent, InvalidEvent, family_of_line, parse_event
from schemas.envelope import event_time_problem
from schemas.purchase import Purchase
from schemas.support import SupportEvent

TOPIC_ALIASES: dict[str, EventFamily] = {
    "purchase": "purchase", "purchases": "purchase",
    "support": "support", "support-events": "support",
    "survey": "survey", "survey-responses": "survey",
}


@dataclass
class PublishReport:
    sent: int = 0
    # (line number, reason) for every line that was not sent
    rejected: list[tuple[int, str]] = field(default_factory=list)


class Publisher:
    """A small, safe producer: every event is validated before it leaves the process, with
    the checks the worker makes (size, contract, event time), so a bad line is reported
    here with its line number rather than found later in the dead-letter topic."""

    def __init__(self, settings: Settings, producer: Any = None,
                 wall_time: Callable[[], float] = time.time) -> None:
        k = settings.kafka
        self.topics: dict[EventFamily, str] = {
            "purchase": k.topic(k.topics.purchases),
            "support": k.topic(k.topics.support),
            "survey": k.topic(k.topics.surveys),
        }
        self.max_message_bytes = k.max_message_bytes
        self.max_future_skew_s = settings.signals.max_future_skew_s
        self.earliest = settings.signals.min_event_time.timestamp()
        self.wall_time = wall_time
        # acks=all + idempotence-free retries: a duplicate is harmless (deduped by event_id),
        # a loss is not. A test passes its own producer.
        self.producer = producer or make_producer(settings, acks="all", linger_ms=20,
                                                  retries=10)

    def publish(self, event: InputEvent) -> None:
        family: EventFamily = (
            "purchase" if isinstance(event, Purchase)
            else "support" if isinstance(event, SupportEvent) else "survey"
        )
        self._send(family, event.customer_id, event.model_dump_json(exclude_none=True).encode())

    def publish_lines(self, lines: Iterable[str], topic: str | None = None) -> PublishReport:
        """Validate and send JSON lines; invalid lines are reported, never sent."""
        report = PublishReport()
        forced = TOPIC_ALIASES[topic] if topic else None
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            value = text.encode()
            try:
                # Before parsing: a line of many megabytes is refused without reading it.
                self.check_size(value, b"")
                family = forced or family_of_line(text)
                event = self.check(value, family)
                self.check_size(value, event.customer_id.encode())
            except InvalidEvent as exc:
                report.rejected.append((number, exc.reason))
                continue
            # The original bytes are sent, not a re-serialisation: what the app wrote is
            # what the pipeline stores.
            self._send(family, event.customer_id, value)
            report.sent += 1
        self.flush()
        return report

    def check(self, value: bytes, family: EventFamily) -> InputEvent:
        """The event `value` holds, if the worker would take it (contract, event time);
        InvalidEvent with the reason otherwise."""
        event = parse_event(value, family)
        problem = event_time_problem(
            event.occurred_at.timestamp(), now=self.wall_time(),
            max_future_skew_s=self.max_future_skew_s, earliest=self.earliest)
        if problem is not None:
            raise InvalidEvent(problem)
        return event

    def check_size(self, value: bytes, key: bytes) -> None:
        """InvalidEvent when key and value together exceed what the worker takes."""
        if len(key) + len(value) > self.max_message_bytes:
            with_key = f" and a {len(key)}-byte key" if key else ""
            raise InvalidEvent(
                f"{len(value)} bytes{with_key}, over the limit of {self.max_message_bytes} "
                "(RETENTION_KAFKA__MAX_MESSAGE_BYTES)")

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce `value` as it is: Kafka's default partitioner (murmur2 of the key, as
        every producer must use) places it. For messages already checked."""
        self.producer.send(topic, key=key, value=value)

    def _send(self, family: EventFamily, customer_id: str, value: bytes) -> None:
        # NOTE: keyed by customer_id: the co-partitioning of the input topics depends on it.
        self.producer.send(self.topics[family], key=customer_id.encode(), value=value)

    def flush(self, timeout_s: float = 60) -> None:
        self.producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self.producer.close()
