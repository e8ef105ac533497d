"""Churn-risk rules (signals.md): each fires at its threshold and not one step short of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retention.analytics.model import BgNbdParams, probability_alive
from schemas import ChurnRiskAlert
from streams.signals.engine import Output
from streams.state import MAX_TRACKED_TICKETS, day_of

from .helpers import (
    DAY,
    FAST_DROPOUT,
    WALL,
    BgNbdStub,
    Customer,
    alerts,
    at,
    crossing_day,
    make_engine,
    milestones,
    only,
    purchase,
    support,
    survey,
)

SECOND = timedelta(seconds=1)


def check_alert(alert: ChurnRiskAlert, *, rule: str, decided: datetime, trigger: str | None,
                score: int, level: str, details: dict[str, str]) -> None:
    assert alert.customer_id == "c1"
    assert alert.rule_id == rule
    assert alert.decided_at == decided
    assert alert.raised_at == WALL  # only raised_at comes from the wall clock
    assert alert.trigger_event_id == trigger
    assert (alert.score, alert.level) == (score, level)
    assert {h.rule_id: h.detail for h in alert.rules} == details
    assert [h.rule_id for h in alert.rules] == sorted(details)
    assert alert.state.open_risk_rules == sorted(details)


def risk(outputs: list[Output]) -> ChurnRiskAlert:
    assert not milestones(outputs), outputs
    return only(alerts(outputs))


# --- nps_detractor ------------------------------------------------------------------------
@pytest.mark.parametrize("score", [0, 6])
def test_nps_detractor_fires_on_0_to_6(score: int) -> None:
    """An NPS answer of 0-6 raises nps_detractor at the answer's event time."""
    c = Customer.new()
    answer = survey("c1", at(1), "nps", score)
    alert = risk(c.apply(answer))
    check_alert(alert, rule="nps_detractor", decided=at(1), trigger=answer.event_id, score=30,
                level="low", details={"nps_detractor": f"NPS answer {score} (detractor, 0-6)"})
    hit = only(alert.rules)
    assert (hit.weight, hit.decided_at) == (30, at(1))
    assert alert.state.latest_nps == score


def test_nps_7_is_passive() -> None:
    """An NPS answer of 7 is passive: no alert, no milestone, no episode."""
    c = Customer.new()
    assert c.apply(survey("c1", at(1), "nps", 7)) == []
    assert c.state.latest_nps == 7
    assert c.state.episodes == {}


# --- low_csat -----------------------------------------------------------------------------
def test_low_csat_fires_on_2() -> None:
    """A CSAT answer of 2 raises low_csat, naming the ticket it was about."""
    c = Customer.new()
    answer = survey("c1", at(2), "csat", 2, ticket_id="T9")
    alert = risk(c.apply(answer))
    check_alert(alert, rule="low_csat", decided=at(2), trigger=answer.event_id, score=25,
                level="low", details={"low_csat": "CSAT answer 2 of 5 about ticket T9 (low: 1-2)"})
    assert alert.state.latest_csat == 2


def test_csat_3_is_not_low() -> None:
    """A CSAT answer of 3 raises nothing."""
    c = Customer.new()
    assert c.apply(survey("c1", at(2), "csat", 3)) == []
    assert c.state.latest_csat == 3


# --- support_escalation -------------------------------------------------------------------
@pytest.mark.parametrize("action", ["reopened", "escalated"])
def test_support_escalation_fires_on_reopen_or_escalate(action: str) -> None:
    """A reopened or escalated ticket raises support_escalation on that event."""
    c = Customer.new()
    c.apply(support("c1", at(0), "T1", "opened"))
    c.apply(support("c1", at(0, hours=5), "T1", "resolved"))
    event = support("c1", at(1), "T1", action, channel="phone")
    alert = risk(c.apply(event))
    check_alert(alert, rule="support_escalation", decided=at(1), trigger=event.event_id,
                score=25, level="low",
                details={"support_escalation": f"ticket T1 {action} via phone"})
    assert alert.state.open_tickets == 1


@pytest.mark.parametrize("action", ["opened", "replied", "resolved", "closed"])
def test_ordinary_ticket_actions_do_not_escalate(action: str) -> None:
    """Opening, replying to, resolving or closing a ticket raises nothing."""
    c = Customer.new()
    assert c.apply(support("c1", at(0), "T1", action)) == []


