"""Hostile input never stops a worker, never reaches another customer's state, never becomes
a dead letter larger than the limit: event-time bounds, the processing-error policy, the
partitioning guard and size limits (issue 9, findings 1-3)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

import pytest
from pydantic import ValidationError

from retention.settings import Settings
from schemas import DeadLetter, Milestone
from streams.outputs import partition_for
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.processor.dead_letters import RECORD_OVERHEAD
from streams.processor.journal import StateRebuildFailed
from streams.signals.engine import SignalEngine
from streams.signals.milestones.lifetime_spend import LifetimeSpend
from streams.signals.rules.inactive_overdue import InactiveOverdue
from streams.state import CustomerState

from .helpers import WALL, Offsets, at, iso, message, purchase, raw_message, wire
from .test_processor import Harness

SKEW = 86_400.0  # the default RETENTION_SIGNALS__MAX_FUTURE_SKEW_S


def order_json(cid: str, occurred_at: str, event_id: str, amount: float = 5.0,
               order_id: str | None = None) -> bytes:
    return json.dumps({"event_id": event_id, "customer_id": cid, "occurred_at": occurred_at,
                       "order_id": order_id or f"o-{event_id}", "amount": amount}).encode()


def letters(results: list[BatchResult]) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.value)
            for r in results for m in r.messages if m.topic == "dead-letter"]


def raw_rows(results: list[BatchResult]) -> int:
    return sum(len(r.rows.rows.get(t, [])) for r in results
               for t in ("purchases", "support_events", "survey_responses"))


# --- event time (finding 1) ---------------------------------------------------------------
def test_a_year_9999_purchase_no_longer_stops_its_partition() -> None:
    """Finding 1: 9999-12-31T23:59:59Z used to crash the worker (year 10000 in the
    anniversary arithmetic); now it is dead-lettered and the partition goes on."""
    h = Harness(wall=at(5).timestamp())
    poison = raw_message("purchases", order_json("c1", "9999-12-31T23:59:59Z", "far"),
                         h.offsets)
    h.send(purchase("c1", at(0), 25), poison, purchase("c2", at(1), 25))
    h.idle()
    h._keep(h.proc.drain(at(4).timestamp()))
    (letter,) = letters(h.results)
    assert (letter.stage, letter.offset) == ("event_time", poison.offset)
    assert "9999-12-31T23:59:59Z" in letter.reason
    assert "RETENTION_SIGNALS__MAX_FUTURE_SKEW_S" in letter.reason
    assert letter.payload.encode() == poison.value
    assert (h.state("c1")["orders"], h.state("c2")["orders"]) == (1, 1)
    assert not [o for o in h.outputs() if isinstance(o, Milestone) and o.kind == "anniversary"]
    assert max(h.proc.watermarks().values()) <= at(5).timestamp() + SKEW
    assert raw_rows(h.results) == 2  # the refused event is in no raw table


@pytest.mark.parametrize(("offset_s", "accepted"), [
    (SKEW, True), (SKEW + 0.001, False), (-1e6, True),
])
def test_events_up_to_the_skew_ahead_of_the_wall_clock_are_accepted(offset_s: float,
                                                                    accepted: bool) -> None:
    """An event at most RETENTION_SIGNALS__MAX_FUTURE_SKEW_S ahead of the wall clock is
    accepted, one a millisecond further is not."""
    wall = at(10).timestamp()
    h = Harness(wall=wall)
    when = iso(at(10, seconds=offset_s))
    result = h.send(raw_message("purchases", order_json("c1", when, "e1"), h.offsets))
    assert (raw_rows([result]), result.dead_letters) == ((1, 0) if accepted else (0, 1))


@pytest.mark.parametrize(("stamp", "accepted"), [
    ("2000-01-01T00:00:00Z", True), ("1999-12-31T23:59:59.999Z", False),
    ("1970-01-01T00:00:00Z", False), ("0001-01-01T00:00:00Z", False),
])
def test_events_before_the_floor_are_dead_lettered(stamp: str, accepted: bool) -> None:
    """The floor (RETENTION_SIGNALS__MIN_EVENT_TIME, default 2000-01-01) refuses epoch-zero
    and year-1 timestamps with a reason naming it."""
    h = Harness()
    result = h.send(raw_message("purchases", order_json("c1", stamp, "e1"), h.offsets))
    assert raw_rows([result]) == int(accepted)
    if not accepted:
        (letter,) = letters([result])
        assert letter.stage == "event_time"
        assert "before 2000-01-01T00:00:00Z" in letter.reason
        assert "RETENTION_SIGNALS__MIN_EVENT_TIME" in letter.reason


def test_no_event_moves_a_watermark_past_the_wall_clock_plus_the_skew() -> None:
    """Events scattered over millennia, in random batches: every watermark stays at or
    below the wall clock plus the skew, and each message is either a raw row or a dead
    letter, never both."""
    rng = random.Random(9)
    wall = at(100).timestamp()
    h = Harness(wall=wall, partitions=4)
    msgs = []
    for n in range(400):
        cid = f"c{rng.randrange(20)}"
        ts = wall + rng.choice([-1, 1]) * 10 ** rng.uniform(0, 11)
        ts = min(max(ts, at(-700_000).timestamp()), 253402300799.0)  # datetime's range
        topic = "purchases"
        value = order_json(cid, iso(at(seconds=ts - at(0).timestamp())), f"e{n}")
        key = cid.encode()
        msgs.append(raw_message(topic, value, h.offsets, partition_for(key, 4), key))
    i = 0
    while i < len(msgs):
        size = rng.randint(1, 50)
        h.send(*msgs[i:i + size])
        assert max(h.proc.watermarks().values(), default=0) <= wall + SKEW
        i += size
    h.idle()
    assert max(h.proc.watermarks().values()) <= wall + SKEW
    refused = letters(h.results)
    assert {letter.stage for letter in refused} == {"event_time"}
    assert raw_rows(h.results) + len(refused) == len(msgs)


def test_event_time_bounds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """RETENTION_SIGNALS__MAX_FUTURE_SKEW_S and __MIN_EVENT_TIME are settings; a floor
    without a UTC offset is refused rather than guessed."""
    monkeypatch.setenv("RETENTION_SIGNALS__MAX_FUTURE_SKEW_S", "60")
    monkeypatch.setenv("RETENTION_SIGNALS__MIN_EVENT_TIME", "2020-01-01T00:00:00Z")
    signals = Settings().signals
    assert signals.max_future_skew_s == 60
    assert signals.min_event_time == at(0).replace(year=2020, month=1, day=1, hour=0)
    monkeypatch.setenv("RETENTION_SIGNALS__MIN_EVENT_TIME", "2020-01-01T00:00:00")
    with pytest.raises(ValidationError, match="timezone"):
        Settings()


def test_absurd_amounts_are_refused_so_every_output_stays_readable() -> None:
    """Two 1e308 orders made revenue inf, which alerts and milestones carried as null,
    breaking their contract; amounts above 1e15 are now dead-lettered at the boundary."""
    h = Harness()
    orders = [raw_message("purchases", order_json("c1", iso(at(d)), f"e{d}", amount), h.offsets)
              for d, amount in [(0, 1e308), (1, 1e308), (2, 1e15), (3, 1e15)]]
    h.send(*orders)
    h.idle()
    assert [letter.offset for letter in letters(h.results)] == [0, 1]
    assert h.state("c1")["revenue"] == 2e15
    assert h.outputs() and all(o.state.revenue <= 2e15 for o in h.outputs())


# --- the processing-error policy ----------------------------------------------------------
class Driver:
    """A processor whose flushes and table writes the test calls explicitly."""

    def __init__(self, **signals: Any) -> None:
        settings = Settings(kafka={"partitions": 1},  # type: ignore[arg-type]
                            signals={"live_watermark": False,  # type: ignore[arg-type]
                                     "allowed_lateness_s": 0, **signals})
        self.table: dict[str, dict[str, Any]] = {}
        self.engine = SignalEngine(settings.signals, wall_clock=lambda: WALL)
        self.proc = StreamProcessor(settings, self.engine,
                                    lambda cid, _partition: self.table.get(cid),
                                    wall_time=lambda: WALL.timestamp())
        self.offsets = Offsets()
        self.results: list[BatchResult] = []
        self.pending_flushes: list[BatchResult] = []

    def send(self, *messages: InMessage, until: float) -> None:
        self.results.append(self.proc.process(list(messages)))
        self.results.append(self.proc.drain(until))

    def flush(self) -> None:
        result = BatchResult()
        self.proc.flush(result)
        self.pending_flushes.append(result)

    def write(self) -> None:
        """The writer stores every flush taken so far in the table."""
        for result in self.pending_flushes:
            assert result.flush is not None
            for cid, data in result.flush.state_json.items():
                self.table[cid] = json.loads(data)
            self.proc.written(result.flush)
        self.pending_flushes = []

    def state(self, cid: str = "c1") -> CustomerState:
        return self.proc.states.get(cid, 0)


def order(d: Driver, day: float, event_id: str, order_id: str | None = None) -> InMessage:
    return raw_message("purchases", order_json("c1", iso(at(day)), event_id, 20.0, order_id),
                       d.offsets)


def poisoned_lifetime_spend(original: Any) -> Any:
    """LifetimeSpend.on_event that, for order "poison", changes state and then raises: the
    state update (orders, revenue, daily buckets) and three earlier rules have run by then."""
    def on_event(self: Any, state: CustomerState, event: Any, ts: float, out: list) -> None:
        if event.order_id == "poison":
            state.lifetime_spend_tier = 99
            raise RuntimeError("rule bug")
        original(self, state, event, ts, out)
    return on_event


@pytest.mark.parametrize("last_flush", ["none", "being written", "in the table"])
def test_an_event_whose_rule_raises_is_dead_lettered_and_its_state_left_as_before(
        monkeypatch: pytest.MonkeyPatch, last_flush: str) -> None:
    """Applying an event raises half-way: it is dead-lettered with the exception and the
    rule, and the customer's state is exactly as if it had never arrived (whether its last
    flush is absent, still being written, or in the table)."""
    monkeypatch.setattr(LifetimeSpend, "on_event",
                        poisoned_lifetime_spend(LifetimeSpend.on_event))

    def run(with_poison: bool) -> Driver:
        d = Driver()
        d.send(order(d, 0, "e1"), order(d, 1, "e2"), until=at(1.5).timestamp())
        if last_flush != "none":
            d.flush()
            if last_flush == "in the table":
                d.write()
        d.send(order(d, 2, "e3"), until=at(2.5).timestamp())
        if with_poison:
            d.send(order(d, 3, "e-poison", "poison"), until=at(3.5).timestamp())
        d.send(order(d, 4, "e4"), until=at(5).timestamp())
        return d

    hit, clean = run(with_poison=True), run(with_poison=False)
    state = hit.state()
    assert (state.orders, state.revenue, state.lifetime_spend_tier) == (4, 80.0, 0)
    assert "e-poison" not in state.recent_event_ids
    assert state.to_dict() == clean.state().to_dict()
    (letter,) = letters(hit.results)
    assert letter.stage == "processing"
    assert letter.reason == "RuntimeError: rule bug (in rule lifetime_spend)"
    assert letter.payload.encode() == order_json("c1", iso(at(3)), "e-poison", 20.0, "poison")
    c = hit.proc.counters
    assert (c["processing_errors"], c["dead_letters"], c["events"]) == (1, 1, 4)
    outputs = [m.value for r in hit.results for m in r.messages if m.topic != "dead-letter"]
    assert not [v for v in outputs if b"e-poison" in v]  # nothing the failed step decided
    assert len(outputs) == len([m for r in clean.results for m in r.messages])


def test_a_state_that_cannot_be_rebuilt_stops_the_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """If the table no longer holds what was flushed, the state cannot be rebuilt: an
    infrastructure error that stops the worker, never a guessed state."""
    monkeypatch.setattr(LifetimeSpend, "on_event",
                        poisoned_lifetime_spend(LifetimeSpend.on_event))
    d = Driver()
    d.send(order(d, 0, "e1"), until=at(0.5).timestamp())
    d.flush()
    d.write()
    d.table.clear()  # the store lost it
    with pytest.raises(StateRebuildFailed, match="rebuilt at version 0, not 1"):
        d.send(order(d, 1, "e-poison", "poison"), until=at(1.5).timestamp())


def test_an_absence_firing_that_raises_is_counted_and_its_timer_disarmed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An absence rule raising for one customer leaves its state as before, disarms its
    timer and is counted; another customer's absence signals still fire."""
    original = InactiveOverdue.fire

    def fire(self: Any, state: CustomerState, due: float, out: list) -> None:
        if state.customer_id == "c1":
            state.orders = -1
            raise ValueError("broken gap")
        original(self, state, due, out)

    monkeypatch.setattr(InactiveOverdue, "fire", fire)
    d = Driver()
    for cid in ("c1", "c2"):
        d.send(*(raw_message("purchases", order_json(cid, iso(at(day)), f"{cid}-{day}"),
                             d.offsets, key=cid.encode()) for day in (0, 10)),
               until=at(11).timestamp())
    d.send(until=at(60).timestamp())  # both are overdue at day 40
    assert d.proc.counters["timer_errors"] == 1
    assert d.state("c1").orders == 2 and "inactive_overdue" not in d.state("c1").episodes
    assert "inactive_overdue" in d.state("c2").episodes
    assert d.proc.partitions[0].timers.armed.get("c1") is None
    d.send(until=at(90).timestamp())
    assert d.proc.counters["timer_errors"] == 1  # disarmed: not retried on every tick


