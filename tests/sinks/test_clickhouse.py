"""The worker's reads through its sink: seed states, the latest model, the CLI's named
operations."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import numpy as np
import pytest

from retention.analytics.model import (
    BgNbdParams,
    FittedModel,
    GammaGammaParams,
    Predictions,
    ProfileRule,
    Profiles,
    Readiness,
)
from retention.settings import Settings, SinkSettings
from sinks.base import RowBatch
from sinks.clickhouse import ClickHouseSink
from sinks.client import create_client
from sinks.migrations import migrate
from sinks.model_store import next_version, save_model
from sinks.reader import QueryResult
from sinks.rows import COLUMNS

AT = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def sink(fresh_client: Any) -> ClickHouseSink:
    migrate(fresh_client)
    return ClickHouseSink(fresh_client, SinkSettings())


def _state_row(customer_id: str, version: int, state: dict[str, Any]) -> tuple[Any, ...]:
    return (customer_id, version, AT, 1, 10.0, AT, AT, 0, None, None, 0, [],
            json.dumps({"customer_id": customer_id, **state}))


def test_stored_states_are_the_latest_of_the_partitions_asked_for(sink: ClickHouseSink) -> None:
    """Only states of the given partitions come back, each customer's newest version once."""
    rows = [_state_row("c1", 1, {"partition": 0, "orders": 1}),
            _state_row("c1", 2, {"partition": 0, "orders": 2}),
            _state_row("c2", 1, {"partition": 1}),
            _state_row("c3", 1, {"partition": 2}),
            _state_row("c4", 1, {})]
    sink.client.insert("customer_state", rows, column_names=COLUMNS["customer_state"])
    states = sorted(sink.stored_states({0, 2}))
    assert [(c, json.loads(data), p) for c, data, p in states] == [
        ("c1", {"customer_id": "c1", "partition": 0, "orders": 2}, 0),
        ("c3", {"customer_id": "c3", "partition": 2}, 2)]
    assert list(sink.stored_states(set())) == []


def test_latest_model_is_the_newest_stored_version(sink: ClickHouseSink) -> None:
    """None before a fit; afterwards the highest version, equal to what was saved."""
    assert sink.latest_model() is None
    ids = np.asarray(["c1", "c2"], dtype=object)
    ints = np.asarray([1, 0], dtype=np.int64)
    floats = np.asarray([0.5, 0.25])
    predictions = Predictions(ids, ints, ints, ints, np.asarray([12.5, np.nan]), floats,
                              floats, floats)
    profiles = Profiles(ids, AT.date(), 365, ints, floats, floats, floats, floats,
                        np.asarray([1.0, np.nan]), np.asarray([3.5, np.nan]))
    rule = ProfileRule(0.0, 30, Readiness(True), 300, 90, 20)
    saved = []
    for _ in range(2):
        model = FittedModel(next_version(sink.client), AT, AT.date(), 365,
                            BgNbdParams(0.8, 11.0, 1.3, 10.0), GammaGammaParams(6.0, 4.0, 60.0),
                            customers=2, repeat_customers=1, bgnbd_log_likelihood=-10.5,
                            gg_log_likelihood=-3.25)
        save_model(sink.client, model, predictions, profiles, rule)
        saved.append(model)
    assert [m.version for m in saved] == [1, 2]
    assert sink.latest_model() == saved[-1]


def _alert_row(alert_id: str, customer_id: str, rule_id: str) -> tuple[Any, ...]:
    return (alert_id, customer_id, rule_id, AT, AT, False, 40, "medium", [rule_id], "{}")


def test_answer_query_runs_a_named_operation_into_json_safe_rows(sink: ClickHouseSink) -> None:
    """A named operation comes back as columns and JSON-safe rows (times as ISO text), which
    WorkerRunner turns back into a QueryResult."""
    sink.client.insert("churn_risk_alerts", [_alert_row("a1", "c1", "low_csat"),
                                             _alert_row("a2", "c2", "nps_detractor")],
                       column_names=COLUMNS["churn_risk_alerts"])
    code, answer = sink.answer_query({"operation": "cookbook/customer_alerts",
                                      "parameters": {"customer_id": "c1"}})
    assert code == 200
    assert json.loads(json.dumps(answer)) == answer
    rows = QueryResult(answer["columns"], answer["rows"]).dicts()
    assert [(r["alert_id"], r["rule_id"], r["score"]) for r in rows] == [("a1", "low_csat", 40)]
    decided = dt.datetime.fromisoformat(rows[0]["decided_at"])
    assert decided.replace(tzinfo=decided.tzinfo or dt.UTC) == AT


def test_a_database_failure_is_the_databases_message(fresh_client: Any) -> None:
    """An operation that fails in ClickHouse (here: tables never migrated) is a 500 carrying
    the database's message, not a refusal."""
    unmigrated = ClickHouseSink(fresh_client, SinkSettings())
    code, answer = unmigrated.answer_query({"operation": "cookbook/unmerged_duplicates"})
    assert code == 500
    assert set(answer) == {"error"} and "purchases" in answer["error"]


def test_refused_requests_leave_the_sink_writable(chdb_dsn: str, tmp_path) -> None:
    """Requests that once reached chDB as SQL (a write, a settings override) are refused
    before any query now, and the worker's next insert lands.

    Before, a write sent to the query view was refused by chDB under readonly and left the
    session read-only, so every later insert of the worker failed."""
    # A client of its own, as before: a session left read-only cannot drop its database.
    client = create_client(Settings(
        clickhouse={"dsn": chdb_dsn, "database": f"t_{uuid.uuid4().hex[:12]}"},
        data_dir=tmp_path))
    migrate(client)
    sink = ClickHouseSink(client, SinkSettings())
    for request in ({"sql": "DROP TABLE dead_letters"},
                    {"operation": "DROP TABLE dead_letters"},
                    {"operation": "cookbook/unmerged_duplicates",
                     "parameters": {"readonly": 0}}):
        code, answer = sink.answer_query(request)
        assert code == 400, (request, answer)
    code, _ = sink.answer_query({"operation": "cookbook/unmerged_duplicates"})
    assert code == 200  # a read under readonly=1 leaves the session writable too
    batch = RowBatch()
    batch.add("dead_letters", ("t", 0, 0, None, "parse", "r", "p", "utf-8", 1, "", False, AT))
    sink.write(batch)
    assert client.query("SELECT count() FROM dead_letters").result_rows == [(1,)]
