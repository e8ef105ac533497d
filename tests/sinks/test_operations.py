"""Named read operations: what exists, what a caller may send, and what ClickHouse refuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from retention.analytics.kpis import KPIS
from retention.analytics.kpis.registry import PARAMETER_TYPES
from retention.settings import SinkSettings
from sinks.clickhouse import ClickHouseSink
from sinks.migrations import migrate
from sinks.operations import READ_ONLY, OperationRefused, operation, operations, run_operation
from sinks.rows import COLUMNS

AT = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
PASSWD_LINE = "root:"  # the first field of /etc/passwd's first line on any Linux


@pytest.fixture
def sink(fresh_client: Any) -> ClickHouseSink:
    migrate(fresh_client)
    return ClickHouseSink(fresh_client, SinkSettings())


def test_every_kpi_is_an_operation_with_its_registered_parameters() -> None:
    """Each KPI of the registry runs as `kpis/<file>`, taking exactly the registry's
    parameters with the registry's types."""
    for kpi in KPIS.values():
        op = operation(kpi.operation)
        assert dict(op.parameters) == {p: PARAMETER_TYPES[p] for p in kpi.parameters}, kpi.name


def test_the_catalogue_is_kpis_cookbook_report_insights_customers_dlq_and_the_latest_model(
) -> None:
    """Nothing else is reachable: no migration, no bench script, no internal query."""
    folders = {name.split("/")[0] for name in operations()}
    assert folders == {"kpis", "cookbook", "report", "retention", "customer", "dlq", "model"}
    assert [n for n in operations() if n.startswith("model/")] == ["model/latest_model"]


@pytest.mark.parametrize("name", [
    "migrations/0001_events_alerts_state", "queries/create_database", "bench/optimize_table",
    "kpis/../queries/create_database", "../sql/kpis/nps", "kpis/nps.sql",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')", None, 42,
])
def test_unknown_operations_are_refused(name: Any) -> None:
    """Only catalogue names count: no path, file or SQL text gets through."""
    with pytest.raises(OperationRefused, match="no operation named"):
        operation(name)


@pytest.mark.parametrize(("values", "reason"), [
    ({"start": "2024-01-01"}, "missing end"),
    ({"start": "2024-01-01", "end": "2025-01-01", "readonly": 0}, "unknown readonly"),
    ({"start": "2024-01-01", "end": "2025-01-01", "settings": {"readonly": 0}},
     "unknown settings"),
    ({"start": "2024-01-01' SETTINGS readonly=0 --", "end": "2025-01-01"}, "expected a date"),
    ({"start": "2024-02-30", "end": "2025-01-01"}, "not a date"),
    ({"start": dt.datetime(2024, 1, 1), "end": "2025-01-01"}, "date and time"),
    ({"start": 20240101, "end": "2025-01-01"}, "expected a date"),
])
def test_bad_parameters_are_refused(values: dict[str, Any], reason: str) -> None:
    """Exactly the declared parameters, each parsed as its declared type."""
    with pytest.raises(OperationRefused, match=reason):
        operation("kpis/nps").bind(values)


@pytest.mark.parametrize(("name", "values"), [
    ("cookbook/at_risk_customers", {"min_risk_score": 256}),
    ("cookbook/at_risk_customers", {"min_risk_score": -1}),
    ("cookbook/at_risk_customers", {"min_risk_score": True}),
    ("cookbook/at_risk_customers", {"min_risk_score": "40 OR 1=1"}),
    ("cookbook/win_back_targets", {"max_p_alive": float("nan")}),
    ("cookbook/win_back_targets", {"max_p_alive": "inf"}),
    ("cookbook/customer_alerts", {"customer_id": "x" * 257}),
    ("cookbook/customer_alerts", {"customer_id": ["c1"]}),
    ("dlq/stored_events", {"event_ids": "e1"}),
    ("dlq/stored_events", {"event_ids": ["e"] * 1001}),
    ("dlq/stored_events", {"event_ids": ["x" * 257]}),
    ("dlq/stored_events", {"event_ids": [1]}),
])
def test_values_outside_their_type_are_refused(name: str, values: dict[str, Any]) -> None:
    with pytest.raises(OperationRefused):
        operation(name).bind(values)


def test_values_arrive_typed() -> None:
    """Text from the command line or JSON becomes the declared type."""
    assert operation("kpis/clv_historic").bind(
        {"end": "2025-01-01", "activity_window_days": "365", "lifespan_cap_years": "20"}
    ) == {"end": dt.date(2025, 1, 1), "activity_window_days": 365, "lifespan_cap_years": 20.0}


def test_a_hostile_string_value_is_data_not_sql(sink: ClickHouseSink) -> None:
    """A String parameter holding a file() query is compared as text: no rows, no file."""
    sink.client.insert("churn_risk_alerts",
                       [("a1", "c1", "low_csat", AT, AT, False, 40, "medium", ["low_csat"], "{}")],
                       column_names=COLUMNS["churn_risk_alerts"])
    hostile = "c1' UNION ALL SELECT * FROM file('/etc/passwd', 'LineAsString') --"
    code, answer = sink.answer_query({"operation": "cookbook/customer_alerts",
                                      "parameters": {"customer_id": hostile}})
    assert (code, answer["rows"]) == (200, [])
    code, answer = sink.answer_query({"operation": "cookbook/customer_alerts",
                                      "parameters": {"customer_id": "c1"}})
    assert [r[0] for r in answer["rows"]] == ["a1"]


@pytest.mark.parametrize("table_function", [
    "file('/etc/passwd', 'LineAsString')",
    "url('http://127.0.0.1:9/', 'LineAsString')",
    "remote('127.0.0.1:9', system.one)",
])
def test_readonly_refuses_table_functions(fresh_client: Any, table_function: str) -> None:
    """The second wall: even SQL of our own could not read files or reach other hosts under
    the operations' readonly=1 (the old query view ran readonly=2, which allowed them)."""
    with pytest.raises(Exception, match="READONLY") as refused:
        fresh_client.query(f"SELECT * FROM {table_function} LIMIT 1", settings=READ_ONLY)
    assert PASSWD_LINE not in str(refused.value)


def test_readonly_refuses_a_settings_override(fresh_client: Any) -> None:
    """Under readonly=1 a query cannot switch readonly off again."""
    with pytest.raises(Exception, match="READONLY"):
        fresh_client.query("SELECT 1 SETTINGS readonly = 0", settings=READ_ONLY)


def test_every_operation_runs_read_only(sink: ClickHouseSink) -> None:
    """Every operation of the catalogue runs on an empty schema with readonly=1 (a cookbook
    file that changed a setting, as `SETTINGS join_use_nulls = 1` did, would be refused)."""
    sample = {"Date": "2024-01-01", "UInt8": 40, "UInt16": 12, "UInt32": 365, "UInt64": 7,
              "Float64": 0.5, "String": "c1", "Array(String)": ["e1", "e2"]}
    # The retention insights' String parameters take a word of their vocabulary.
    words = {"period": "month", "tz": "UTC", "start_event": "purchase",
             "return_event": "purchase", "event": "purchase", "mode": "on", "cohort": "first",
             "brackets": "1-7,8-30", "since": "2024-01-01 00:00:00",
             "until": "2025-01-01 00:00:00"}
    for name, op in operations().items():
        values = {p: words.get(p, sample[t]) for p, t in op.parameters.items()}
        if "end" in values:
            values["end"] = "2025-01-01"
        run_operation(sink.client, name, values)
