"""Raw message -> a validated event in its right place (and its raw-table row), a re-routed
message, or a dead letter.

Never raises on input: every message it cannot use becomes a dead letter with its reason
(streams/processor/dead_letters.py) and is acknowledged at once. In order, a message must:
fit the size limit; be a valid event of its topic's family; have happened between the
earliest accepted event time and the wall clock plus the allowed skew; and be keyed by its
customer_id in the partition that key maps to.

NOTE: per-customer state is partitioned like the input (producers key by customer_id,
murmur2 as Kafka's default partitioner): an event in another partition would be applied to
a state that is not its customer's (a second first_purchase, wrong counts). A keyless or
misplaced event is produced again keyed by its customer_id, so it lands in the right
partition (a repartition hop, as Kafka Streams does); its original is acknowledged only
once that copy is on the broker, since a batch's outputs are produced before its acks.
"""

from __future__ import annotations

from datetime import datetime

from retention.settings import Settings
from schemas import EventFamily, InvalidEvent, parse_event
from schemas.alerts import DeadLetterStage
from schemas.envelope import event_time_problem
from sinks.rows import event_row
from streams.outputs import partition_for
from streams.processor.dead_letters import RECORD_OVERHEAD, DeadLetters
from streams.processor.messages import BatchResult, InMessage, OutMessage
from streams.processor.reorder import Pending

# (topic, event_id) of the latest events this worker re-routed: one that comes back
# misplaced after its hop was re-sent, or its topic does not have the partition count
# configured; either way it is dead-lettered, never routed round in a loop.
REROUTED_REMEMBERED = 65_536
# Keys whose partition is known (a plain dict costs a third of partition_for's lru_cache
# call, once per message); cleared when full.
PARTITIONS_REMEMBERED = 1 << 18


def families_by_topic(settings: Settings) -> dict[str, EventFamily]:
    """The three co-partitioned input topics and the event family each carries."""
    kafka = settings.kafka
    return {
        kafka.topic(kafka.topics.purchases): "purchase",
        kafka.topic(kafka.topics.support): "support",
        kafka.topic(kafka.topics.surveys): "survey",
    }


class EventParser:
    def __init__(self, settings: Settings, dead_letters: DeadLetters) -> None:
        kafka, signals = settings.kafka, settings.signals
        self.families = families_by_topic(settings)
        self.dead_letters = dead_letters
        self.max_message_bytes = kafka.max_message_bytes
        self.record_limit = kafka.max_message_bytes - RECORD_OVERHEAD
        self.partitions = kafka.partitions
        self.reroute = kafka.misplaced_events == "reroute"
        self.max_future_skew_s = signals.max_future_skew_s
        self.earliest = signals.min_event_time.timestamp()
        self.rerouted: dict[tuple[str, str], None] = {}
        self.partition_of: dict[bytes, int] = {}

    def parse(self, msg: InMessage, result: BatchResult, ingested_at: datetime,
              now: float) -> Pending | None:
        """The message's event, ready for the reorder buffer, its raw row added to `result`;
        or None: the message was re-routed or dead-lettered (record and ack in `result`).
        `now` is the wall clock (epoch seconds) the event time is checked against."""
        # NOTE: once per message, so one frame: every refusal raises Refused to the end.
        try:
            family = self.families.get(msg.topic)
            value = msg.value
            if family is None:
                raise Refused("parse", f"unexpected topic {msg.topic}")
            if value is None:
                raise Refused("parse", "empty message (tombstone)")
            key = msg.key
            size = len(value) + len(key or b"")
            if size > self.max_message_bytes:
                raise Refused("size", (
                    f"message of {size} bytes (key and value) is over the limit of "
                    f"{self.max_message_bytes} (RETENTION_KAFKA__MAX_MESSAGE_BYTES)"))
            try:
                event = parse_event(value, family)
            except InvalidEvent as exc:
                raise Refused("parse", exc.reason) from exc
            except Exception as exc:  # a validator bug, a recursion limit: still the message's
                raise Refused("parse", f"{type(exc).__name__}: {exc}") from exc
            ts = event.occurred_at.timestamp()
            if not self.earliest <= ts <= now + self.max_future_skew_s:
                problem = event_time_problem(ts, now=now, earliest=self.earliest,
                                             max_future_skew_s=self.max_future_skew_s)
                if problem is not None:
                    raise Refused("event_time", problem)
            customer_key = event.customer_id.encode()
            expected = self.partition_of.get(customer_key)
            if expected is None:
                expected = self._partition(customer_key)
            if key != customer_key or msg.partition != expected:
                self._reroute(msg, value, event.event_id, customer_key, expected, result)
                return None
        except Refused as refused:
            self.dead_letters.add(msg, refused.stage, refused.reason, result)
            result.done.append(msg.handle)
            return None
        table, row = event_row(event, msg.partition, msg.offset, ingested_at)
        result.rows.add(table, row)
        return Pending(ts, msg.partition, event, msg.handle, msg)

    def _partition(self, key: bytes) -> int:
        """The partition `key` maps to, remembered."""
        if len(self.partition_of) >= PARTITIONS_REMEMBERED:
            self.partition_of.clear()
        partition = self.partition_of[key] = partition_for(key, self.partitions)
        return partition

    def _reroute(self, msg: InMessage, value: bytes, event_id: str, customer_key: bytes,
                 expected: int, result: BatchResult) -> None:
        """Produce a keyless or misplaced event again, keyed by customer_id (it lands in
        partition `expected`); or refuse it."""
        where = "keyed by customer_id" if msg.key == customer_key else f"keyed {msg.key!r}"
        problem = (f"{where} in partition {msg.partition}; its customer_id "
                   f"{customer_key.decode()!r} maps to partition {expected} of "
                   f"{self.partitions} (murmur2; RETENTION_KAFKA__PARTITIONS)")
        if not self.reroute:
            raise Refused("placement", (
                f"{problem}: not applied to another partition's customer state "
                "(RETENTION_KAFKA__MISPLACED_EVENTS=dead-letter)"))
        seen = (msg.topic, event_id)
        if seen in self.rerouted:
            raise Refused("placement", (
                f"{problem}, after this worker re-routed it already: either it was sent "
                "twice (its first copy was re-routed and applied), or the topic does not "
                f"have {self.partitions} partitions"))
        # Only if the copy (keyed by customer_id) still fits the broker's limit.
        if len(value) + len(customer_key) > self.record_limit:
            raise Refused("placement", f"{problem}, and too large to re-route")
        self.rerouted[seen] = None
        if len(self.rerouted) > REROUTED_REMEMBERED:
            del self.rerouted[next(iter(self.rerouted))]
        result.messages.append(OutMessage(msg.topic, customer_key, value))
        result.rerouted += 1
        result.done.append(msg.handle)


class Refused(Exception):
    """Why a message cannot be used: caught in EventParser.parse, which dead-letters it."""

    def __init__(self, stage: DeadLetterStage, reason: str) -> None:
        super().__init__(reason)
        self.stage: DeadLetterStage = stage
        self.reason = reason
