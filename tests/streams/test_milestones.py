"""Milestones (signals.md): each fires on its occasion and not on the one just short of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import Milestone
from streams.signals.ids import output_id

from .helpers import WALL, Customer, alerts, at, milestones, only, purchase, support, survey

SECOND = timedelta(seconds=1)


def check_milestone(m: Milestone, *, kind: str, value: float | None, decided: datetime,
                    trigger: str | None, detail: str) -> None:
    assert m.customer_id == "c1"
    assert (m.kind, m.value, m.detail) == (kind, value, detail)
    assert m.decided_at == decided
    assert m.raised_at == WALL
    assert m.trigger_event_id == trigger


# --- first_purchase / repeat_customer -----------------------------------------------------
def test_first_purchase_on_first_order() -> None:
    """The first order raises first_purchase with the order and a snapshot after it."""
    c = Customer.new()
    order = purchase("c1", at(0), 25, order_id="A1")
    m = only(milestones(c.apply(order)))
    check_milestone(m, kind="first_purchase", value=1, decided=at(0), trigger=order.event_id,
                    detail="first order A1 (25.00 USD)")
    assert m.milestone_id == output_id("c1", "first_purchase", 1)
    assert (m.state.orders, m.state.revenue) == (1, 25.0)
    assert m.state.first_purchase_at == m.state.last_purchase_at == at(0)


def test_refund_is_not_a_first_purchase() -> None:
    """A refund is not an order: no first_purchase, no order counted."""
    c = Customer.new()
    assert c.apply(purchase("c1", at(0), 25, kind="refund")) == []
    assert c.state.orders == 0
    assert c.engine.next_due(c.state) is None  # no first purchase: no anniversary either


def test_repeat_customer_on_second_order_only() -> None:
    """The second order raises repeat_customer; the third does not."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 25))
    second = purchase("c1", at(3), 25, order_id="B2")
    m = only(milestones(c.apply(second)))
    check_milestone(m, kind="repeat_customer", value=2, decided=at(3), trigger=second.event_id,
                    detail="second order B2: the customer came back")
    assert milestones(c.apply(purchase("c1", at(6), 25))) == []


def test_refund_after_first_order_is_not_a_repeat() -> None:
    """Order then refund: still one order, no repeat_customer."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 25))
    assert c.apply(purchase("c1", at(3), 25, kind="refund")) == []
    assert c.state.orders == 1


# --- order_count --------------------------------------------------------------------------
def test_order_count_on_5th_and_10th_orders() -> None:
    """Order numbers 5 and 10 raise order_count; 3, 4, 6-9 and 11 raise nothing of the kind."""
    c = Customer.new()
    fired: dict[int, Milestone] = {}
    for n in range(1, 12):
        order = purchase("c1", at(n), 5)
        for m in milestones(c.apply(order), "order_count"):
            check_milestone(m, kind="order_count", value=n, decided=at(n),
                            trigger=order.event_id, detail=f"order number {n}")
            fired[n] = m
    assert sorted(fired) == [5, 10]
    assert fired[5].state.orders == 5


# --- lifetime_spend -----------------------------------------------------------------------
def test_lifetime_spend_fires_on_reaching_100() -> None:
    """Reaching exactly 100 crosses the first tier; 99.99 does not."""
    c = Customer.new()
    assert milestones(c.apply(purchase("c1", at(0), 99.99)), "lifetime_spend") == []
    order = purchase("c1", at(1), 0.01)
    m = only(milestones(c.apply(order), "lifetime_spend"))
    check_milestone(m, kind="lifetime_spend", value=100, decided=at(1), trigger=order.event_id,
                    detail="lifetime spend 100.00 crossed 100")


def test_one_big_order_crosses_several_tiers() -> None:
    """An order that jumps two tiers raises one milestone per tier, lowest first."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 150))
    big = milestones(c.apply(purchase("c1", at(1), 900)), "lifetime_spend")
    assert [m.value for m in big] == [500, 1000]
    assert len({m.milestone_id for m in big}) == 2
    assert milestones(c.apply(purchase("c1", at(2), 10)), "lifetime_spend") == []