def test_a_year_10000_anniversary_with_a_wide_skew_is_a_timer_error_not_a_crash() -> None:
    """Finding 1 through the policy: with the event-time bound opened wide, the year-9999
    purchase is applied, the year-10000 anniversary arithmetic raises, and the worker goes
    on: counted, that timer disarmed, later events applied."""
    d = Driver(max_future_skew_s=1e12)
    d.send(order(d, 0, "e1"), until=at(1).timestamp())
    d.send(raw_message("purchases", order_json("c1", "9999-12-31T23:59:59Z", "far"),
                       d.offsets), until=253402300799.0)
    assert d.proc.counters["timer_errors"] >= 1
    # The anniversary after the year-9999 order lies in year 10000: computing it raised, the
    # step was rolled back and the timer disarmed (how many anniversaries came before is the
    # anniversary rule's business: tests/streams/signals/test_anniversary.py).
    assert d.state().orders == 2
    assert d.proc.partitions[0].timers.armed.get("c1") is None
    d.send(raw_message("purchases", order_json("c2", iso(at(2)), "e2"), d.offsets, key=b"c2"),
           until=253402300799.0)
    assert d.state("c2").orders == 1


def test_store_errors_are_not_processing_errors() -> None:
    """Reading a state from the store failing is infrastructure: it propagates and stops
    the worker, it does not dead-letter the event."""
    settings = Settings(kafka={"partitions": 1},  # type: ignore[arg-type]
                        signals={"live_watermark": False})  # type: ignore[arg-type]

    def unreadable(cid: str, partition: int | None) -> dict[str, Any] | None:
        raise OSError("RocksDB I/O error")

    proc = StreamProcessor(settings, SignalEngine(settings.signals), unreadable)
    proc.process([message(purchase("c1", at(0)), Offsets())])
    with pytest.raises(OSError, match="RocksDB"):
        proc.drain(at(1).timestamp())


