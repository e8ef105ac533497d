"""StreamProcessor: dead letters, duplicates, the event-time buffer, acks and live absence."""

from __future__ import annotations

import base64
import json
import math
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from schemas import ChurnRiskAlert, DeadLetter, Milestone
from streams.outputs import partition_for
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.signals.engine import SignalEngine
from streams.state import day_of

from .helpers import (
    DAY,
    HOUR,
    WALL,
    FakeClock,
    Offsets,
    at,
    message,
    processor_settings,
    purchase,
    raw_message,
    support,
    survey,
    wire,
)

IDLE_AFTER = 10.0


class Harness:
    """A processor with injected clocks and a store standing in for the Faust table."""

    def __init__(self, live: bool = False, lateness: float = 0.0,
                 store: dict[str, dict[str, Any]] | None = None,
                 wall: float = WALL.timestamp(),
                 end_offsets: dict[tuple[str, int], int] | None = None,
                 partitions: int = 1) -> None:
        # One input partition unless a test says otherwise: every key maps to partition 0.
        # The engine's wall clock (WALL) is years after these events: with no live horizon
        # every output is published (test_historical.py covers delivery).
        self.settings = processor_settings(kafka={"partitions": partitions},
                                           live_watermark=live, allowed_lateness_s=lateness,
                                           idle_watermark_after_s=IDLE_AFTER,
                                           live_horizon_s=math.inf)
        self.monotonic = FakeClock(1_000.0)
        self.wall = FakeClock(wall)
        self.store = store if store is not None else {}
        self.engine = SignalEngine(self.settings.signals, wall_clock=lambda: WALL)
        self.offsets = Offsets()
        # Unless a test says otherwise, the consumer has fetched every message sent so far
        # (a log end is what the offsets handed out reach): a topic goes quiet only once
        # everything sent to it was taken in.
        def end_offset(topic: str, partition: int) -> int | None:
            if end_offsets is not None:
                return end_offsets.get((topic, partition))
            return self.offsets.next.get((topic, partition), 0)

        self.proc = StreamProcessor(self.settings, self.engine,
                                    load_state=lambda cid, _partition: self.store.get(cid),
                                    end_offset=end_offset,
                                    monotonic=self.monotonic, wall_time=self.wall)
        self.results: list[BatchResult] = []

    def send(self, *items: Any, partition: int = 0) -> BatchResult:
        msgs = [i if isinstance(i, InMessage) else message(i, self.offsets, partition)
                for i in items]
        return self._keep(self.proc.process(msgs))

    def tick(self) -> BatchResult:
        return self._keep(self.proc.tick())

    def idle(self) -> BatchResult:
        """Let every topic go quiet, then tick."""
        self.monotonic.advance(IDLE_AFTER + 1)
        return self.tick()

    def _keep(self, result: BatchResult) -> BatchResult:
        # Flush after every batch, as a worker whose flush interval has always passed.
        self.proc.flush(result)
        self.results.append(result)
        if result.flush is not None:
            for cid, data in result.flush.state_json.items():  # what the table stores
                self.store[cid] = json.loads(data)
            self.proc.written(result.flush)
        return result

    def done(self) -> Counter[Any]:
        return Counter(h for r in self.results for h in r.done)

    def outputs(self) -> list[ChurnRiskAlert | Milestone]:
        out: list[ChurnRiskAlert | Milestone] = []
        for r in self.results:
            for m in r.messages:
                if m.topic == "churn-risk":
                    out.append(ChurnRiskAlert.model_validate_json(m.value))
                elif m.topic == "milestones":
                    out.append(Milestone.model_validate_json(m.value))
        return out

    def state(self, cid: str = "c1") -> dict[str, Any]:
        return self.store[cid]


# --- dead letters -------------------------------------------------------------------------
_VALID = purchase("c1", at(0), 25)
_NEGATIVE = json.loads(wire(_VALID))
_NEGATIVE["amount"] = -1


