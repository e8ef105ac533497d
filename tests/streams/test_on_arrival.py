"""News applied on arrival: alerts without the reorder wait, decisions as the buffer's."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from schemas import ChurnRiskAlert, Milestone
from streams.processor import BatchResult, StreamProcessor
from streams.signals.engine import SignalEngine

from .helpers import (
    WALL,
    FakeClock,
    Offsets,
    at,
    message,
    processor_settings,
    purchase,
    support,
    survey,
)

LATENESS = 5.0


class Live:
    """A processor whose wall clock stands just after the events it is sent (live mode),
    every input log read to its end after each batch."""

    def __init__(self, window_s: float = 60.0) -> None:
        # One input partition: every key maps to partition 0.
        settings = processor_settings(kafka={"partitions": 1}, live_watermark=True,
                                      allowed_lateness_s=LATENESS,
                                      apply_on_arrival_within_s=window_s,
                                      live_horizon_s=math.inf)
        self.wall = FakeClock(at(0).timestamp())
        self.offsets = Offsets()
        self.proc = StreamProcessor(
            settings, SignalEngine(settings.signals, wall_clock=lambda: WALL),
            load_state=lambda _cid, _p: None, monotonic=self.wall, wall_time=self.wall,
            end_offset=lambda topic, p: self.offsets.next.get((topic, p), 0))

    def send(self, *events: Any, now: datetime) -> BatchResult:
        self.wall.now = now.timestamp()
        return self.proc.process([message(e, self.offsets) for e in events])

    def tick(self, now: datetime) -> BatchResult:
        self.wall.now = now.timestamp()
        return self.proc.tick()


def outputs(*results: BatchResult) -> list[ChurnRiskAlert | Milestone]:
    out: list[ChurnRiskAlert | Milestone] = []
    for r in results:
        for m in r.messages:
            assert m.topic in ("churn-risk", "milestones"), m.value
            model = ChurnRiskAlert if m.topic == "churn-risk" else Milestone
            out.append(model.model_validate_json(m.value))
    return out


def test_a_live_detractor_answer_is_alerted_in_the_batch_it_arrives() -> None:
    """No wait for the lateness or the other topics: the alert leaves with its own batch,
    decided at the answer's event time, and the message is done."""
    live = Live()
    answer = survey("c1", at(0), "nps", 3)
    result = live.send(answer, now=at(seconds=0.2))
    alert = outputs(result)[0]
    assert isinstance(alert, ChurnRiskAlert)
    assert (alert.rule_id, alert.trigger_event_id) == ("nps_detractor", answer.event_id)
    assert alert.decided_at == at(0)
    assert len(result.done) == 1 and live.proc.buffered() == 0
    assert live.proc.counters["on_arrival"] == 1


def test_an_event_behind_a_later_one_of_its_customer_waits_for_the_watermark() -> None:
    """Out of order for its customer: buffered, then applied once the watermark passes it;
    a later event of that customer waits behind it rather than overtaking it."""
    live = Live()
    live.send(purchase("c1", at(seconds=10), 20), now=at(seconds=10.1))
    behind = live.send(purchase("c1", at(seconds=8), 30), now=at(seconds=10.2))
    after = live.send(purchase("c1", at(seconds=11), 40), now=at(seconds=11.1))
    assert behind.done == [] and after.done == [] and live.proc.buffered() == 2
    released = live.tick(now=at(seconds=8 + LATENESS))  # wall clock - lateness passes 8 s
    assert [h[2] for h in released.done] == [1]  # the late one only: 11 s is not passed yet
    released = live.tick(now=at(seconds=11 + LATENESS))
    assert [h[2] for h in released.done] == [2]
    assert live.proc.counters["on_arrival"] == 1


def test_old_events_take_the_buffered_path() -> None:
    """An event older than the on-arrival window (an import, a catch-up) is reordered."""
    live = Live(window_s=60.0)
    result = live.send(survey("c1", at(0), "nps", 3), now=at(seconds=61))
    assert result.done == [] and live.proc.buffered() == 1
    assert live.proc.counters["on_arrival"] == 0


def test_a_customers_absence_signal_due_before_a_live_event_fires_first() -> None:
    """slow_resolution due at opened + 72 h is raised, at its due time, before the
    customer's next event applied on arrival: what the buffered path decides too."""
    decided: dict[str, list[tuple[str, datetime]]] = {}
    for label, window in (("on arrival", 60.0), ("buffered", 0.0)):
        live = Live(window_s=window)
        opened = live.send(support("c1", at(0), "T1", "opened"), now=at(seconds=1))
        nps = live.send(survey("c1", at(hours=80), "nps", 2), now=at(hours=80, seconds=1))
        drained = live.proc.drain(at(hours=81).timestamp())
        decided[label] = [(getattr(o, "rule_id", None) or getattr(o, "kind", ""), o.decided_at)
                          for o in outputs(opened, nps, drained)]
    assert decided["on arrival"] == decided["buffered"] == [
        ("slow_resolution", at(hours=72)), ("nps_detractor", at(hours=80))]


def test_only_the_arriving_customers_timers_fire_early() -> None:
    """Another customer's timer due before the live event waits for the watermark."""
    live = Live()
    live.send(support("c2", at(0), "T2", "opened"), now=at(seconds=1))
    # c2's slow_resolution is due at 72 h; c1 answers 2 s later, seen 0.5 s after that,
    # while the watermark (wall clock - lateness) is still before 72 h
    result = live.send(survey("c1", at(hours=72, seconds=2), "nps", 8),
                       now=at(hours=72, seconds=2.5))
    assert outputs(result) == [] and live.proc.counters["on_arrival"] == 2
    later = live.tick(now=at(hours=72, seconds=LATENESS))
    assert [(a.customer_id, a.rule_id) for a in outputs(later)] == [("c2", "slow_resolution")]
