"""Event time, not arrival: a year's history raises the same alerts however it is delivered."""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from datetime import UTC, datetime
from functools import cache

import pytest

from retention.analytics.model import BgNbdParams
from retention.demo.synthetic import HistorySpec, generate_history
from schemas import ChurnRiskAlert, Milestone, parse_event
from streams.outputs import partition_for
from streams.processor import InMessage, StreamProcessor
from streams.signals.engine import Output, SignalEngine
from streams.state import CustomerState

from .helpers import TOPIC_OF, BgNbdStub, FakeClock, Offsets, processor_settings

LATENESS = 3600.0
SPEC = HistorySpec(customers=300, months=12, seed=23)
END = SPEC.end.timestamp()
# CDNOW-like parameters (Fader et al. 2005) in days: low_p_alive takes part too.
MODEL = BgNbdParams(r=0.24, alpha=4.41 * 7, a=0.79, b=2.43)
# Decisions, not delivery: against the real wall clock this history is old enough to be
# historical (stored, not published). With no live horizon every output is published, so
# the messages carry every decision. (tests/streams/test_historical.py covers delivery.)
SIGNALS = {"live_watermark": False, "allowed_lateness_s": LATENESS, "live_horizon_s": math.inf}


@cache
def history() -> tuple[dict, ...]:
    return tuple(generate_history(SPEC))


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()


def _fingerprint(out: Output) -> str:
    """The whole output except raised_at, the only wall-clock field."""
    return json.dumps(out.model_dump(mode="json", exclude={"raised_at"}), sort_keys=True)


def _engine() -> SignalEngine:
    settings = processor_settings(**SIGNALS)
    # the real wall clock: raised_at differs between runs, nothing else may
    return SignalEngine(settings.signals, model=BgNbdStub(MODEL),
                        wall_clock=lambda: datetime.now(UTC))


def replay(events: list[dict], partitions: int = 1, batch: int = 200,
           live: bool = False) -> list[str]:
    """Feed events as Kafka messages through a fresh processor, then drain to the end.

    Live: the worker's wall clock is the newest event time delivered (events reach it as
    they happen, and each batch is all the broker has: every input log is read to its end);
    a batch of this sparse history spans days, so news is anything up to 7 days old.
    Otherwise the wall clock is now, the history a year or more old: a replay."""
    window = {"apply_on_arrival_within_s": 7 * 86_400.0} if live else {}
    settings = processor_settings(kafka={"partitions": partitions}, **SIGNALS, **window)
    offsets = Offsets()
    delivered: dict[tuple[str, int], int] = {}
    newest = [float("-inf")]
    proc = StreamProcessor(settings, _engine(), load_state=lambda _cid, _partition: None,
                           monotonic=FakeClock(0.0),  # frozen: no topic goes idle mid-run
                           wall_time=(lambda: newest[0]) if live else time.time,
                           end_offset=(lambda t, p: delivered.get((t, p), 0)) if live
                           else (lambda t, p: None))
    messages = []
    for e in events:
        topic = TOPIC_OF[e["type"]]
        part = partition_for(e["customer_id"].encode(), partitions)  # as producers do
        offset = offsets.take(topic, part)
        messages.append(InMessage(topic, part, offset, e["customer_id"].encode(),
                                  json.dumps(e).encode(), handle=(topic, part, offset)))
    outputs: list[Output] = []
    done: Counter[object] = Counter()
    results = []
    for i in range(0, len(messages), batch):
        for m, e in zip(messages[i:i + batch], events[i:i + batch], strict=True):
            delivered[(m.topic, m.partition)] = m.offset + 1
            newest[0] = max(newest[0], _ts(e))
        results.append(proc.process(messages[i:i + batch]))
    on_arrival["live" if live else "replay"] = proc.counters["on_arrival"]
    results.append(proc.drain(END))
    for r in results:
        done.update(r.done)
        for m in r.messages:
            assert m.topic in ("churn-risk", "milestones"), m.value
            model = ChurnRiskAlert if m.topic == "churn-risk" else Milestone
            outputs.append(model.model_validate_json(m.value))
    assert done == Counter(m.handle for m in messages)  # every message acked exactly once
    assert proc.buffered() == 0
    assert proc.counters["late"] == 0
    return sorted(_fingerprint(o) for o in outputs)