def test_rebuilding_timers_skips_a_state_whose_due_time_raises() -> None:
    """A stored state whose next due time cannot be computed does not stop the worker at
    start: counted as a timer error, every other customer's timer is armed."""
    # Each bought once, so an anniversary is due (a customer active in the year before it).
    far, near = 253402300799.0, at(0).timestamp()
    poisoned = CustomerState(customer_id="c1", orders=1, first_purchase_at=far,
                             last_purchase_at=far).to_dict()
    healthy = CustomerState(customer_id="c2", orders=1, first_purchase_at=near,
                            last_purchase_at=near).to_dict()
    settings = Settings(kafka={"partitions": 1})  # type: ignore[arg-type]
    proc = StreamProcessor(settings, SignalEngine(settings.signals), lambda *_: None)
    proc.start_rearming([poisoned, healthy])
    proc.rearm(2)
    assert proc.counters["timer_errors"] == 1
    assert set(proc.partitions[0].timers.armed) == {"c2"}


# --- partitioning (finding 2) -------------------------------------------------------------
P = 4  # input partitions in these tests: c1 maps to partition 3


def test_a_keyless_message_is_rerouted_not_applied() -> None:
    """Finding 2: a keyless event used to be applied in whatever partition it landed in;
    now it is produced again keyed by customer_id (its original acknowledged with that
    batch) and applied once, in its customer's partition."""
    h = Harness(partitions=P)
    keyless = raw_message("purchases", wire(purchase("c1", at(0))), h.offsets, 0, key=None)
    result = h.send(keyless)
    assert raw_rows([result]) == 0
    assert result.flush is not None and not result.flush.states  # no state, acked
    assert result.done == [keyless.handle] and result.dead_letters == 0
    (copy,) = result.messages
    assert (copy.topic, copy.key, copy.value) == ("purchases", b"c1", keyless.value)
    assert h.proc.counters["rerouted"] == 1
    # The broker places the copy by its key: partition 3.
    h.send(raw_message(copy.topic, copy.value, h.offsets, partition_for(copy.key, P), copy.key))
    h.idle()
    assert h.state("c1")["orders"] == 1 and h.state("c1")["partition"] == 3
    assert [o.kind for o in h.outputs()] == ["first_purchase"]


