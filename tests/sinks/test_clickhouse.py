"""The worker's reads through its sink: seed states, the latest model, the CLI's queries."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import numpy as np
import pytest

from retention.analytics.model import BgNbdParams, FittedModel, GammaGammaParams, Predictions
from retention.settings import Settings, SinkSettings
from sinks.base import RowBatch, SinkBackpressure
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
    states = sorted(sink.stored_states({0, 2}), key=lambda s: s["customer_id"])
    assert states == [{"customer_id": "c1", "partition": 0, "orders": 2},
                      {"customer_id": "c3", "partition": 2}]
    assert sink.stored_states(set()) == []


def test_latest_model_is_the_newest_stored_version(sink: ClickHouseSink) -> None:
    """None before a fit; afterwards the highest version, equal to what was saved."""
    assert sink.latest_model() is None
    ids = np.asarray(["c1", "c2"], dtype=object)
    ints = np.asarray([1, 0], dtype=np.int64)
    floats = np.asarray([0.5, 0.25])
    predictions = Predictions(ids, ints, ints, ints, np.asarray([12.5, np.nan]), floats,
                              floats, floats)
    saved = []
    for _ in range(2):
        model = FittedModel(next_version(sink.client), AT, AT.date(), 365,
                            BgNbdParams(0.8, 11.0, 1.3, 10.0), GammaGammaParams(6.0, 4.0, 60.0),
                            customers=2, repeat_customers=1, bgnbd_log_likelihood=-10.5,
                            gg_log_likelihood=-3.25)
        save_model(sink.client, model, predictions)
        saved.append(model)
    assert [m.version for m in saved] == [1, 2]
    assert sink.latest_model() == saved[-1]


def test_answer_query_sends_columns_and_json_safe_rows(sink: ClickHouseSink) -> None:
    """A read comes back as columns and JSON-safe rows, which WorkerRunner turns back into
    a QueryResult; a failed query comes back as the database's message."""
    answer = sink.answer_query({"sql": "SELECT {d:Date} AS day, 1 AS one",
                                "parameters": {"d": "2024-05-01"}})
    assert json.loads(json.dumps(answer)) == {"columns": ["day", "one"],
                                              "rows": [["2024-05-01", 1]]}
    assert QueryResult(answer["columns"], answer["rows"]).dicts() == [
        {"day": "2024-05-01", "one": 1}]
    failed = sink.answer_query({"sql": "SELECT no_such_column"})
    assert set(failed) == {"error"}
    assert "no_such_column" in failed["error"]


@pytest.mark.xfail(strict=True, raises=SinkBackpressure, reason=(
    "chDB backend: a statement refused under readonly=2 leaves the session read-only "
    "(clickhouse-connect cannot SET readonly back), so the worker's later inserts fail"))
def test_a_refused_write_leaves_the_sink_writable(chdb_dsn: str, tmp_path) -> None:
    """A write sent to the worker's /query/ view is refused, and the worker still writes."""
    # A client of its own: the session it leaves read-only cannot drop its database.
    client = create_client(Settings(
        clickhouse={"dsn": chdb_dsn, "database": f"t_{uuid.uuid4().hex[:12]}"},
        data_dir=tmp_path))
    migrate(client)
    sink = ClickHouseSink(client, SinkSettings())
    refused = sink.answer_query({"sql": "DROP TABLE dead_letters"})
    assert "READONLY" in refused["error"]
    batch = RowBatch()
    batch.add("dead_letters", ("t", 0, 0, None, "r", "p", AT))
    sink.write(batch)
