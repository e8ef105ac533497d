"""The reorder buffer and the watermark policy of one partition, without a processor."""

from __future__ import annotations

from streams.processor.reorder import Pending, ReorderBuffer, WatermarkPolicy

from .helpers import HOUR, FakeClock, Offsets, at, message, processor_settings, purchase

TOPICS = ["purchases", "support-events", "survey-responses"]


def pending(hours: float, event_id: str) -> Pending:
    event = purchase("c1", at(hours=hours), event_id=event_id)
    return Pending(event.occurred_at.timestamp(), 0, event, handle=event_id,
                   message=message(event, Offsets()))


def test_events_leave_in_event_time_then_event_id_order_up_to_the_watermark() -> None:
    """Only events the watermark passed are released, by (event time, event id)."""
    buf = ReorderBuffer(TOPICS, now=0.0)
    for p in (pending(2, "b"), pending(3, "a"), pending(1, "z"), pending(2, "a")):
        assert buf.add("purchases", 0, p)
    assert buf.waiting == {"c1": 4}
    assert buf.advance(at(hours=2).timestamp())
    assert [p.handle for p in buf.released()] == ["z", "a", "b"]
    assert [entry[4].handle for entry in buf.buffer] == ["a"]
    assert buf.waiting == {"c1": 1}  # the customer still has an event in the buffer
    assert buf.advance(at(hours=3).timestamp())
    assert [p.handle for p in buf.released()] == ["a"]
    assert buf.waiting == {}


def test_an_event_at_or_behind_the_watermark_is_late_and_not_buffered() -> None:
    """add() reports a late event for the caller to apply at once; its topic is noted."""
    buf = ReorderBuffer(TOPICS, now=0.0)
    buf.advance(at(hours=5).timestamp())
    buf.arrived("support-events", at(hours=5).timestamp(), now=3.0)
    assert not buf.add("support-events", 7, pending(5, "late"))
    assert buf.buffer == [] and buf.waiting == {}
    assert buf.max_seen == {"support-events": at(hours=5).timestamp()}
    assert buf.last_arrival["support-events"] == 3.0


def test_the_watermark_never_moves_back() -> None:
    """advance() to a time at or behind the watermark changes nothing."""
    buf = ReorderBuffer(TOPICS, now=0.0)
    assert buf.advance(10.0)
    assert not buf.advance(10.0) and not buf.advance(5.0)
    assert buf.watermark == 10.0


def _policy(live: bool = False, lateness: float = 0.0,
            ends: dict[tuple[str, int], int] | None = None) -> tuple[WatermarkPolicy,
                                                                     FakeClock]:
    clock = FakeClock(100.0)
    signals = processor_settings(live_watermark=live, allowed_lateness_s=lateness,
                                 idle_watermark_after_s=10.0).signals
    ends = ends if ends is not None else {}
    policy = WatermarkPolicy(signals, clock, wall_time=lambda: 5_000.0,
                             end_offset=lambda topic, p: ends.get((topic, p)))
    return policy, clock


def _read_to_end(end: int) -> dict[tuple[str, int], int]:
    """Every topic's log end in partition 0 (as the taken-in offsets of a caught-up one)."""
    return {(topic, 0): end for topic in TOPICS}


def _seen(buf: ReorderBuffer, clock: FakeClock, **max_seen: float) -> None:
    for topic, ts in max_seen.items():
        buf.max_seen[topic] = ts
        buf.last_arrival[topic] = clock()


def test_the_watermark_waits_for_a_live_topic_that_has_sent_nothing() -> None:
    """A topic created lately that has sent nothing may still bring earlier events."""
    policy, clock = _policy()
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})
    assert policy.target(0, buf) is None


def test_the_slowest_live_topic_minus_lateness_is_the_target() -> None:
    """With every topic live, the target is the oldest newest-event-time minus lateness."""
    policy, clock = _policy(lateness=HOUR)
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, purchases=9 * HOUR, **{"support-events": 7 * HOUR,
                                             "survey-responses": 8 * HOUR})
    assert policy.target(0, buf) == 6 * HOUR


def test_an_idle_topic_does_not_hold_the_watermark_back() -> None:
    """A topic silent for the idle delay, with nothing left to read, is left out."""
    policy, clock = _policy(ends={("survey-responses", 0): 1})
    policy.taken[("survey-responses", 0)] = 1
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, **{"survey-responses": 10.0})
    clock.advance(11.0)
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})
    assert policy.target(0, buf) == 50.0


def test_a_topic_with_unread_messages_stays_live() -> None:
    """Silent but with messages past the last offset taken in: not idle."""
    ends = {("survey-responses", 0): 4}
    policy, clock = _policy(ends=ends)
    policy.taken[("survey-responses", 0)] = 3
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, **{"survey-responses": 10.0})
    clock.advance(11.0)
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})
    assert policy.target(0, buf) == 10.0
    policy.taken[("survey-responses", 0)] = 4  # caught up
    assert policy.target(0, buf) == 50.0