@pytest.mark.parametrize(("topic", "key", "value", "reason"), [
    ("purchases", b"c1", b'{"event_id": ', "not valid JSON"),
    ("purchases", b"c1", b"\xff\xfe\x00garbage", "not valid JSON"),
    ("purchases", b"c1", json.dumps(_NEGATIVE).encode(),
     "amount: Input should be greater than or equal to 0"),
    ("survey-responses", b"c1", wire(_VALID), "survey: Field required"),
    ("orders", b"c1", wire(_VALID), "unexpected topic orders"),
    ("purchases", b"c1", None, "empty message (tombstone)"),
])
def test_invalid_message_becomes_dead_letter(topic: str, key: bytes, value: bytes | None,
                                             reason: str) -> None:
    """Unusable input goes to dead-letter with its reason, original bytes and coordinates."""
    h = Harness()
    msg = raw_message(topic, value, h.offsets, partition=3, key=key)
    msg.offset = 41
    msg.handle = "the-handle"
    result = h.send(msg)
    assert result.done == ["the-handle"]
    assert (result.dead_letters, result.alerts, result.milestones) == (1, 0, 0)
    out = [m for m in result.messages if m.topic == "dead-letter"]
    assert len(result.messages) == len(out) == 1
    assert out[0].key == key
    letter = DeadLetter.model_validate_json(out[0].value)
    assert (letter.topic, letter.partition, letter.offset, letter.key) == (topic, 3, 41,
                                                                           key.decode())
    assert reason in letter.reason
    raw = value or b""
    assert (letter.payload_bytes, letter.payload_truncated) == (len(raw), False)
    stored = (letter.payload.encode() if letter.payload_encoding == "utf-8"
              else base64.b64decode(letter.payload))
    assert stored == raw
    assert len(result.rows.rows["dead_letters"]) == 1
    assert h.proc.buffered() == 0
    # No state changed: an empty flush, so that the pipeline acknowledges it all the same.
    assert result.flush is not None and not result.flush.states


def test_dead_letter_does_not_stop_the_batch() -> None:
    """Valid messages around an invalid one are processed normally."""
    h = Harness()
    bad = raw_message("purchases", b"nope", h.offsets)
    h.send(message(purchase("c1", at(0), 25), h.offsets), bad,
           message(purchase("c1", at(1), 25), h.offsets))
    h.idle()
    assert h.state()["orders"] == 2
    assert sum(h.done().values()) == 3
    assert h.proc.counters["dead_letters"] == 1


def test_valid_events_are_written_to_raw_tables_at_once() -> None:
    """A valid event's row is produced on arrival, even while it waits in the buffer."""
    h = Harness()
    result = h.send(purchase("c1", at(0), 25), support("c1", at(0), "T1", "opened"))
    assert result.done == []
    assert len(result.rows.rows["purchases"]) == 1
    assert len(result.rows.rows["support_events"]) == 1


# --- duplicates ---------------------------------------------------------------------------
def test_duplicate_event_ids_count_once() -> None:
    """Re-sent events (same event_id) are acked but change state only once."""
    h = Harness()
    order = purchase("c1", at(0), 25)
    first = h.send(order, order)
    h.idle()
    late_copy = h.send(order)
    assert h.state()["orders"] == 1
    assert h.proc.counters["duplicates"] == 2
    assert late_copy.done and late_copy.duplicates == 1
    assert [o.kind for o in h.outputs() if isinstance(o, Milestone)] == ["first_purchase"]
    assert sum(h.done().values()) == 3
    assert first.done == []  # held until the watermark passed


