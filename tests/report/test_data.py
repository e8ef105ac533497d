"""The report's own questions (sql/report) on rows shaped as the worker writes them."""

from __future__ import annotations

import datetime as dt
from typing import get_args

from pydantic_core import to_json

from retention.analytics.kpis import Period
from retention.report.data import Episode, gather, level_of
from retention.settings import Settings
from schemas.alerts import MilestoneKind, RiskLevel, RuleId
from sinks.rows import COLUMNS
from streams.processor.emit import state_row
from streams.state import CustomerState
from streams.state import Episode as StateEpisode
from tests.analytics.conftest import Db

UTC = dt.UTC
AT = dt.datetime(2024, 6, 1, 12, tzinfo=UTC)
PERIOD = Period(dt.date(2024, 3, 1), dt.date(2024, 6, 1))


def _state(cid: str, revenue: float, episodes: dict[str, tuple[float, str, int]],
           version: int = 1) -> tuple[object, ...]:
    """A customer_state row exactly as the worker's state flush writes it."""
    state = CustomerState(customer_id=cid, version=version, updated_at=AT.timestamp(),
                          orders=3, revenue=revenue, last_purchase_at=AT.timestamp() - 86_400)
    for rule, (opened, detail, weight) in episodes.items():
        state.episodes[rule] = StateEpisode(opened, opened, detail, weight)
    return state_row(state, to_json(state.to_dict()).decode())


def _insert_states(db: Db, rows: list[tuple[object, ...]]) -> None:
    db.client.insert("customer_state", rows, column_names=COLUMNS["customer_state"])


def _gather(db: Db, top: int = 25, min_risk_score: int = 1) -> object:
    steps: list[str] = []
    data = gather(db.runner, PERIOD, db.settings, top=top, min_risk_score=min_risk_score,
                  step=steps.append)
    assert steps[0] == "KPIs" and steps[-1] == "milestones"
    return data


def test_at_risk_lists_open_episodes_highest_score_first_with_details(db: Db) -> None:
    """Highest risk first, revenue then id breaking ties; each episode's rule, weight,
    opening time and detail as the state holds them; no open episode, no row."""
    opened = dt.datetime(2024, 5, 2, 8, 30, tzinfo=UTC).timestamp()
    _insert_states(db, [
        _state("c-low", 500.0, {"low_csat": (opened, "CSAT answer 2 of 5", 25)}),
        _state("c-tie-a", 10.0, {"nps_detractor": (opened, "NPS answer 3", 30),
                                 "inactive_overdue": (opened + 60, "no purchase <b>", 35)}),
        _state("c-tie-b", 90.0, {"spend_decline": (opened, "revenue halved", 30),
                                 "inactive_overdue": (opened, "no purchase", 35)}),
        _state("c-none", 9_999.0, {}),
    ])
    # A later version of c-low closes its episode and opens a bigger one: only it counts.
    _insert_states(db, [_state("c-low", 500.0, {"low_p_alive": (opened, "p_alive 0.1", 40)},
                               version=2)])
    data = _gather(db)
    assert [(c.customer_id, c.risk_score) for c in data.at_risk] == [
        ("c-tie-b", 65), ("c-tie-a", 65), ("c-low", 40)]
    tie_a = data.at_risk[1]
    assert tie_a.episodes == [
        Episode("nps_detractor", 30, dt.datetime.fromtimestamp(opened, UTC), "NPS answer 3"),
        Episode("inactive_overdue", 35, dt.datetime.fromtimestamp(opened + 60, UTC),
                "no purchase <b>")]
    assert tie_a.revenue == 10.0 and tie_a.orders == 3 and tie_a.level == "medium"
    assert data.at_risk[2].episodes[0].rule == "low_p_alive"


def test_at_risk_honours_top_and_minimum_score(db: Db) -> None:
    """`top` caps the list; customers under `min_risk_score` are left out."""
    opened = AT.timestamp() - 3_600
    _insert_states(db, [_state(f"c{i}", 1.0, {"low_csat": (opened, "x", 10 + i)})
                        for i in range(6)])
    assert [c.customer_id for c in _gather(db, top=2).at_risk] == ["c5", "c4"]
    assert [c.customer_id for c in _gather(db, min_risk_score=14).at_risk] == ["c5", "c4"]


def test_levels_follow_the_alert_thresholds() -> None:
    """The level shown beside a score is the alert level the settings give that score."""
    settings = Settings(signals={"medium_level_min": 50, "high_level_min": 80})
    assert [level_of(s, settings) for s in (0, 49, 50, 79, 80, 100)] == [
        "low", "low", "medium", "medium", "high", "high"]


def test_counts_are_the_periods_every_kind_listed(db: Db) -> None:
    """Alerts and milestones decided in [start, end) are counted by kind (and level), each
    id once; kinds with none show 0; the end day is excluded, the start day included."""
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)
    end = dt.datetime(2024, 6, 1, tzinfo=UTC)
    inside = start + dt.timedelta(days=10)
    alerts = [("a1", "c1", "low_csat", start, start, False, 25, "low", ["low_csat"], "{}"),
              ("a2", "c2", "low_csat", inside, inside, False, 75, "high", ["low_csat"], "{}"),
              ("a3", "c3", "low_csat", inside, inside, False, 75, "high", ["low_csat"], "{}"),
              ("a4", "c4", "nps_detractor", end, end, False, 30, "low", ["nps_detractor"], "{}"),
              ("a5", "c5", "nps_detractor", start - dt.timedelta(seconds=1), start, False, 30,
               "low", ["nps_detractor"], "{}")]
    db.client.insert("churn_risk_alerts", alerts, column_names=COLUMNS["churn_risk_alerts"])
    # A re-delivered alert (same id, later raised_at) counts once.
    db.client.insert("churn_risk_alerts", [(*alerts[1][:4], inside + dt.timedelta(hours=1),
                                            *alerts[1][5:])],
                     column_names=COLUMNS["churn_risk_alerts"])
    milestones = [("m1", "c1", "first_purchase", None, start, start, False, "{}"),
                  ("m2", "c2", "first_purchase", None, inside, inside, False, "{}"),
                  ("m3", "c2", "promoter", None, inside, inside, False, "{}"),
                  ("m4", "c3", "win_back", None, end, end, False, "{}")]
    db.client.insert("milestones", milestones, column_names=COLUMNS["milestones"])
    data = _gather(db)
    assert {k: n for k, n in data.alerts.items() if n} == {
        ("low_csat", "low"): 1, ("low_csat", "high"): 2}
    assert data.alerts[("low_p_alive", "medium")] == 0
    assert len(data.alerts) == len(get_args(RuleId)) * len(get_args(RiskLevel))
    assert {k: n for k, n in data.milestones.items() if n} == {
        "first_purchase": 2, "promoter": 1}
    assert data.milestones["win_back"] == 0
    assert set(data.milestones) == set(get_args(MilestoneKind))
