"""A message the worker cannot use -> a DeadLetter no larger than the size limit, as a
`dead_letters` row and a `dead-letter` record.

The payload is stored once: as text when the bytes are valid UTF-8 (readable, exact), as
base64 when they are not (exact). When the whole letter would not fit in
RETENTION_KAFKA__MAX_MESSAGE_BYTES, the payload is the longest prefix that fits, with the
original's size and sha256: the whole message stays at its topic, partition and offset for
as long as the input topic retains it. A dead letter over the broker's limit could not be
produced, and a write that fails stops the worker: the same message would then stop every
restarted worker again.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from pydantic_core import to_json

from retention.settings import KafkaSettings
from schemas.alerts import (
    DEAD_LETTER_KEY_MAX,
    DEAD_LETTER_REASON_MAX,
    DeadLetter,
    DeadLetterStage,
)
from sinks.rows import dead_letter_row
from streams.processor.messages import BatchResult, InMessage, OutMessage

# What a record costs on the broker beyond its key and value: the record batch header
# (61 bytes) and one record's framing (varints, attributes, headers count; at most ~30).
# Records the worker produces stay this far below the limit, since brokers count it.
RECORD_OVERHEAD = 128


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.topic(kafka.topics.dead_letter)
        # The most a produced record's key and value may take together.
        self.record_limit = kafka.max_message_bytes - RECORD_OVERHEAD

    def add(self, msg: InMessage, stage: DeadLetterStage, reason: str,
            result: BatchResult) -> None:
        """Dead-letter `msg` into `result` (row, record, count); the caller acknowledges it."""
        key = (msg.key or b"")[:DEAD_LETTER_KEY_MAX]
        letter, value = self.letter(msg, stage, reason, self.record_limit - len(key))
        result.rows.add("dead_letters", dead_letter_row(letter))
        result.messages.append(OutMessage(self.topic, key, value))
        result.dead_letters += 1

    @staticmethod
    def letter(msg: InMessage, stage: DeadLetterStage, reason: str,
               limit: int) -> tuple[DeadLetter, bytes]:
        """The dead letter of `msg` and its JSON, at most `limit` bytes."""
        raw = msg.value or b""
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if len(reason) > DEAD_LETTER_REASON_MAX:
            reason = reason[:DEAD_LETTER_REASON_MAX - 1] + "…"
        key = msg.key.decode("utf-8", "replace") if msg.key is not None else None
        failed_at = datetime.now(UTC)
        sha256 = hashlib.sha256(raw).hexdigest()

        def encoded(size: int) -> str:
            """The payload's first `size` bytes (a cut inside a character drops it)."""
            if text is None:
                return base64.b64encode(raw[:size]).decode()
            return text if size == len(raw) else raw[:size].decode("utf-8", "ignore")

        def build(size: int) -> DeadLetter:
            return DeadLetter(
                topic=msg.topic, partition=msg.partition, offset=msg.offset,
                key=key[:DEAD_LETTER_KEY_MAX] if key is not None else None,
                stage=stage, reason=reason, payload=encoded(size),
                payload_encoding="utf-8" if text is not None else "base64",
                payload_bytes=len(raw), payload_sha256=sha256,
                payload_truncated=size < len(raw), failed_at=failed_at)

        whole = build(len(raw))
        value = whole.__pydantic_serializer__.to_json(whole)
        if len(value) <= limit:
            return whole, value
        # The longest prefix that fits: the letter without a payload, plus the payload's
        # JSON string (quotes included, hence the +2), grows with the prefix.
        empty = build(0)
        room = limit - len(empty.__pydantic_serializer__.to_json(empty)) + 2
        low, high = 0, len(raw)  # a prefix of `low` bytes fits, one of `high` does not
        while high - low > 1:
            mid = (low + high) // 2
            if len(to_json(encoded(mid))) <= room:
                low = mid
            else:
                high = mid
        letter = build(low)
        return letter, letter.__pydantic_serializer__.to_json(letter)