# --- repeated_contacts --------------------------------------------------------------------
@pytest.mark.parametrize(("span", "fires"), [
    (timedelta(days=29), True),
    (timedelta(days=30), True),
    (timedelta(days=30, seconds=1), False),
    (timedelta(days=31), False),
])
def test_repeated_contacts_needs_three_tickets_within_30_days(span: timedelta,
                                                              fires: bool) -> None:
    """The third ticket raises repeated_contacts only if the first is at most 30 days older."""
    c = Customer.new()
    assert c.apply(support("c1", at(0), "T1", "opened")) == []
    assert c.apply(support("c1", at(10), "T2", "opened")) == []
    third = support("c1", at(0) + span, "T3", "opened")
    out = c.apply(third)
    if not fires:
        assert out == []
        return
    alert = risk(out)
    check_alert(alert, rule="repeated_contacts", decided=at(0) + span,
                trigger=third.event_id, score=20, level="low",
                details={"repeated_contacts": "3 tickets opened in 30 days (threshold 3)"})
    assert alert.state.tickets_opened_30d == 3
    assert alert.state.open_tickets == 3


# --- slow_resolution ----------------------------------------------------------------------
def test_slow_resolution_fires_at_exactly_72h() -> None:
    """An unresolved ticket raises slow_resolution at opened + 72 h, once, with no trigger."""
    c = Customer.new()
    c.apply(support("c1", at(0), "T1", "opened"))
    due = at(0, hours=72)
    assert c.engine.next_due(c.state) == due.timestamp()
    assert c.until(due - SECOND) == []
    alert = risk(c.until(due))
    check_alert(alert, rule="slow_resolution", decided=due, trigger=None, score=25,
                level="low", details={"slow_resolution": "ticket T1 unresolved after 72 h (SLA)"})
    assert alert.state.open_tickets == 1
    assert c.until(at(60)) == []  # one alert per ticket


def test_resolved_at_71h59_is_not_slow() -> None:
    """A ticket resolved at 71 h 59 min raises nothing and leaves no timer behind."""
    c = Customer.new()
    out = c.feed([support("c1", at(0), "T1", "opened"),
                  support("c1", at(0, hours=71, minutes=59), "T1", "resolved")])
    assert out == []
    assert c.engine.next_due(c.state) is None
    assert c.until(at(60)) == []


def test_resolution_arriving_at_72h_is_too_late() -> None:
    """A resolution stamped exactly at the SLA comes after the breach was decided."""
    c = Customer.new()
    out = c.feed([support("c1", at(0), "T1", "opened"),
                  support("c1", at(0, hours=72), "T1", "resolved")])
    assert only(alerts(out, "slow_resolution")).decided_at == at(0, hours=72)
    assert c.state.open_tickets == {}


def test_ticket_tracking_stays_bounded() -> None:
    """Past the cap of tracked open tickets the oldest are forgotten with their SLA marks."""
    c = Customer.new()
    for n in range(MAX_TRACKED_TICKETS + 50):
        # escalating a ticket never seen opened also tracks it
        c.feed([support("c1", at(n), f"T{n}", "opened" if n % 2 else "escalated")])
    assert len(c.state.open_tickets) == MAX_TRACKED_TICKETS
    assert set(c.state.sla_alerted_tickets) <= set(c.state.open_tickets)


# --- inactive_overdue ---------------------------------------------------------------------
@pytest.mark.parametrize(("gap_days", "silence_days"), [
    (10, 30),  # 2 x 10 = 20 days is under the 30-day floor: the floor wins
    (15, 30),  # 2 x 15 = 30: factor and floor agree
    (20, 40),  # 2 x 20 = 40 days is over the floor: the customer's own rhythm wins
])
def test_inactive_overdue_fires_at_factor_or_floor(gap_days: int, silence_days: int) -> None:
    """No purchase for max(2 x mean gap, 30 days) raises inactive_overdue at exactly that time."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 40))
    c.apply(purchase("c1", at(gap_days), 40))
    due = at(gap_days + silence_days)
    assert c.engine.next_due(c.state) == due.timestamp()
    assert c.until(due - SECOND) == []
    alert = risk(c.until(due))
    check_alert(alert, rule="inactive_overdue", decided=due, trigger=None, score=35,
                level="low", details={"inactive_overdue": (
                    f"no purchase for {silence_days:.1f} days; this customer usually buys "
                    f"every {gap_days:.1f} days (factor 2, floor 30 days)")})
    assert alert.state.mean_interpurchase_days == gap_days
    assert alert.state.orders == 2
    assert alert.state.last_purchase_at == at(gap_days)
    assert alerts(c.until(at(400))) == []  # one alert per episode


def test_purchase_one_second_before_due_is_not_overdue() -> None:
    """A purchase a second before the overdue time raises nothing and re-arms later."""
    c = Customer.new()
    out = c.feed([purchase("c1", at(0), 40), purchase("c1", at(10), 40),
                  purchase("c1", at(40) - SECOND, 40)])
    assert alerts(out) == []
    assert milestones(out, "win_back") == []
    # mean gap now (40 d - 1 s) / 2: twice that is the new silence allowed
    assert c.engine.next_due(c.state) == (at(80) - 2 * SECOND).timestamp()


def test_single_order_is_never_overdue() -> None:
    """A customer with one order has no rhythm yet: inactive_overdue never fires."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 40))
    assert alerts(c.until(at(360))) == []