# "live" / "replay" -> events the last run of that kind applied on arrival
on_arrival: dict[str, int] = {}


def reference() -> list[str]:
    """The same history applied customer by customer in plain event-time order."""
    engine = _engine()
    states: dict[str, CustomerState] = {}
    outputs: list[Output] = []
    for e in sorted(history(), key=lambda e: (_ts(e), e["event_id"])):
        state = states.setdefault(e["customer_id"], CustomerState(e["customer_id"]))
        outputs += engine.fire_due(state, _ts(e))
        if not state.seen(e["event_id"], 64):
            outputs += engine.apply(state, parse_event(json.dumps(e), e["type"]))
    for state in states.values():
        outputs += engine.fire_due(state, END)
    return sorted(_fingerprint(o) for o in outputs)


def shuffled_within_lateness(events: list[dict], seed: int) -> list[dict]:
    """Each event arrives after events at most `LATENESS` (exclusive) later than itself."""
    rng = random.Random(seed)
    keyed = [(_ts(e) + rng.uniform(0, LATENESS * 0.999), n) for n, e in enumerate(events)]
    return [events[n] for _, n in sorted(keyed)]


@pytest.fixture(scope="module")
def first_run() -> list[str]:
    return replay(list(history()))


def test_history_is_rich_enough(first_run: list[str]) -> None:
    """The synthetic year exercises most rules and milestones, including absence ones."""
    kinds = Counter(json.loads(f).get("rule_id") or json.loads(f)["kind"] for f in first_run)
    assert {"nps_detractor", "low_csat", "support_escalation", "slow_resolution",
            "inactive_overdue", "low_p_alive", "spend_decline", "first_purchase",
            "repeat_customer", "order_count", "lifetime_spend", "promoter",
            "win_back"} <= kinds.keys(), kinds
    assert len(first_run) > 1000


def test_replay_twice_gives_identical_outputs(first_run: list[str]) -> None:
    """Two fresh processors over the same history raise identical alerts and milestones."""
    assert replay(list(history())) == first_run


def test_processor_matches_plain_event_time_replay(first_run: list[str]) -> None:
    """Buffering, watermarks and timers decide exactly what an in-order replay decides."""
    assert first_run == reference()


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_and_partitioned_gives_identical_outputs(first_run: list[str],
                                                          seed: int) -> None:
    """Out-of-order arrival within the lateness bound, over 4 partitions, changes nothing."""
    events = shuffled_within_lateness(list(history()), seed)
    assert events != list(history())
    assert replay(events, partitions=4, batch=97) == first_run


def test_live_arrival_decides_what_a_replay_of_history_decides(first_run: list[str]) -> None:
    """Events applied on arrival (the live path, no reorder wait) raise the same alerts and
    milestones, ids and decision times included, as a replay of the same history."""
    as_lived = sorted(history(), key=_ts)
    for partitions, batch in ((1, 20), (4, 37)):
        assert replay(as_lived, partitions, batch, live=True) == first_run
        # not vacuous: most events skipped the buffer (not those of a batch's first days
        # outside the window, nor the second of a customer's events at one instant and
        # what follows it while it waits in the buffer: those take the buffered path)
        assert on_arrival["live"] >= 0.8 * len(history())


def test_history_is_reordered_not_applied_on_arrival(first_run: list[str]) -> None:
    """Events older than the on-arrival window (a replay) wait in the reorder buffer: history
    delivered out of order within the lateness still decides as in order."""
    events = shuffled_within_lateness(list(history()), 3)
    assert replay(events, partitions=4, batch=97) == first_run
    assert on_arrival["replay"] == 0
