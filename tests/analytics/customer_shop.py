"""The shop the customer tests read: a fitted simulated history, worker states with
random open episodes (an older version of some), milestones (re-delivered too) and one
story customer's tickets and answers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retention.analytics.model_fit import fit_model
from retention.embedded.broker import free_loopback_port
from sinks.rows import COLUMNS

from .conftest import Db, open_db
from .histories import AS_OF, INGESTED, History, simulated_history

UTC = dt.UTC
RULES = ["inactive_overdue", "low_p_alive", "nps_detractor", "spend_decline", "low_csat"]
# A customer with open episodes and no order before the model's calibration day.
NEWCOMER = "z-newcomer"
STORY = "c00007"


def _state_row(customer_id: str, version: int, episodes: dict[str, list[Any]]) -> tuple:
    at = dt.datetime(2025, 1, 10, tzinfo=UTC)
    score = min(100, sum(e[3] for e in episodes.values()))
    state = {"customer_id": customer_id, "orders": 3, "episodes": episodes}
    return (customer_id, version, at, 3, 120.5, at, at, 1, 4, None, score,
            sorted(episodes), json.dumps(state))


def _episodes(rng: np.random.Generator) -> dict[str, list[Any]]:
    rules = rng.choice(RULES, size=int(rng.integers(0, 4)), replace=False)
    return {str(rule): [1_700_000_000.0 + float(rng.integers(0, 10**7)),
                        1_700_000_000.0 + float(rng.integers(10**7, 2 * 10**7)),
                        f"{rule} because of reason {int(rng.integers(100))}",
                        int(rng.integers(10, 40))] for rule in rules}


@pytest.fixture(scope="module")
def shop(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Db, History, pd.DataFrame]]:
    """A fitted history, worker states (an older version of some, then the latest) with
    random open episodes, milestones (re-delivered too) and a story customer's tickets
    and answers."""
    db = open_db(chdb_dsn, tmp_path_factory.mktemp("customer"),
                 worker={"web_port": free_loopback_port()})
    history = simulated_history(600, seed=21)
    h = history
    at = dt.datetime(2024, 11, 3, 9, tzinfo=UTC)
    h.ticket(STORY, "T1", "opened", at)
    row = h.ticket(STORY, "T1", "resolved", at + dt.timedelta(hours=5), fcr=True)
    h.redeliver("support_events", row)
    h.answer(STORY, "nps", 3, at + dt.timedelta(days=1))
    h.order(NEWCOMER, dt.datetime(2025, 1, 3, tzinfo=UTC), 80.0)
    history.insert(db.client)
    assert fit_model(db.client, db.settings, AS_OF).model is not None

    rng = np.random.default_rng(4)
    customers = [f"c{i:05d}" for i in range(0, 600, 7)] + [NEWCOMER]
    older = [_state_row(c, 1, _episodes(rng)) for c in customers[:20]]
    latest = {c: _episodes(rng) for c in customers}
    latest[STORY] = {"nps_detractor": [1_730_710_000.0, 1_730_710_000.0, "NPS 3", 30],
                     "inactive_overdue": [1_730_000_000.0, 1_730_000_000.0, "overdue", 25]}
    latest[NEWCOMER] = {"low_csat": [1_736_000_000.0, 1_736_000_000.0, "CSAT 1", 20]}
    rows = [_state_row(c, 2, e) for c, e in latest.items()]
    db.client.insert("customer_state", older + rows, column_names=COLUMNS["customer_state"])
    stones = [(f"m-{STORY}-{k}", STORY, kind, value, at + dt.timedelta(days=k), INGESTED,
               True, "{}") for k, (kind, value) in
              enumerate([("first_purchase", None), ("repeat_customer", None),
                         ("lifetime_spend", 100.0)])]
    db.client.insert("milestones", stones + stones[:1], column_names=COLUMNS["milestones"])
    states = pd.DataFrame(
        [{"customer_id": c, "risk_score": r[10], "episodes": e} for (c, e), r in
         zip(latest.items(), rows, strict=True)])
    yield db, history, states
    db.close()
