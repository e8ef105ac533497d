"""The engine builds its outputs without validating them: they must be what validation builds."""

from __future__ import annotations

import json
import warnings
from datetime import datetime

import pytest
from pydantic import BaseModel, ValidationError

from retention.analytics.model import BgNbdParams
from retention.demo.synthetic import HistorySpec, generate_history
from schemas import ChurnRiskAlert, Milestone, parse_event
from streams.signals.engine import Output, SignalEngine
from streams.signals.memos import round6
from streams.state import CustomerState

from .helpers import WALL, BgNbdStub, make_engine

SPEC = HistorySpec(customers=150, months=14, seed=41)


def _replay(engine: SignalEngine) -> list[Output]:
    states: dict[str, CustomerState] = {}
    outputs: list[Output] = []
    for e in generate_history(SPEC):
        event = parse_event(json.dumps(e), e["type"])
        state = states.setdefault(event.customer_id, CustomerState(event.customer_id))
        ts = event.occurred_at.timestamp()
        outputs += engine.fire_due(state, ts)
        if not state.seen(event.event_id, 64):
            outputs += engine.apply(state, event)
    for state in states.values():
        outputs += engine.fire_due(state, SPEC.end.timestamp())
    return outputs


def _same(built: BaseModel, validated: BaseModel) -> None:
    assert type(built) is type(validated)
    assert built.model_fields_set == validated.model_fields_set
    assert list(built.__dict__) == list(validated.__dict__)  # field order: repr, iteration
    for name, value in validated.__dict__.items():
        mine = built.__dict__[name]
        assert type(mine) is type(value), (name, mine, value)
        if isinstance(value, BaseModel):
            _same(mine, value)
        elif isinstance(value, list):
            assert len(mine) == len(value)
            for a, b in zip(mine, value, strict=True):
                if isinstance(b, BaseModel):
                    _same(a, b)
                else:
                    assert type(a) is type(b) and a == b
        else:
            assert mine == value, name


def test_outputs_equal_their_validated_selves() -> None:
    engine = make_engine(model=BgNbdStub(BgNbdParams(r=0.24, alpha=30.9, a=0.79, b=2.43)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a serialiser warning means a field has the wrong type
        outputs = _replay(engine)
        kinds = {type(o) for o in outputs}
        assert kinds == {ChurnRiskAlert, Milestone}
        rules = {o.rule_id for o in outputs if isinstance(o, ChurnRiskAlert)}
        assert {"low_p_alive", "inactive_overdue", "spend_decline"} <= rules
        for out in outputs:
            # what the engine used to pass: every field but schema_version
            validated = type(out).model_validate(out.model_dump(exclude={"schema_version"}))
            _same(out, validated)
            assert out == validated
            assert out.model_dump_json() == validated.model_dump_json()


def test_invalid_values_still_fail_validation() -> None:
    """Values only validation rejects (here a weight above 100) take the validating path."""
    engine = make_engine(rule_weights={"nps_detractor": 130})
    state = CustomerState("c1")
    event = parse_event(json.dumps({"event_id": "e1", "customer_id": "c1", "survey": "nps",
                               "score": 2, "occurred_at": WALL.isoformat()}), "survey")
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        engine.apply(state, event)


def test_round6_is_round() -> None:
    for x in [0.0, -0.0, 1, 2.5, 1e-7, 123.4567895, -3.0000005, 1e300, float("inf")]:
        assert repr(round6(x)) == repr(float(round(x, 6)))
        assert repr(round6(x)) == repr(float(round(x, 6)))  # memoised answer too


def test_wall_clock_not_a_datetime_is_validated() -> None:
    engine = make_engine()
    engine.wall_clock = lambda: "2030-01-01T00:00:00Z"  # type: ignore[assignment,return-value]
    state = CustomerState("c1")
    event = parse_event(json.dumps({"event_id": "e1", "customer_id": "c1", "order_id": "o1",
                               "amount": 10.0, "occurred_at": WALL.isoformat()}), "purchase")
    (first,) = engine.apply(state, event)
    assert first.raised_at == WALL and type(first.raised_at) is datetime
