"""Absence timers re-armed a chunk at a time after a start: same decisions as a full read."""

from __future__ import annotations

import json
import math
from typing import Any

from schemas import ChurnRiskAlert
from streams.processor import BatchResult, StreamProcessor
from streams.signals.engine import SignalEngine

from .helpers import WALL, FakeClock, Offsets, at, message, processor_settings, support, survey

CUSTOMERS = ["c1", "c2", "c3", "c4"]


def _processor(store: dict[str, str]) -> StreamProcessor:
    settings = processor_settings(kafka={"partitions": 1}, live_watermark=False,
                                  allowed_lateness_s=0.0, live_horizon_s=math.inf,
                                  apply_on_arrival_within_s=0.0)
    return StreamProcessor(settings, SignalEngine(settings.signals, wall_clock=lambda: WALL),
                           load_state=lambda cid, _p: json.loads(store[cid]) if cid in store
                           else None, monotonic=FakeClock(0.0))


def _stored_tickets() -> dict[str, str]:
    """Four customers, each with a ticket opened at hour n and never answered (each
    slow_resolution due at n + 72 h), as the table holds them after a stop."""
    proc = _processor({})
    offsets = Offsets()
    result = proc.process([message(support(cid, at(hours=n), f"T{n}", "opened"), offsets)
                           for n, cid in enumerate(CUSTOMERS)])
    result = proc.drain(at(hours=10).timestamp())
    proc.flush(result)
    assert result.flush is not None
    return dict(result.flush.state_json)


def _alerts(results: list[BatchResult]) -> list[tuple[str, str, Any, str]]:
    """(customer, rule, decided_at, the rest but raised_at) of every alert, sorted."""
    out = []
    for r in results:
        for m in r.messages:
            if m.topic != "churn-risk":
                continue  # the survey's promoter milestone
            alert = ChurnRiskAlert.model_validate_json(m.value)
            rest = alert.model_dump_json(exclude={"raised_at"})
            out.append((alert.customer_id, alert.rule_id, alert.decided_at, rest))
    return sorted(out)


def _restart(store: dict[str, str], eager: bool) -> list[tuple[str, str, Any, str]]:
    proc = _processor(store)
    proc.start_rearming(json.loads(v) for v in store.values())
    # A full read: every stored state re-armed before the first event; else only c1.
    proc.rearm(len(store) if eager else 1)
    offsets = Offsets()
    # c3 answers a survey after its ticket's SLA passed: its slow_resolution must come first
    results = [proc.process([message(survey("c3", at(hours=80), "nps", 9), offsets)]),
               proc.drain(at(hours=80).timestamp())]
    if not eager:
        assert proc.rearming is not None  # c2 and c4 still to re-arm
        proc.rearm(10)
        assert proc.rearming is None
    results.append(proc.drain(at(hours=100).timestamp()))
    return _alerts(results)


def test_rearming_in_chunks_decides_what_a_full_read_decides() -> None:
    """A customer read for an event before its stored state is re-armed has its due
    signal fired first; the others fire once re-armed, at their due times."""
    store = _stored_tickets()
    eager = _restart(store, eager=True)
    assert [a[:3] for a in eager] == [(cid, "slow_resolution", at(hours=n + 72))
                                      for n, cid in enumerate(CUSTOMERS)]
    assert '"latest_nps":null' in eager[2][3]  # c3's alert comes before its answer
    assert _restart(store, eager=False) == eager


def test_states_in_memory_are_not_rearmed_from_the_older_table() -> None:
    """A customer changed since its last table write keeps the timer of its state in
    memory: the stored (older) version is skipped."""
    store = _stored_tickets()
    proc = _processor(store)
    offsets = Offsets()
    proc.start_rearming([])
    proc.process([message(support("c1", at(hours=20), "T0", "resolved"), offsets)])
    proc.drain(at(hours=20).timestamp())  # applied, not yet written to the table
    assert proc.partitions[0].timers.armed == {}  # ticket resolved: nothing due
    proc.start_rearming(json.loads(v) for v in store.values())  # e.g. a new model
    proc.rearm(10)
    assert "c1" not in proc.partitions[0].timers.armed
    assert set(proc.partitions[0].timers.armed) == {"c2", "c3", "c4"}