# --- watermark and acks -------------------------------------------------------------------
def test_watermark_waits_for_every_input_topic() -> None:
    """Events wait until all three topics pass their time; each is acked once, when applied."""
    h = Harness()
    p1, p2 = purchase("c1", at(0), 25), purchase("c1", at(2), 25)
    r1 = h.send(p2, p1)  # arrives out of order
    assert r1.done == [] and h.proc.buffered() == 2
    r2 = h.send(support("c1", at(3), "T1", "opened"))
    assert r2.done == []  # surveys have said nothing yet: they might bring earlier events
    r3 = h.send(survey("c1", at(1), "nps", 8))
    # watermark = min(purchases at 2, support at 3, surveys at 1): only p1 and the survey
    assert sorted(r3.done) == [("purchases", 0, 1), ("survey-responses", 0, 0)]
    assert h.proc.watermarks() == {0: at(1).timestamp()}
    r4 = h.idle()
    assert sorted(r4.done) == [("purchases", 0, 0), ("support-events", 0, 0)]
    assert h.proc.buffered() == 0
    assert h.done() == Counter({("purchases", 0, 0): 1, ("purchases", 0, 1): 1,
                                ("support-events", 0, 0): 1, ("survey-responses", 0, 0): 1})
    first = next(o for o in h.outputs() if isinstance(o, Milestone))
    assert (first.kind, first.trigger_event_id) == ("first_purchase", p1.event_id)


def test_a_topic_with_unread_messages_is_never_idle() -> None:
    """However long the worker takes to reach a topic's backlog, the watermark waits for it;
    once nothing is left to read, the topic may go idle."""
    ends: dict[tuple[str, int], int] = {}
    h = Harness(end_offsets=ends)
    h.send(purchase("c1", at(0), 25), support("c1", at(0), "T1", "opened"),
           survey("c1", at(0), "nps", 8))
    ends[("survey-responses", 0)] = 6  # five survey answers published, not yet taken in
    h.monotonic.advance(IDLE_AFTER + 1)
    r = h.send(purchase("c1", at(3), 25), support("c1", at(3), "T1", "replied"))
    assert r.done == [] and r.late == 0
    assert h.proc.watermarks() == {0: at(0).timestamp()}
    ends[("survey-responses", 0)] = 1  # caught up: silent since, so idle
    assert sorted(h.tick().done) == [("purchases", 0, 1), ("support-events", 0, 1)]


def test_events_of_a_starved_topic_are_not_late() -> None:
    """A topic the consumer has not fetched for longer than the idle delay (its log end
    unknown, as a starved partition's on a loaded worker) holds the watermark at its newest
    event: its events taken in afterwards are applied in order, none late."""
    ends: dict[tuple[str, int], int] = {}
    h = Harness(end_offsets=ends)
    h.send(survey("c1", at(0), "nps", 8), purchase("c1", at(0), 25),
           support("c1", at(0), "T1", "opened"))
    ends.update({("purchases", 0): 1, ("support-events", 0): 1})  # survey: not fetched since
    h.monotonic.advance(IDLE_AFTER + 1)
    h.send(purchase("c1", at(3), 25), support("c1", at(3), "T1", "replied"))
    h.idle()
    assert h.proc.watermarks() == {0: at(0).timestamp()}
    h.send(survey("c1", at(1), "nps", 9))  # reached at last
    assert sum(r.late for r in h.results) == 0
    assert [handle for r in h.results for handle in r.done] == [
        ("purchases", 0, 0), ("support-events", 0, 0), ("survey-responses", 0, 0),
        ("survey-responses", 0, 1)]

def test_partitions_have_their_own_watermarks() -> None:
    """A quiet partition does not hold back another one."""
    h = Harness(partitions=2)  # c0 maps to partition 0, c1 to 1
    for p in (0, 1):
        h.send(purchase(f"c{p}", at(p), 25), support(f"c{p}", at(p), "T", "opened"),
               survey(f"c{p}", at(p), "nps", 8), partition=p)
    h.send(purchase("c1", at(5), 25), support("c1", at(5), "T", "replied"),
           survey("c1", at(5), "nps", 8), partition=1)
    assert h.proc.watermarks() == {0: at(0).timestamp(), 1: at(5).timestamp()}


