"""Schema contracts: migrations apply from zero, the worker's row shapes match its tables,
and every materialized view's SELECT matches the table it writes to."""

from __future__ import annotations

import re
from typing import Any

from sinks.migrations import available_migrations, migrate
from sinks.rows import COLUMNS

_SIMPLE = re.compile(r"^SimpleAggregateFunction\(\w+, (.+)\)$")


def _columns(client: Any, table: str) -> list[tuple[str, str]]:
    return [(str(n), str(t)) for n, t in client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {t:String} ORDER BY position", parameters={"t": table}).result_rows]


def _stored_type(column_type: str) -> str:
    # A SimpleAggregateFunction column stores (and is fed) plain values of its inner type.
    match = _SIMPLE.match(column_type)
    return match[1] if match else column_type


def view_drift(client: Any) -> list[str]:
    """Differences between each materialized view's SELECT and its target table: a column
    the SELECT does not produce is silently filled with defaults, an extra one is dropped,
    a type mismatch is converted on every insert."""
    problems = []
    views = client.query(
        "SELECT name, as_select, target_table FROM system.tables "
        "WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name"
    ).result_rows
    for name, select, target in views:
        produced = {str(r[0]): str(r[1])
                    for r in client.query(f"DESCRIBE TABLE ({select})").result_rows}
        stored = {n: _stored_type(t) for n, t in _columns(client, target)}
        for column in sorted(set(stored) - set(produced)):
            problems.append(f"{name}: {target}.{column} is not produced by the SELECT")
        for column in sorted(set(produced) - set(stored)):
            problems.append(f"{name}: SELECT column {column} has no column in {target}")
        for column in sorted(set(produced) & set(stored)):
            if produced[column] != stored[column]:
                problems.append(f"{name}: {column} is {produced[column]} in the SELECT, "
                                f"{stored[column]} in {target}")
    return problems


def test_migrations_apply_from_zero_and_then_do_nothing(fresh_client: Any) -> None:
    """A new database gets every migration once; a second run applies none."""
    applied = migrate(fresh_client)
    assert [m.version for m in applied] == [m.version for m in available_migrations()]
    assert [m.version for m in applied] == list(range(1, len(applied) + 1))
    assert migrate(fresh_client) == []


def test_worker_row_shapes_match_their_tables(fresh_client: Any) -> None:
    """sinks.rows.COLUMNS lists each written table's columns, in table order."""
    migrate(fresh_client)
    for table, columns in COLUMNS.items():
        assert [n for n, _ in _columns(fresh_client, table)] == columns, table


def test_materialized_views_match_their_targets(fresh_client: Any) -> None:
    """Every view's SELECT produces exactly its target's columns, with the stored types."""
    migrate(fresh_client)
    views = fresh_client.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() "
        "AND engine = 'MaterializedView'").result_rows[0][0]
    assert views >= 2
    assert view_drift(fresh_client) == []


def test_the_drift_check_catches_a_drifted_view(fresh_client: Any) -> None:
    """The check is not vacuous. A view that leaves out a target column or changes its type
    is reported; so is a target altered by a later migration without its view."""
    migrate(fresh_client)
    fresh_client.command("""
        CREATE MATERIALIZED VIEW drifted_mv TO customer_purchase_span AS
        SELECT customer_id, toDateTime(min(occurred_at)) AS first_purchase_at
        FROM purchases GROUP BY customer_id
    """)
    fresh_client.command("""
        CREATE TABLE altered (customer_id String, orders UInt64, note String)
        ENGINE = MergeTree ORDER BY customer_id
    """)
    fresh_client.command("""
        CREATE MATERIALIZED VIEW altered_mv TO altered AS
        SELECT customer_id, count() AS orders, '' AS note FROM purchases GROUP BY customer_id
    """)
    fresh_client.command("ALTER TABLE altered DROP COLUMN note")
    problems = view_drift(fresh_client)
    assert any(p.startswith("drifted_mv") and "last_purchase_at is not produced" in p
               for p in problems), problems
    assert any(p.startswith("drifted_mv") and "first_purchase_at is DateTime" in p
               for p in problems), problems
    assert any(p.startswith("altered_mv") and "SELECT column note has no column" in p
               for p in problems), problems
