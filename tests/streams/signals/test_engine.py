"""The engine's routing: equal due times fire in registry order, swaps reach every rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import ChurnRiskAlert, Milestone
from streams.signals.engine import SignalEngine
from streams.state import CustomerState

from ..helpers import WALL, make_engine, purchase, support

FIRST = datetime(2025, 1, 1, tzinfo=UTC)
ANNIVERSARY = datetime(2026, 1, 1, tzinfo=UTC)


class DropsAtOneYear:
    """A model whose p_alive falls below any threshold 365 days after the first purchase."""

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        return 0.125

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None:
        return 365.0


def _all_due_at_the_anniversary(engine: SignalEngine) -> CustomerState:
    state = CustomerState("c1")
    # two orders a third of a year apart: overdue (2 x the mean gap) at the anniversary
    gap = (ANNIVERSARY - FIRST) / 3
    for event in [purchase("c1", FIRST), purchase("c1", FIRST + gap),
                  support("c1", ANNIVERSARY - timedelta(hours=72), "t1", "opened")]:
        engine.apply(state, event)
    return state


def test_equal_due_times_fire_in_registry_order() -> None:
    """Overdue, SLA, anniversary and p_alive all due at one instant fire in that order."""
    engine = make_engine(model=DropsAtOneYear())
    state = _all_due_at_the_anniversary(engine)
    assert engine.next_due(state) == ANNIVERSARY.timestamp()
    outputs = engine.fire_due(state, ANNIVERSARY.timestamp())
    assert [o.rule_id if isinstance(o, ChurnRiskAlert) else o.kind for o in outputs] == [
        "inactive_overdue", "slow_resolution", "anniversary", "low_p_alive"]
    assert {o.decided_at for o in outputs} == {ANNIVERSARY}
    assert engine.fire_due(state, ANNIVERSARY.timestamp()) == []  # each fired once


def test_model_set_after_construction_reaches_low_p_alive() -> None:
    """The pipeline sets `model` at run time: low_p_alive and snapshots use it from then on."""
    engine = make_engine()
    state = _all_due_at_the_anniversary(engine)
    assert [o.kind for o in engine.fire_due(state, ANNIVERSARY.timestamp())
            if isinstance(o, Milestone)] == ["anniversary"]
    engine.model = DropsAtOneYear()
    (alert,) = engine.fire_due(state, ANNIVERSARY.timestamp())
    assert isinstance(alert, ChurnRiskAlert)
    assert (alert.rule_id, alert.state.p_alive, alert.raised_at) == ("low_p_alive", 0.125, WALL)


def test_wall_clock_set_after_construction_stamps_raised_at() -> None:
    """Swapping `wall_clock` changes raised_at of later outputs, nothing else."""
    engine = make_engine()
    later = WALL + timedelta(days=1)
    engine.wall_clock = lambda: later
    (first,) = engine.apply(CustomerState("c1"), purchase("c1", FIRST))
    assert first.raised_at == later
