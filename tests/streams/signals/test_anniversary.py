"""anniversary fires only for customers with a purchase in [anniversary - window, anniversary)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from retention.settings import Settings
from streams.processor import StreamProcessor
from streams.signals.engine import SignalEngine
from streams.signals.milestones.anniversary import Anniversary
from streams.signals.outputs import Outputs
from streams.state import CustomerState

from ..helpers import (
    Customer,
    Offsets,
    make_engine,
    message,
    milestones,
    processor_settings,
    purchase,
    survey,
)

FIRST = datetime(2021, 6, 15, 12, tzinfo=UTC)
WINDOW = timedelta(days=90)


def _customer() -> Customer:
    return Customer.new(make_engine(activity_window_days=90))


def _anniversary(years: int) -> datetime:
    return FIRST.replace(year=FIRST.year + years)


def _years(c: Customer, until: datetime) -> list[float | None]:
    return [m.value for m in milestones(c.until(until), "anniversary")]


def test_purchase_exactly_at_window_start_counts() -> None:
    """A purchase at anniversary - window is inside the window: the anniversary fires."""
    c = _customer()
    c.feed([purchase("c1", FIRST), purchase("c1", _anniversary(1) - WINDOW)])
    assert _years(c, _anniversary(1)) == [1]


def test_purchase_just_before_window_start_does_not_count() -> None:
    """One second earlier than anniversary - window is outside it: no anniversary."""
    c = _customer()
    early = _anniversary(1) - WINDOW - timedelta(seconds=1)
    c.feed([purchase("c1", FIRST), purchase("c1", early)])
    assert _years(c, _anniversary(3)) == []


def test_purchase_exactly_at_the_anniversary_does_not_count() -> None:
    """The window ends before the anniversary: a purchase at that instant is not in it, and
    the anniversary is not celebrated (even though the customer bought that day)."""
    c = _customer()
    out = c.feed([purchase("c1", FIRST), purchase("c1", _anniversary(1))])
    assert milestones(out, "anniversary") == []
    assert _years(c, _anniversary(2)) == []  # a year after that purchase: outside 90 days


def test_purchase_just_before_the_anniversary_counts() -> None:
    """A purchase one second before the anniversary is inside the window."""
    c = _customer()
    out = c.feed([purchase("c1", FIRST), purchase("c1", _anniversary(1) - timedelta(seconds=1)),
                  purchase("c1", _anniversary(1) + timedelta(days=1))])
    assert [m.value for m in milestones(out, "anniversary")] == [1]


def test_support_and_surveys_do_not_keep_a_customer_active() -> None:
    """Only purchases count as activity: a survey inside the window is not enough."""
    c = _customer()
    c.feed([purchase("c1", FIRST), survey("c1", _anniversary(1) - timedelta(days=5), "nps", 9)])
    assert _years(c, _anniversary(1)) == []


def test_a_returning_customer_is_celebrated_again_on_the_right_anniversary() -> None:
    """Lapsed for years 1-3, back before year 4: the 4th anniversary fires with value 4 and
    the milestone id of the 4th; the skipped ones never fire, even late."""
    c = _customer()
    c.feed([purchase("c1", FIRST)])
    assert _years(c, _anniversary(3) + timedelta(days=10)) == []
    c.feed([purchase("c1", _anniversary(4) - timedelta(days=30))])
    out = c.until(_anniversary(6))
    assert [(m.value, m.decided_at) for m in out] == [(4, _anniversary(4))]
    assert out[0].detail == "4 years since the first purchase"


def test_one_time_buyer_and_the_default_window() -> None:
    """With the default 365-day window a single first purchase is exactly at the start of the
    first anniversary's window when that year has 365 days (it counts), and outside it when
    the year holds a 29 February (366 days); never any later anniversary."""
    engine = make_engine()  # activity_window_days=365
    common = Customer.new(engine, "common")
    common.feed([purchase("common", datetime(2021, 6, 15, tzinfo=UTC))])
    assert [m.value for m in common.until(datetime(2030, 1, 1, tzinfo=UTC))] == [1]
    leap = Customer.new(engine, "leap")
    leap.feed([purchase("leap", datetime(2023, 6, 15, tzinfo=UTC))])  # 2024-02-29 between
    assert leap.until(datetime(2030, 1, 1, tzinfo=UTC)) == []


def test_window_comes_from_the_activity_window_setting() -> None:
    """RETENTION_ACTIVITY_WINDOW_DAYS (the KPIs' "active" window) is the anniversary's too,
    unless the signals group sets its own."""
    assert Settings(activity_window_days=30).signals.activity_window_days == 30
    own = Settings(activity_window_days=30,
                   signals={"activity_window_days": 60})  # type: ignore[arg-type]
    assert own.signals.activity_window_days == 60
    rule = Anniversary(Settings(activity_window_days=30).signals,
                       Outputs(Settings().signals, None, lambda: FIRST))
    state = CustomerState("c1")
    state.first_purchase_at = state.last_purchase_at = FIRST.timestamp()
    assert rule.due(state) is None  # the first anniversary is a year away: outside 30 days
    state.last_purchase_at = (_anniversary(1) - timedelta(days=30)).timestamp()
    assert rule.due(state) == _anniversary(1).timestamp()


def test_window_boundaries_through_the_processor() -> None:
    """Through the stream processor (timers, reorder buffer, drain): a purchase at
    anniversary - window keeps the customer; one at the anniversary itself does not."""
    settings = processor_settings(live_watermark=False, live_horizon_s=math.inf,
                                  activity_window_days=90)
    proc = StreamProcessor(settings, SignalEngine(settings.signals, wall_clock=lambda: FIRST),
                           load_state=lambda _c, _p: None)
    offsets = Offsets()
    events = [purchase("kept", FIRST), purchase("kept", _anniversary(1) - WINDOW),
              purchase("gone", FIRST), purchase("gone", _anniversary(1))]
    result = proc.process([message(e, offsets) for e in events])
    result.messages += proc.drain(_anniversary(2).timestamp()).messages
    anniversaries = [json.loads(m.value) for m in result.messages if m.topic == "milestones"
                     and json.loads(m.value)["kind"] == "anniversary"]
    assert [(m["customer_id"], m["value"]) for m in anniversaries] == [("kept", 1)]
