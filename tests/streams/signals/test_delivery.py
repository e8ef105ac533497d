"""Live or historical: an output decided more than the live horizon before the wall clock
raises it is historical; historical outputs are stored, flagged, and not published."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from retention.settings import Settings
from schemas import ChurnRiskAlert, Milestone
from sinks.rows import COLUMNS
from streams.processor.emit import Emitter
from streams.processor.messages import BatchResult
from streams.signals.engine import Output, SignalEngine
from streams.state import CustomerState

from ..helpers import make_engine, purchase, survey

DECIDED = datetime(2026, 3, 1, 12, tzinfo=UTC)
HORIZON = timedelta(seconds=86_400)


def _first_purchase(engine: SignalEngine) -> Milestone:
    (out,) = engine.apply(CustomerState("c1"), purchase("c1", DECIDED))
    assert isinstance(out, Milestone)
    return out


def _raised_after(delay: timedelta, **settings: float) -> Milestone:
    engine = make_engine(**settings)
    engine.wall_clock = lambda: DECIDED + delay
    return _first_purchase(engine)


@pytest.mark.parametrize(("delay", "historical"), [
    (timedelta(0), False),
    (HORIZON, False),  # exactly the horizon behind: still live
    (HORIZON + timedelta(seconds=1), True),
    (timedelta(days=3650), True),
])
def test_historical_means_decided_more_than_the_horizon_before_it_was_raised(
        delay: timedelta, historical: bool) -> None:
    """The flag compares decided_at with the wall clock at raise time, strictly."""
    out = _raised_after(delay)
    assert out.historical is historical
    assert out.raised_at - out.decided_at == delay


def test_the_horizon_is_a_setting_and_inf_disables_it() -> None:
    """RETENTION_SIGNALS__LIVE_HORIZON_S moves the line; `inf` makes every output live."""
    assert _raised_after(timedelta(hours=2), live_horizon_s=3600).historical is True
    assert _raised_after(timedelta(days=3650), live_horizon_s=math.inf).historical is False


def test_the_flag_is_delivery_not_decision() -> None:
    """Live or historical, the same history gives the same outputs but for raised_at and
    historical, and leaves the same state."""
    events = [purchase("c1", DECIDED), survey("c1", DECIDED + timedelta(hours=6), "nps", 2),
              purchase("c1", DECIDED + timedelta(hours=12))]
    runs = []
    for wall in (DECIDED + timedelta(hours=13), DECIDED + timedelta(days=3650)):
        engine = make_engine()
        engine.wall_clock = lambda wall=wall: wall  # type: ignore[misc]
        state = CustomerState("c1")
        outputs: list[Output] = [o for e in events for o in engine.apply(state, e)]
        runs.append((outputs, state.to_dict()))
    (live, live_state), (old, old_state) = runs
    assert {o.historical for o in live} == {False} and {o.historical for o in old} == {True}
    assert [o.model_dump(exclude={"raised_at", "historical"}) for o in live] == [
        o.model_dump(exclude={"raised_at", "historical"}) for o in old]
    assert live_state == old_state


@pytest.mark.parametrize("publish_historical", [False, True])
def test_emitter_stores_every_output_and_publishes_live_ones(publish_historical: bool) -> None:
    """Every output becomes a row with its flag; a historical one becomes a message only
    when RETENTION_SIGNALS__PUBLISH_HISTORICAL asks for it, and says so in its payload."""
    live, old = _raised_after(timedelta(minutes=5)), _raised_after(timedelta(days=30))
    engine = make_engine()
    engine.wall_clock = lambda: DECIDED + timedelta(days=30)
    state = CustomerState("c1")
    (alert,) = engine.apply(state, survey("c1", DECIDED, "nps", 2))
    assert isinstance(alert, ChurnRiskAlert) and alert.historical
    settings = Settings(signals={"publish_historical": publish_historical})  # type: ignore[arg-type]
    result = BatchResult()
    Emitter(settings.kafka, settings.signals.publish_historical).emit([live, old, alert], result)

    milestone_rows = [dict(zip(COLUMNS["milestones"], r, strict=True))
                      for r in result.rows.rows["milestones"]]
    alert_rows = [dict(zip(COLUMNS["churn_risk_alerts"], r, strict=True))
                  for r in result.rows.rows["churn_risk_alerts"]]
    assert [r["historical"] for r in milestone_rows] == [False, True]
    assert [r["historical"] for r in alert_rows] == [True]
    assert [json.loads(r["payload"])["historical"] for r in milestone_rows] == [False, True]
    assert (result.alerts, result.milestones) == (1, 2)
    published = [(m.topic, json.loads(m.value)["historical"]) for m in result.messages]
    if publish_historical:
        assert published == [("milestones", False), ("milestones", True), ("churn-risk", True)]
    else:
        assert published == [("milestones", False)]


@pytest.mark.parametrize("model", [ChurnRiskAlert, Milestone], ids=lambda m: m.__name__)
def test_json_schemas_require_the_flag(model: type[ChurnRiskAlert | Milestone]) -> None:
    """`retention schemas export` documents `historical` as a required boolean."""
    schema = model.model_json_schema()
    assert schema["properties"]["historical"]["type"] == "boolean"
    assert "live horizon" in schema["properties"]["historical"]["description"]
    assert "historical" in schema["required"]