def test_late_event_is_applied_and_counted() -> None:
    """An event older than the watermark is applied at once and counted as late."""
    h = Harness(lateness=HOUR)
    h.send(purchase("c1", at(3), 25), support("c1", at(3), "T", "opened"),
           survey("c1", at(3), "nps", 8))
    assert h.proc.watermarks()[0] == at(3).timestamp() - HOUR
    late = h.send(purchase("c1", at(1), 25))
    assert (late.late, len(late.done)) == (1, 1)
    h.idle()
    assert h.state()["orders"] == 2


def test_late_purchase_on_an_earlier_day_counts_as_a_purchase_day() -> None:
    """A late order on a day between (or before) known ones updates the BG/NBD inputs."""
    h = Harness()
    h.send(purchase("c1", at(0), 25), purchase("c1", at(2), 25))
    h.idle()
    h.send(purchase("c1", at(1), 25))
    assert h.state()["purchase_days"] == 3
    h.send(purchase("c1", at(-1), 25))
    state = h.state()
    assert state["purchase_days"] == 4
    assert state["first_purchase_day"] == day_of(at(-1).timestamp())
    assert state["last_purchase_day"] == day_of(at(2).timestamp())
    assert h.proc.counters["late"] == 2


def test_every_message_is_acked_exactly_once() -> None:
    """A shuffled mix of valid, duplicate, late and invalid messages: each acked once."""
    rng = random.Random(1)
    h = Harness(lateness=HOUR / 2, partitions=3)
    msgs: list[InMessage] = []
    for n in range(300):
        cid = f"c{rng.randrange(12)}"
        part = partition_for(cid.encode(), 3)
        when = at(0) + timedelta(hours=n / 4 + rng.uniform(-3, 3))
        kind = rng.random()
        if kind < 0.05:
            msgs.append(raw_message("purchases", b"{broken", h.offsets, part, cid.encode()))
            continue
        if kind < 0.4:
            event: Any = purchase(cid, when, round(rng.uniform(5, 80), 2))
        elif kind < 0.7:
            event = support(cid, when, f"T{n % 7}", rng.choice(["opened", "resolved"]))
        else:
            event = survey(cid, when, "nps", rng.randrange(11))
        msgs.append(message(event, h.offsets, part))
        if rng.random() < 0.1:
            msgs.append(message(event, h.offsets, part))  # a re-delivery
    expected = Counter(m.handle for m in msgs)
    i = 0
    while i < len(msgs):
        size = rng.randint(1, 40)
        h.send(*msgs[i:i + size])
        i += size
    assert sum(h.done().values()) < len(msgs)  # some still wait for the watermark
    h.idle()
    assert h.done() == expected
    assert h.proc.buffered() == 0
    c = h.proc.counters
    assert c["events"] + c["dead_letters"] == len(msgs)
    assert c["late"] > 0 and c["duplicates"] > 0


# --- timers -------------------------------------------------------------------------------
def test_timer_heap_holds_one_entry_per_customer_not_per_event() -> None:
    """Re-arming a customer's absence timer on every event does not pile up heap entries."""
    h = Harness()
    for n in range(500):
        h.send(purchase("c1", at(n / 10), 5), support("c1", at(n / 10), f"T{n}", "opened"),
               support("c1", at(n / 10, hours=1), f"T{n}", "resolved"),
               survey("c1", at(n / 10, hours=2), "nps", 8))
    assert h.state()["orders"] == 500
    # due times move with every event; superseded entries are dropped, not kept or re-armed
    assert len(h.proc.partitions[0].timers) <= 2 + 64


def test_drain_fires_absence_up_to_event_time() -> None:
    """drain(T) releases everything and fires absence signals due by T, in replays."""
    h = Harness()
    h.send(purchase("c1", at(0), 25), purchase("c1", at(10), 25))  # other topics silent
    assert h.proc.buffered() == 2
    h._keep(h.proc.drain(at(40).timestamp() - 1))
    assert [o.kind for o in h.outputs() if isinstance(o, Milestone)] == [
        "first_purchase", "repeat_customer"]
    assert not [o for o in h.outputs() if isinstance(o, ChurnRiskAlert)]
    h._keep(h.proc.drain(at(40).timestamp()))
    alert = next(o for o in h.outputs() if isinstance(o, ChurnRiskAlert))
    assert (alert.rule_id, alert.decided_at) == ("inactive_overdue", at(40))


