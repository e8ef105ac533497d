"""Raw message -> validated input event (and its raw-table row), or a dead letter.

Never raises on bad input: every unusable message becomes a dead letter with its reason and
original bytes, and is acknowledged at once.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from retention.settings import KafkaSettings
from schemas import DeadLetter, EventFamily, InputEvent, InvalidEvent, parse_event
from sinks.rows import dead_letter_row, event_row
from streams.processor.messages import BatchResult, InMessage, OutMessage


def families_by_topic(kafka: KafkaSettings) -> dict[str, EventFamily]:
    """The three co-partitioned input topics and the event family each carries."""
    return {
        kafka.topic(kafka.topics.purchases): "purchase",
        kafka.topic(kafka.topics.support): "support",
        kafka.topic(kafka.topics.surveys): "survey",
    }


class EventParser:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.families = families_by_topic(kafka)
        self.topic_dead_letter = kafka.topic(kafka.topics.dead_letter)

    def parse(self, msg: InMessage, result: BatchResult,
              ingested_at: datetime) -> InputEvent | None:
        """The message's event, its raw row added to `result`; or None, the message then a
        dead letter in `result` (row, message and ack)."""
        family = self.families.get(msg.topic)
        if family is None:
            reason = f"unexpected topic {msg.topic}"
        elif msg.value is None:
            reason = "empty message (tombstone)"
        else:
            try:
                event = parse_event(msg.value, family)
            except InvalidEvent as exc:
                reason = exc.reason
            else:
                key = msg.key
                if key is None or key == event.customer_id.encode():
                    table, row = event_row(event, msg.partition, msg.offset, ingested_at)
                    result.rows.add(table, row)
                    return event
                reason = (f"message key {key!r} is not the event's customer_id: "
                          "keying by customer_id keeps a customer's events in one partition")
        self._dead_letter(msg, reason or "invalid", result)
        return None

    def _dead_letter(self, msg: InMessage, reason: str, result: BatchResult) -> None:
        raw = msg.value or b""
        letter = DeadLetter(
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            key=msg.key.decode("utf-8", "replace") if msg.key is not None else None,
            reason=reason, payload=raw.decode("utf-8", "replace"),
            payload_b64=base64.b64encode(raw).decode(), failed_at=datetime.now(UTC),
        )
        result.rows.add("dead_letters", dead_letter_row(letter))
        result.messages.append(OutMessage(self.topic_dead_letter, msg.key or b"",
                                          letter.model_dump_json().encode()))
        result.dead_letters += 1
        result.done.append(msg.handle)