@pytest.mark.parametrize(("key", "partition"), [
    (b"c1", 0),  # another partitioner (librdkafka's default is CRC32)
    (None, 3),  # keyless, in the right partition by chance
    (b"c2", 1),  # keyed by something else, in that key's partition
])
def test_a_misplaced_message_is_rerouted_keyed_by_its_customer_id(
        key: bytes | None, partition: int) -> None:
    """A message not keyed by its customer_id, or not in the partition that key maps to, is
    never applied where it is: it is produced again keyed by customer_id."""
    h = Harness(partitions=P)
    value = wire(purchase("c1", at(0)))
    result = h.send(raw_message("purchases", value, h.offsets, partition, key))
    assert [(m.topic, m.key, m.value) for m in result.messages] == [("purchases", b"c1", value)]
    assert raw_rows([result]) == 0 and result.rerouted == 1 and len(result.done) == 1


def test_misplaced_messages_are_dead_lettered_when_so_configured() -> None:
    """RETENTION_KAFKA__MISPLACED_EVENTS=dead-letter refuses them with the partitions named."""
    h = Harness(partitions=P)
    h.settings.kafka.misplaced_events = "dead-letter"
    h.proc = StreamProcessor(h.settings, h.engine, lambda *_: None)
    result = h.send(raw_message("purchases", wire(purchase("c1", at(0))), h.offsets, 0, b"c1"))
    (letter,) = letters([result])
    assert letter.stage == "placement" and result.rerouted == 0
    assert "in partition 0" in letter.reason and "maps to partition 3 of 4" in letter.reason