def test_a_starved_topic_whose_log_end_is_unknown_holds_past_the_idle_delay() -> None:
    """A topic the consumer has not fetched for longer than the idle delay (log end unknown:
    a starved partition of a loaded worker) is not quiet: the watermark stays at its newest
    event time minus the lateness, so the events it still holds are not late."""
    ends = _read_to_end(3)
    del ends[("survey-responses", 0)]  # not fetched since: its log end is unknown
    policy, clock = _policy(lateness=1.0, ends=ends)
    policy.taken.update(_read_to_end(3))
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, **{"survey-responses": 10.0})
    clock.advance(11.0)  # the idle delay is 10 s
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})
    assert policy.target(0, buf) == 10.0 - 1.0  # not 50 - 1, past its unread events
    clock.advance(3_600.0)
    assert policy.target(0, buf) == 10.0 - 1.0  # however long it stays starved
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})  # the others still send
    ends[("survey-responses", 0)] = 3  # fetched: nothing past what was taken in, so idle
    assert policy.target(0, buf) == 50.0 - 1.0


def test_a_topic_that_sent_nothing_holds_the_partition_while_its_log_may_hold_events() -> None:
    """Nothing taken in from a topic whose log end is unknown, or known and above 0, holds
    the partition whole (it may bring earlier events than any seen) past the idle delay,
    in live mode too; once its log end is known to be 0 (empty) it goes quiet as before."""
    for live in (False, True):
        ends = _read_to_end(1)
        del ends[("survey-responses", 0)]
        policy, clock = _policy(live=live, ends=ends)
        policy.taken.update({("purchases", 0): 1, ("support-events", 0): 1})
        buf = ReorderBuffer(TOPICS, now=clock())
        clock.advance(11.0)
        _seen(buf, clock, purchases=4_990.0, **{"support-events": 4_995.0})
        assert policy.target(0, buf) is None  # log end unknown
        ends[("survey-responses", 0)] = 7  # 7 messages published, none taken in yet
        assert policy.target(0, buf) is None
        ends[("survey-responses", 0)] = 0  # an empty partition
        assert policy.target(0, buf) == (5_000.0 if live else 4_990.0)


def test_with_every_topic_idle_the_target_follows_the_wall_clock_or_the_newest_event() -> None:
    """Live mode: wall clock minus lateness; replays: the newest event time seen."""
    for live, expected in ((True, 5_000.0 - 2.0), (False, 60.0)):
        policy, clock = _policy(live=live, lateness=2.0, ends=_read_to_end(1))
        policy.taken.update(_read_to_end(1))
        buf = ReorderBuffer(TOPICS, now=clock())
        _seen(buf, clock, purchases=50.0, **{"support-events": 60.0})
        clock.advance(11.0)
        assert policy.target(0, buf) == expected


def test_a_live_topic_read_to_its_end_holds_back_only_the_lateness() -> None:
    """Live mode: a topic taken in up to its log end, its newest event a few seconds old, no
    longer holds the watermark at that event for the idle delay: the wall clock minus the
    lateness bounds it at once. A topic with messages left to read still holds."""
    ends = {(t, 0): 1 for t in TOPICS}
    policy, clock = _policy(live=True, lateness=2.0, ends=ends)
    for t in TOPICS:
        policy.taken[(t, 0)] = 1
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, purchases=4_990.0, **{"support-events": 4_995.0,
                                            "survey-responses": 4_999.0})
    assert policy.target(0, buf) == 5_000.0 - 2.0  # not 4_990 - 2 for ten seconds
    ends[("purchases", 0)] = 2  # a purchase published, not yet taken in
    assert policy.target(0, buf) == 4_990.0 - 2.0


def test_history_read_to_its_end_still_holds_while_it_arrives() -> None:
    """An import (event times far behind the wall clock) read as fast as it is published
    is not live: its topics bound the watermark until the idle delay, as before."""
    ends = {(t, 0): 1 for t in TOPICS}
    policy, clock = _policy(live=True, lateness=2.0, ends=ends)
    for t in TOPICS:
        policy.taken[(t, 0)] = 1
    buf = ReorderBuffer(TOPICS, now=clock())
    _seen(buf, clock, purchases=50.0, **{"support-events": 60.0, "survey-responses": 70.0})
    assert policy.target(0, buf) == 50.0 - 2.0
    clock.advance(11.0)
    assert policy.target(0, buf) == 5_000.0 - 2.0  # idle: the wall clock


def test_forget_drops_the_offsets_taken_of_those_partitions_only() -> None:
    """After a rebalance, only the partitions still owned keep their input progress."""
    policy, _ = _policy()
    policy.taken.update({("purchases", 0): 5, ("purchases", 1): 6, ("support-events", 1): 2})
    policy.forget({1})
    assert policy.taken == {("purchases", 0): 5}