# --- live absence -------------------------------------------------------------------------
def test_live_absence_fires_on_the_wall_clock() -> None:
    """With nothing arriving, tick() fires absence rules at their due event times."""
    h = Harness(live=True, lateness=5, wall=at(10, hours=1, minutes=1).timestamp())
    h.send(purchase("c1", at(0), 25), purchase("c1", at(10), 25),
           support("c1", at(10, hours=1), "T1", "opened"))
    h.idle()  # quiet topics: the watermark follows the wall clock
    assert sum(r.milestones for r in h.results) == 2
    sla_due = at(10, hours=73)
    overdue_due = at(40)

    h.wall.now = sla_due.timestamp() + 4  # still within the allowed lateness
    h.monotonic.advance(1)
    assert h.tick().alerts == 0
    h.wall.now = sla_due.timestamp() + 5
    slow = h.tick()
    assert slow.alerts == 1
    assert slow.flush is not None and "c1" in slow.flush.states and slow.done == []

    h.wall.now = overdue_due.timestamp() + 3 * DAY
    h.tick()
    fired = [o for o in h.outputs() if isinstance(o, ChurnRiskAlert)]
    assert [(a.rule_id, a.decided_at, a.trigger_event_id) for a in fired] == [
        ("slow_resolution", sla_due, None), ("inactive_overdue", overdue_due, None)]
    assert fired[1].score == 60 and fired[1].level == "medium"


def test_absence_timers_survive_a_restart() -> None:
    """A new worker re-arms timers from stored state and fires them on its own clock."""
    h = Harness(live=True, wall=at(10, hours=1).timestamp())
    h.send(purchase("c1", at(0), 25), purchase("c1", at(10), 25))
    h.idle()
    ends: dict[tuple[str, int], int] = {}  # the new consumer has not fetched yet
    restarted = Harness(live=True, store=h.store, wall=at(41).timestamp(), end_offsets=ends)
    restarted.proc.start_rearming(h.store.values())
    restarted.proc.rearm(len(h.store))
    assert restarted.tick().alerts == 0  # log ends unknown: the topics may still send history
    restarted.idle()
    assert restarted.results[-1].alerts == 0  # however long that takes
    # Its first fetch: nothing left past the committed offsets (FaustConsumer reports 0).
    ends.update({(topic, 0): 0 for topic in ("purchases", "support-events",
                                              "survey-responses")})
    restarted.tick()
    (alert,) = [o for o in restarted.outputs() if isinstance(o, ChurnRiskAlert)]
    assert (alert.rule_id, alert.decided_at) == ("inactive_overdue", at(40))
    assert restarted.state()["episodes"].keys() == {"inactive_overdue"}


def test_state_evicted_before_its_table_write_is_not_read_back_stale():
    """A customer evicted from a tiny cache while its table write is pending keeps counting."""
    import datetime as _dt
    import json as _json

    from retention.settings import Settings
    from streams.processor import InMessage, StreamProcessor
    from streams.signals import SignalEngine

    settings = Settings(kafka={"partitions": 1},
                        signals={"live_watermark": False, "allowed_lateness_s": 0,
                                 "state_cache_size": 1})
    table: dict[str, dict] = {}
    processor = StreamProcessor(settings, SignalEngine(settings.signals),
                                lambda cid, _partition: table.get(cid))

    def order(event_id: str, customer: str, day: int) -> InMessage:
        body = {"event_id": event_id, "customer_id": customer, "order_id": event_id,
                "occurred_at": f"2026-01-{day:02d}T00:00:00Z", "amount": 10}
        return InMessage("purchases", 0, day, customer.encode(), _json.dumps(body).encode())

    # c1 and c2 alternate, so the one-entry cache evicts each before the next batch; nothing
    # is "written" to the table in between (the writer is behind).
    for day, customer in enumerate(["c1", "c2", "c1", "c2", "c1"], start=1):
        processor.process([order(f"e{day}", customer, day)])
    processor.drain(until=_dt.datetime(2026, 2, 1, tzinfo=_dt.UTC).timestamp())
    assert processor.states.unwritten["c1"][0].orders == 3
    assert processor.states.unwritten["c2"][0].orders == 2