def test_an_event_misplaced_again_after_its_reroute_is_dead_lettered() -> None:
    """A re-routed event that comes back misplaced (the topic has another partition count
    than configured, or it was sent twice) is dead-lettered, never routed round in a loop."""
    h = Harness(partitions=P)
    value = wire(purchase("c1", at(0)))
    first = h.send(raw_message("purchases", value, h.offsets, 0, None))
    again = h.send(raw_message("purchases", value, h.offsets, 1, b"c1"))
    assert first.rerouted == 1 and again.rerouted == 0
    (letter,) = letters([again])
    assert letter.stage == "placement" and "re-routed it already" in letter.reason


def test_a_misplaced_event_too_large_to_reroute_is_dead_lettered() -> None:
    """A copy keyed by customer_id must fit the broker's limit like any produced record."""
    h = Harness(partitions=P)
    h.settings.kafka.max_message_bytes = 16_384
    h.proc = StreamProcessor(h.settings, h.engine, lambda *_: None)
    body = wire(purchase("c1", at(0)))
    padded = body[:-1] + b" " * (16_384 - RECORD_OVERHEAD - len(body)) + b"}"  # valid JSON
    result = h.send(raw_message("purchases", padded, h.offsets, 0, None))
    (letter,) = letters([result])
    assert letter.stage == "placement" and "too large to re-route" in letter.reason


