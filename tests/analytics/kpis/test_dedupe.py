"""Re-delivered events change nothing: every KPI and the model inputs are the same after the
same rows are inserted again, before and after ClickHouse merges the duplicates away."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from retention.analytics.kpis import KPIS, Period, run_kpi, run_matrix
from retention.analytics.model_fit import customer_rfm

from ..conftest import Db, assert_matrix_equal, assert_outputs_equal
from ..histories import random_history

D = dt.date
PERIODS = [Period(D(2024, 1, 1), D(2025, 1, 1)), Period(D(2024, 3, 1), D(2024, 4, 1)),
           Period(D(2023, 6, 15), D(2024, 9, 20))]
TABLES = ["purchases", "purchase_days", "customer_purchase_span", "support_events",
          "survey_responses"]


def _snapshot(db: Db) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for period in PERIODS:
        for kpi in KPIS.values():
            if kpi.matrix:
                out[f"{kpi.name} {period}"] = run_matrix(db.runner, kpi, period, db.settings)
            else:
                for name, value in run_kpi(db.runner, kpi, period, db.settings).items():
                    out[f"{name} {period}"] = value
    rfm = customer_rfm(db.client, D(2024, 12, 31))
    out["rfm"] = {k: v.tolist() for k, v in rfm.items()}
    return out


def _assert_same(after: dict[str, Any], before: dict[str, Any], context: str) -> None:
    for key, want in before.items():
        if key == "rfm":
            got = after[key]
            assert got["customer_id"] == want["customer_id"], context
            for col in ("x", "t_x", "T"):
                assert got[col] == want[col], f"{context} {col}"
            np.testing.assert_allclose(got["m_x"], want["m_x"], rtol=1e-12, equal_nan=True)
        elif key.startswith("cohort_retention"):
            assert_matrix_equal(after[key], want, f"{context} {key}")
        else:
            assert_outputs_equal({key: after[key]}, {key: want}, context)


def _duplicate_keys(db: Db) -> int:
    return int(db.client.query(
        "SELECT count() - uniqExact(customer_id, day) FROM purchase_days"
    ).result_rows[0][0])


def test_inserting_every_row_twice_changes_no_kpi(make_db) -> None:
    """Insert a history (with its own re-deliveries), snapshot every KPI, insert all rows
    again, compare; then merge everything (OPTIMIZE FINAL) and compare again."""
    db = make_db()
    history = random_history(7, customers=80)
    history.insert(db.client)
    before = _snapshot(db)
    assert any(v is not None for k, v in before.items() if k.startswith("repeat_purchase"))

    history.insert(db.client)  # the whole batch re-sent, as after a crash before commit
    history.insert(db.client, redelivered=False)  # and once more
    # The duplicates really sit in unmerged rows of the pre-aggregate the KPIs read.
    assert _duplicate_keys(db) > 0
    _assert_same(_snapshot(db), before, "after re-inserting")

    for table in TABLES:
        db.client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert _duplicate_keys(db) == 0
    _assert_same(_snapshot(db), before, "after merging")


def test_migration_backfill_and_views_overlap_harmlessly(make_db) -> None:
    """Rows aggregated twice (by the view and by 0002's backfill, as when events arrive
    while the migration runs) give the same KPIs as rows aggregated once."""
    from sinks.migrations import available_migrations

    db = make_db()
    history = random_history(8, customers=40)
    history.insert(db.client)
    before = _snapshot(db)
    backfill = [s for s in next(m for m in available_migrations() if m.version == 2)
                .statements() if s.startswith("INSERT INTO")]
    assert len(backfill) == 2
    for statement in backfill:
        db.client.command(statement)
    assert _duplicate_keys(db) > 0
    _assert_same(_snapshot(db), before, "after a second backfill")