def test_state_changed_again_before_its_flush_is_written_stays_unwritten():
    """Flush 1 is written while the customer has changed again: it must not count as stored."""
    import datetime as _dt
    import json as _json

    from retention.settings import Settings
    from streams.processor import BatchResult, InMessage, StreamProcessor
    from streams.signals import SignalEngine

    settings = Settings(kafka={"partitions": 1},
                        signals={"live_watermark": False, "allowed_lateness_s": 0,
                                 "state_cache_size": 1})
    processor = StreamProcessor(settings, SignalEngine(settings.signals), lambda *_: None)

    def order(event_id: str, customer: str, day: int) -> InMessage:
        body = {"event_id": event_id, "customer_id": customer, "order_id": event_id,
                "occurred_at": f"2026-01-{day:02d}T00:00:00Z", "amount": 10}
        return InMessage("purchases", 0, day, customer.encode(), _json.dumps(body).encode())

    def until(day: int) -> float:
        return _dt.datetime(2026, 1, day, tzinfo=_dt.UTC).timestamp()

    processor.process([order("e1", "c1", 1), order("e2", "c1", 2)])
    processor.drain(until(3))
    first = BatchResult()
    processor.flush(first)
    processor.process([order("e3", "c1", 3), order("e4", "c2", 4)])  # c1 changed, evicted
    processor.drain(until(5))
    assert first.flush is not None
    processor.written(first.flush)
    assert processor.states.unwritten["c1"][0].orders == 3  # the newest, not the (older) table
    second = BatchResult()
    processor.flush(second)
    assert second.flush is not None and "c1" in second.flush.states
    processor.written(second.flush)
    assert "c1" not in processor.states.unwritten


def test_a_timer_reads_its_customer_from_the_timers_partition() -> None:
    """An absence timer firing for a customer no longer cached reads the stored state from
    the timer's partition (a lookup without it found nothing after a rebalance)."""
    import datetime as _dt
    import json as _json

    from retention.settings import Settings
    from streams.processor import InMessage, StreamProcessor
    from streams.signals import SignalEngine

    settings = Settings(kafka={"partitions": 4},  # c1 and c5 both map to partition 3
                        signals={"live_watermark": False, "allowed_lateness_s": 0,
                                 "state_cache_size": 1})
    table: dict[str, dict[str, Any]] = {}
    asked: list[tuple[str, int | None]] = []

    def load(cid: str, partition: int | None) -> dict[str, Any] | None:
        asked.append((cid, partition))
        return table.get(cid)

    processor = StreamProcessor(settings, SignalEngine(settings.signals), load)

    def order(event_id: str, customer: str, day: int) -> InMessage:
        body = {"event_id": event_id, "customer_id": customer, "order_id": event_id,
                "occurred_at": f"2026-01-{day:02d}T00:00:00Z", "amount": 10}
        return InMessage("purchases", 3, day, customer.encode(), _json.dumps(body).encode())

    def step(messages: list[InMessage], until_day: int) -> BatchResult:
        processor.process(messages)
        result = processor.drain(_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC).timestamp()
                                 + until_day * DAY)
        processor.flush(result)
        if result.flush is not None:
            for cid, (state, _) in result.flush.states.items():
                table[cid] = state.to_dict()
            processor.written(result.flush)
        return result

    step([order("e1", "c1", 1), order("e2", "c1", 2)], 3)  # c1 is due inactive_overdue
    step([order("e3", "c5", 4)], 5)  # evicts c1 from the one-entry cache
    asked.clear()
    fired = step([], 120)
    assert ("c1", 3) in asked and ("c1", None) not in asked
    assert fired.alerts >= 1