# --- size limits (finding 3) --------------------------------------------------------------
LIMIT = 16_384


def sized_harness() -> Harness:
    h = Harness()
    h.settings.kafka.max_message_bytes = LIMIT
    h.proc = StreamProcessor(h.settings, h.engine, lambda *_: None)
    return h


def original_of(letter: DeadLetter) -> bytes:
    """The payload's bytes, as a reader would decode them."""
    if letter.payload_encoding == "base64":
        return base64.b64decode(letter.payload)
    return letter.payload.encode()


@pytest.mark.parametrize(("value", "key"), [
    (b"x" * 3_000_000, b"c1"),  # 3 MB, text
    (bytes(range(256)) * 12_000, b"c1"),  # 3 MB, not UTF-8: base64
    (b"\x01" * (LIMIT - 10), b"c1"),  # under the limit, but 6x as JSON (\u0001)
    ("€".encode() * (LIMIT // 3 - 20), b"c1"),  # multi-byte characters, under the limit
    (b"{}", b"k" * (2 * LIMIT)),  # the key alone is over the limit
])
def test_no_dead_letter_exceeds_the_limit(value: bytes, key: bytes) -> None:
    """Whatever the message, its dead letter (key and value) stays RECORD_OVERHEAD below
    RETENTION_KAFKA__MAX_MESSAGE_BYTES, with the payload once, a prefix of the original,
    the original's size and sha256."""
    h = sized_harness()
    result = h.send(raw_message("purchases", value, h.offsets, key=key))
    (record,) = result.messages
    assert len(record.key) + len(record.value) <= LIMIT - RECORD_OVERHEAD
    letter = DeadLetter.model_validate_json(record.value)
    assert "payload_b64" not in json.loads(record.value)
    assert (letter.payload_bytes, letter.payload_sha256) == (
        len(value), hashlib.sha256(value).hexdigest())
    excerpt = original_of(letter)
    assert value.startswith(excerpt)
    assert letter.payload_truncated == (len(excerpt) < len(value))
    if len(key) + len(value) > LIMIT:
        assert letter.stage == "size" and f"over the limit of {LIMIT}" in letter.reason
    if len(value) > LIMIT:
        assert letter.payload_truncated and len(excerpt) > LIMIT // 2  # as much as fits


def test_a_valid_event_over_the_limit_is_refused_unparsed() -> None:
    """Size comes first: a valid event padded past the limit is dead-lettered, not stored."""
    h = sized_harness()
    body = wire(purchase("c1", at(0)))
    padded = body[:-1] + b" " * LIMIT + b"}"
    result = h.send(raw_message("purchases", padded, h.offsets))
    assert raw_rows([result]) == 0
    assert [letter.stage for letter in letters([result])] == ["size"]


def test_a_small_dead_letter_keeps_the_whole_payload_exactly() -> None:
    """Under the limit nothing is cut: invalid UTF-8 comes back byte for byte (base64)."""
    h = Harness()
    value = b'{"event_id": "\xff\xfe"}'
    (letter,) = letters([h.send(raw_message("purchases", value, h.offsets))])
    assert (letter.payload_encoding, letter.payload_truncated) == ("base64", False)
    assert original_of(letter) == value