def test_refunds_do_not_count_toward_spend_tiers() -> None:
    """A refund is not spend: it cannot cross a tier."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 90))
    assert c.apply(purchase("c1", at(1), 20, kind="refund")) == []


# --- anniversary --------------------------------------------------------------------------
def test_anniversary_of_first_purchase() -> None:
    """A year after the first purchase, anniversary fires at that exact event time."""
    c = Customer.new()
    first = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
    c.apply(purchase("c1", first, 25))
    due = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert c.engine.next_due(c.state) == due.timestamp()
    assert c.until(due - SECOND) == []
    m = only(c.until(due))
    check_milestone(m, kind="anniversary", value=1, decided=due, trigger=None,
                    detail="1 year since the first purchase")
    assert m.milestone_id == output_id("c1", "anniversary", 1)


def test_anniversary_of_29_february() -> None:
    """A 29 February first purchase is celebrated on 28 February, and on 29 in leap years."""
    c = Customer.new()
    c.apply(purchase("c1", datetime(2024, 2, 29, 10, tzinfo=UTC), 25))
    assert c.until(datetime(2025, 2, 28, 10, tzinfo=UTC) - SECOND) == []
    # a purchase each January keeps the customer active for every anniversary after
    yearly = [purchase("c1", datetime(year, 1, 10, tzinfo=UTC), 25) for year in range(2025, 2029)]
    out = milestones(c.feed(yearly) + c.until(datetime(2028, 3, 1, tzinfo=UTC)), "anniversary")
    assert [(m.kind, m.value, m.decided_at) for m in out] == [
        ("anniversary", 1, datetime(2025, 2, 28, 10, tzinfo=UTC)),
        ("anniversary", 2, datetime(2026, 2, 28, 10, tzinfo=UTC)),
        ("anniversary", 3, datetime(2027, 2, 28, 10, tzinfo=UTC)),
        ("anniversary", 4, datetime(2028, 2, 29, 10, tzinfo=UTC)),
    ]
    assert out[1].detail == "2 years since the first purchase"


def test_no_anniversary_without_a_purchase() -> None:
    """Support and surveys alone never start an anniversary clock."""
    c = Customer.new()
    c.apply(survey("c1", at(0), "nps", 8))
    c.apply(support("c1", at(0), "T1", "opened"))
    c.apply(support("c1", at(1), "T1", "resolved"))
    assert c.engine.next_due(c.state) is None
    assert c.until(at(800)) == []


# --- promoter -----------------------------------------------------------------------------
@pytest.mark.parametrize("score", [9, 10])
def test_promoter_on_9_or_10(score: int) -> None:
    """An NPS answer of 9-10 raises a promoter milestone."""
    c = Customer.new()
    answer = survey("c1", at(4), "nps", score)
    m = only(c.apply(answer))
    check_milestone(m, kind="promoter", value=score, decided=at(4), trigger=answer.event_id,
                    detail=f"NPS answer {score} (promoter)")
    assert m.state.latest_nps == score


def test_nps_8_is_not_a_promoter() -> None:
    """An NPS answer of 8 raises nothing."""
    c = Customer.new()
    assert c.apply(survey("c1", at(4), "nps", 8)) == []


# --- win_back -----------------------------------------------------------------------------
def test_win_back_after_risk_episode() -> None:
    """A purchase by a customer with an open risk episode raises win_back and closes it."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 25))
    c.apply(survey("c1", at(1), "nps", 3))
    c.apply(survey("c1", at(2), "csat", 1))
    order = purchase("c1", at(5), 25)
    out = c.apply(order)
    m = only(milestones(out, "win_back"))
    check_milestone(m, kind="win_back", value=None, decided=at(5), trigger=order.event_id,
                    detail="purchase after open risk episodes: low_csat, nps_detractor")
    assert m.state.open_risk_rules == []
    assert c.state.episodes == {}
    assert [x.kind for x in milestones(out)] == ["win_back", "repeat_customer"]


def test_win_back_after_inactive_overdue() -> None:
    """A purchase after inactive_overdue fired is a win_back."""
    c = Customer.new()
    c.feed([purchase("c1", at(0), 25), purchase("c1", at(10), 25)])
    assert only(alerts(c.until(at(40)))).rule_id == "inactive_overdue"
    out = c.feed([purchase("c1", at(70), 25)])
    assert only(milestones(out, "win_back")).detail == (
        "purchase after open risk episodes: inactive_overdue")


def test_no_win_back_without_open_episode() -> None:
    """A purchase with no open episode is not a win_back, nor is a refund with one."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 25))
    assert milestones(c.apply(purchase("c1", at(3), 25)), "win_back") == []
    c.apply(survey("c1", at(4), "nps", 2))
    assert c.apply(purchase("c1", at(5), 25, kind="refund")) == []
    assert sorted(c.state.episodes) == ["nps_detractor"]
