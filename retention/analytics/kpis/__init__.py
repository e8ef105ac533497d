"""Retention KPIs: one SQL file per KPI (sql/kpis), a registry describing them, a runner."""

from retention.analytics.kpis.registry import KPIS, Benchmark, Kpi, Unit
from retention.analytics.kpis.runner import (
    KpiValue,
    Period,
    load_sql,
    parameters_for,
    run_all,
    run_kpi,
    run_matrix,
    split_period,
)

__all__ = [
    "KPIS",
    "Benchmark",
    "Kpi",
    "KpiValue",
    "Period",
    "Unit",
    "load_sql",
    "parameters_for",
    "run_all",
    "run_kpi",
    "run_matrix",
    "split_period",
]