def test_overdue_respects_factor_setting() -> None:
    """overdue_factor and overdue_floor_days come from settings."""
    c = Customer.new(make_engine(overdue_factor=3.0, overdue_floor_days=0))
    c.feed([purchase("c1", at(0), 40), purchase("c1", at(10), 40)])
    assert c.until(at(40) - SECOND) == []
    assert only(alerts(c.until(at(40)))).decided_at == at(40)


# --- low_p_alive --------------------------------------------------------------------------
def _p_alive_customer(model: BgNbdStub | None) -> Customer:
    # floor far away: only low_p_alive is due in the horizon of these tests
    c = Customer.new(make_engine(model=model, overdue_floor_days=3650))
    for day in (0, 10, 20):
        c.apply(purchase("c1", at(day), 40))
    return c


def test_low_p_alive_fires_when_bgnbd_crosses_threshold() -> None:
    """low_p_alive fires at the first whole day BG/NBD P(alive) is below 0.3."""
    model = BgNbdStub(FAST_DROPOUT)
    c = _p_alive_customer(model)
    x, t_x = 2, 20  # three purchase days, the last 20 days after the first
    age = crossing_day(model, x, t_x, 0.3)
    assert probability_alive(FAST_DROPOUT, x, t_x, age - 1) >= 0.3
    p = float(probability_alive(FAST_DROPOUT, x, t_x, age))
    assert p < 0.3
    due = datetime.fromtimestamp((day_of(at(0).timestamp()) + age) * DAY, UTC)
    assert c.until(due - SECOND) == []
    alert = risk(c.until(due))
    check_alert(alert, rule="low_p_alive", decided=due, trigger=None, score=40, level="medium",
                details={"low_p_alive": f"BG/NBD probability alive {p:.2f} fell below 0.3"})
    assert alert.state.p_alive == pytest.approx(p, abs=1e-6)
    assert c.until(at(300)) == []  # once per episode


def test_low_p_alive_silent_without_repeat_purchase_day() -> None:
    """Two orders on one day are x = 0: BG/NBD calls that customer alive, nothing fires."""
    c = Customer.new(make_engine(model=BgNbdStub(FAST_DROPOUT), overdue_floor_days=3650))
    c.apply(purchase("c1", at(0), 40))
    c.apply(purchase("c1", at(0, hours=3), 40))
    assert alerts(c.until(at(300))) == []


def test_low_p_alive_silent_without_model() -> None:
    """Without a fitted model low_p_alive never fires."""
    c = _p_alive_customer(None)
    assert alerts(c.until(at(300))) == []


def test_low_p_alive_never_decided_before_the_purchase_that_armed_it() -> None:
    """If P(alive) is already low right after a purchase, the alert is at that purchase."""
    # a/(b+x-1) = 6 for x = 1: P(alive) = 1/7 at the very day of the repeat purchase
    model = BgNbdStub(BgNbdParams(r=0.5, alpha=10.0, a=3.0, b=0.5))
    c = Customer.new(make_engine(model=model, overdue_floor_days=3650))
    c.apply(purchase("c1", at(0), 40))
    second = purchase("c1", at(5), 40)
    c.apply(second)
    assert c.engine.next_due(c.state) == at(5).timestamp()
    assert only(alerts(c.until(at(5)))).decided_at == at(5)


def test_a_late_event_decides_p_alive_with_every_known_purchase() -> None:
    """A detractor answer stamped before the last known purchase (released late) must not
    ask BG/NBD for an age below the recency: it sees T = t_x, never T < t_x (a crash)."""
    c = _p_alive_customer(BgNbdStub(FAST_DROPOUT))
    alert = risk(c.apply(survey("c1", at(5), "nps", 2)))
    assert alert.rule_id == "nps_detractor"
    expected = float(probability_alive(FAST_DROPOUT, 2, 20, 20))
    assert alert.state.p_alive == pytest.approx(expected, abs=1e-6)


# --- spend_decline ------------------------------------------------------------------------
@pytest.mark.parametrize(("recent", "fires"), [(99.99, True), (100.0, False)])
def test_spend_decline_ratio_edge(recent: float, fires: bool) -> None:
    """Trailing 90-day revenue strictly below 50% of the 90 days before raises spend_decline."""
    c = Customer.new()
    c.apply(purchase("c1", at(0), 100))
    c.apply(purchase("c1", at(10), 100))
    third = purchase("c1", at(100), recent)
    out = alerts(c.apply(third))
    if not fires:
        assert out == []
        return
    alert = only(out)
    check_alert(alert, rule="spend_decline", decided=at(100), trigger=third.event_id,
                score=30, level="low", details={"spend_decline": (
                    "revenue in the last 90 days 99.99 is below 50% of the 90 days before "
                    "(200.00)")})
    assert (alert.state.revenue_90d, alert.state.revenue_prev_90d) == (99.99, 200.0)


