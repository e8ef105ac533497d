"""No stream of outputs for years of silence: each absence rule raises a bounded number of
outputs for a customer who sends nothing for ten years, whether event time crawls through
those years a day at a time or jumps over them at once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from schemas import ChurnRiskAlert
from streams.signals.engine import Output, SignalEngine
from streams.state import CustomerState

from ..helpers import FAST_DROPOUT, BgNbdStub, Customer, make_engine, purchase, support

LAST = datetime(2016, 3, 1, 12, tzinfo=UTC)  # the customer's last event
TEN_YEARS = LAST + timedelta(days=3653)


def _kinds(outputs: list[Output]) -> Counter[str]:
    return Counter(o.rule_id if isinstance(o, ChurnRiskAlert) else o.kind for o in outputs)


def _silent_for_ten_years(engine: SignalEngine, events: list) -> tuple[Counter[str], Counter[str]]:
    """(outputs of a day-by-day crawl, outputs of one jump) over the ten silent years."""
    results = []
    for step in (timedelta(days=1), TEN_YEARS - LAST):
        c = Customer(engine, CustomerState("c1"))
        c.feed(events)
        out: list[Output] = []
        when = LAST
        while when < TEN_YEARS:
            when = min(when + step, TEN_YEARS)
            out += c.until(when)
        assert engine.next_due(c.state) is None or engine.next_due(c.state) > TEN_YEARS.timestamp()
        results.append(_kinds(out))
    return results[0], results[1]


def _orders(*days_before_last: int) -> list:
    return [purchase("c1", LAST - timedelta(days=d), 40) for d in days_before_last]


# The first anniversary of these customers falls within a year after their last purchase:
# it fires once (test_anniversary_stops_once_the_customer_is_gone), then nothing more.

def test_inactive_overdue_is_one_alert_for_ten_silent_years() -> None:
    """A churned regular customer's overdue episode stays one alert, never repeated."""
    crawl, jump = _silent_for_ten_years(make_engine(), _orders(40, 20, 0))
    assert crawl == jump == Counter({"inactive_overdue": 1, "anniversary": 1})


@pytest.mark.parametrize("tickets", [1, 3])
def test_slow_resolution_is_one_alert_per_unresolved_ticket(tickets: int) -> None:
    """Tickets left open for ten years: one SLA alert each (no cooldown here, so each
    breach alerts), never repeated."""
    events = [support("c1", LAST - timedelta(hours=n), f"T{n}", "opened")
              for n in reversed(range(tickets))]
    crawl, jump = _silent_for_ten_years(make_engine(cooldown_days=0), events)
    assert crawl == jump == Counter({"slow_resolution": tickets})


def test_low_p_alive_is_one_alert_for_ten_silent_years() -> None:
    """P(alive) keeps falling for ten years: one low_p_alive alert, when it crosses."""
    engine = make_engine(model=BgNbdStub(FAST_DROPOUT), overdue_floor_days=36_500)
    crawl, jump = _silent_for_ten_years(engine, _orders(20, 10, 0))
    assert crawl == jump == Counter({"low_p_alive": 1, "anniversary": 1})


def test_anniversary_stops_once_the_customer_is_gone() -> None:
    """Yearly anniversaries stop with the purchases: the only one left after the last
    purchase is the one whose activity window holds it."""
    first = LAST - timedelta(days=400)
    events = [purchase("c1", first, 40), purchase("c1", LAST, 40)]
    crawl, jump = _silent_for_ten_years(make_engine(overdue_floor_days=36_500), events)
    # first anniversary: before LAST (fired while feeding); the second, 330 days after LAST,
    # is within 365 days of it; the third and later are not
    assert crawl == jump == Counter({"anniversary": 1})


def test_every_absence_rule_at_once_is_still_bounded() -> None:
    """A customer with every absence rule armed gets one output per rule (and per open
    ticket) for ten years of silence."""
    engine = make_engine(model=BgNbdStub(FAST_DROPOUT))
    events = [purchase("c1", LAST - timedelta(days=300), 40),
              purchase("c1", LAST - timedelta(days=290), 40), purchase("c1", LAST, 40),
              support("c1", LAST, "T1", "opened")]
    crawl, jump = _silent_for_ten_years(engine, events)
    assert crawl == jump
    assert crawl == Counter({"inactive_overdue": 1, "slow_resolution": 1, "low_p_alive": 1,
                             "anniversary": 1})
