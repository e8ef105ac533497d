"""`retention customer` and `retention at-risk` queries (sql/customer) against pandas
references written from their definitions, directly and through the worker's API."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from retention.analytics.customer import at_risk, customer_story
from sinks.reader import WorkerRunner

from .conftest import Db
from .customer_shop import NEWCOMER, STORY
from .insights.test_worker import serve


def _latest_profiles(db: Db) -> pd.DataFrame:
    result = db.client.query(
        "SELECT customer_id, predicted_clv, churn_probability FROM customer_profiles FINAL "
        "WHERE model_version = (SELECT max(version) FROM model_params)")
    return pd.DataFrame(result.result_rows, columns=result.column_names)


def _reference_at_risk(db: Db, states: pd.DataFrame, min_value: float,
                       limit: int) -> list[tuple[str, float | None, list[str]]]:
    """Open episodes only; value = predicted CLV x churn; those without a profile after the
    rest and only at min_value 0; ties by risk score, then id."""
    frame = states[states["episodes"].map(len) > 0].merge(
        _latest_profiles(db), on="customer_id", how="left")
    frame["value"] = frame["predicted_clv"] * frame["churn_probability"]
    keep = frame["value"] >= min_value if min_value > 0 else pd.Series(True, frame.index)
    frame = frame[keep].copy()
    frame["has_value"] = frame["value"].notna()
    frame = frame.sort_values(["has_value", "value", "risk_score", "customer_id"],
                              ascending=[False, False, False, True]).head(limit)
    return [(r.customer_id, None if pd.isna(r.value) else round(r.value, 2),
             sorted(r.episodes)) for r in frame.itertuples()]


@pytest.mark.parametrize(("min_value", "limit"), [(0.0, 1000), (0.0, 10), (5.0, 1000),
                                                  (20.0, 5)])
def test_at_risk_ranks_open_episodes_by_value_at_risk(shop, min_value: float,
                                                      limit: int) -> None:
    """Customers with open episodes, by predicted CLV x churn probability (highest first),
    each with its episodes' rules and details; the newcomer without a profile last."""
    db, _, states = shop
    got = at_risk(db.runner, min_value, limit)
    want = _reference_at_risk(db, states, min_value, limit)
    assert [(r["customer_id"], r["value_at_risk"], sorted(r["episode_rules"]))
            for r in got] == want
    assert want, "the reference should list someone"
    if min_value == 0 and limit == 1000:
        assert got[-1]["customer_id"] == NEWCOMER and got[-1]["value_at_risk"] is None
    for r in got:
        episodes = states.set_index("customer_id").loc[r["customer_id"], "episodes"]
        assert dict(zip(r["episode_rules"], r["episode_details"], strict=True)) == {
            rule: e[2] for rule, e in episodes.items()}


def test_customer_story_tells_state_episodes_milestones_events_and_profile(shop) -> None:
    """The latest state; open episodes oldest first with reasons; each milestone once;
    the latest events each once, newest first; the profile of the latest model."""
    db, history, _ = shop
    story = customer_story(db.runner, STORY, 6)
    assert story.state is not None and story.state["risk_score"] == 55
    assert [(e["rule"], e["detail"], e["weight"]) for e in story.episodes] == [
        ("inactive_overdue", "overdue", 25), ("nps_detractor", "NPS 3", 30)]
    assert [m["kind"] for m in story.milestones] == [
        "first_purchase", "repeat_customer", "lifetime_spend"]

    purchases, support, surveys = history.frames()
    events = pd.concat([
        purchases.assign(type="purchase"), support.assign(type="support"),
        surveys.assign(type="survey")])
    events = events[events["customer_id"] == STORY].drop_duplicates("event_id")
    events["at"] = pd.to_datetime(events["occurred_at"], utc=True)
    want = events.sort_values(["at", "event_id"], ascending=False).head(6)
    # Times are UTC wall time, as ClickHouse returns DateTime64(3, 'UTC').
    assert [(e["type"], pd.Timestamp(e["occurred_at"], tz="UTC")) for e in story.recent_events] == [
        (r.type, r.at) for r in want.itertuples()]

    profile = story.profile
    assert profile is not None
    stored = _latest_profiles(db).set_index("customer_id").loc[STORY]
    assert profile["predicted_clv"] == pytest.approx(stored["predicted_clv"], rel=1e-12)
    assert profile["value_at_risk"] == pytest.approx(
        stored["predicted_clv"] * stored["churn_probability"], rel=1e-12)


def test_unknown_and_unprofiled_customers(shop) -> None:
    """A stranger has no state, events or profile; the newcomer (first order after the
    model's calibration day) has a state and events but no profile."""
    db, _, _ = shop
    stranger = customer_story(db.runner, "nobody", 5)
    assert not stranger.known and stranger.profile is None and stranger.episodes == []
    newcomer = customer_story(db.runner, NEWCOMER, 5)
    assert newcomer.known and newcomer.profile is None
    assert [e["type"] for e in newcomer.recent_events] == ["purchase"]


def test_the_worker_answers_as_the_database_does(shop) -> None:
    """Both commands' data through the worker's API equal the direct answers."""
    db, _, _ = shop

    def both(runner: Any) -> tuple[Any, ...]:
        return (customer_story(runner, STORY, 10).as_dict(), at_risk(runner, 0.0, 20))

    through_worker = serve(db.settings, lambda base: both(WorkerRunner(base)))
    assert through_worker == both(db.runner)