@pytest.mark.parametrize(("orders", "fires"), [(2, False), (3, True)])
def test_spend_decline_needs_three_orders(orders: int, fires: bool) -> None:
    """Any event can reveal a decline, but only for customers with at least 3 orders."""
    c = Customer.new()
    for day in range(orders):
        c.apply(purchase("c1", at(day * 5), 100))
    answer = survey("c1", at(100), "nps", 8)
    out = c.apply(answer)
    if not fires:
        assert out == []
        return
    alert = only(alerts(out))
    assert alert.rule_id == "spend_decline"
    assert alert.trigger_event_id == answer.event_id
    assert only(alert.rules).detail == (
        "revenue in the last 90 days 0.00 is below 50% of the 90 days before (300.00)")


# --- scores, levels, episodes -------------------------------------------------------------
def test_score_sums_open_episodes_and_lists_every_rule() -> None:
    """Each alert scores every open episode and lists each with its own detail and time."""
    c = Customer.new()
    c.apply(survey("c1", at(1), "nps", 3))
    csat = survey("c1", at(2), "csat", 1)
    medium = risk(c.apply(csat))
    check_alert(medium, rule="low_csat", decided=at(2), trigger=csat.event_id,
                score=55, level="medium", details={
                    "low_csat": "CSAT answer 1 of 5 (low: 1-2)",
                    "nps_detractor": "NPS answer 3 (detractor, 0-6)"})
    c.apply(support("c1", at(3), "T1", "opened"))
    high = risk(c.apply(support("c1", at(3, hours=1), "T1", "escalated")))
    assert (high.score, high.level) == (80, "high")
    assert {h.rule_id: h.decided_at for h in high.rules} == {
        "low_csat": at(2), "nps_detractor": at(1), "support_escalation": at(3, hours=1)}
    c.until(at(3, hours=73))  # slow_resolution: 105 points, capped
    assert risk(c.apply(survey("c1", at(20), "nps", 0))).score == 100


def test_detractor_inside_cooldown_raises_nothing() -> None:
    """A second detractor answer within 7 days joins the open episode: no second alert."""
    c = Customer.new()
    first = risk(c.apply(survey("c1", at(1), "nps", 5)))
    assert c.apply(survey("c1", at(8) - SECOND, "nps", 2)) == []
    # the episode keeps the newest evidence for the next alert that lists it
    other = risk(c.apply(survey("c1", at(9), "csat", 1)))
    assert {h.rule_id: h.detail for h in other.rules}["nps_detractor"] == (
        "NPS answer 2 (detractor, 0-6)")
    assert first.alert_id != other.alert_id


def test_detractor_after_cooldown_raises_again() -> None:
    """Seven days after the last alert the same rule raises a new alert."""
    c = Customer.new()
    first = risk(c.apply(survey("c1", at(1), "nps", 5)))
    again = risk(c.apply(survey("c1", at(8), "nps", 4)))
    assert again.decided_at == at(8)
    assert again.alert_id != first.alert_id
    assert only(again.rules).decided_at == at(8)


def test_purchase_closes_episodes() -> None:
    """A purchase closes every open episode: the next detractor raises at once."""
    c = Customer.new()
    c.apply(survey("c1", at(1), "nps", 5))
    c.apply(purchase("c1", at(2), 40))
    assert c.state.episodes == {}
    alert = risk(c.apply(survey("c1", at(3), "nps", 5)))
    assert alert.score == 30
    assert alert.state.open_risk_rules == ["nps_detractor"]


def _history() -> list:
    return [
        purchase("c1", at(0), 80), purchase("c1", at(12), 30),
        support("c1", at(13), "T1", "opened"), support("c1", at(14), "T1", "escalated"),
        survey("c1", at(15), "nps", 2), survey("c1", at(25), "nps", 3),
        purchase("c1", at(90), 500), survey("c1", at(91), "nps", 10),
    ]


def test_ids_are_deterministic() -> None:
    """The same history yields the same alert and milestone ids, whatever the wall clock."""
    first = Customer.new().feed(_history())
    other_engine = make_engine()
    other_engine.wall_clock = lambda: datetime(2040, 1, 1, tzinfo=UTC)
    second = Customer.new(other_engine).feed(_history())

    def ids(outs: list[Output]) -> list[str]:
        return [o.alert_id if isinstance(o, ChurnRiskAlert) else o.milestone_id for o in outs]

    assert ids(first) == ids(second)
    assert len(set(ids(first))) == len(first) > 5
    assert [o.model_dump(exclude={"raised_at"}) for o in first] == [
        o.model_dump(exclude={"raised_at"}) for o in second]
