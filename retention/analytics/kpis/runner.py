"""Run the KPI files of `sql/kpis`, as named operations, through a QueryRunner (a direct
client or the worker)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

from retention.analytics.kpis.registry import KPIS, Kpi
from retention.settings import Settings
from sinks.reader import QueryRunner
from sinks.sql_files import read_sql

Granularity = Literal["month", "quarter"]


@dataclass(frozen=True)
class Period:
    """The half-open period [start, end) in whole UTC days."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"the period must end after it starts: {self.start} >= {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class KpiValue:
    kpi: Kpi
    output: str
    value: float | None
    inside: bool | None


def load_sql(kpi: Kpi) -> str:
    return read_sql(kpi.sql_path)


def parameters_for(kpi: Kpi, period: Period, settings: Settings) -> dict[str, Any]:
    """Values of exactly the parameters the KPI's file binds."""
    available: dict[str, Any] = {
        "start": period.start,
        "end": period.end,
        "activity_window_days": settings.activity_window_days,
        "lifespan_cap_years": settings.lifespan_cap_years,
    }
    return {name: available[name] for name in kpi.parameters}


def _number(value: Any) -> float | None:
    # The worker's HTTP view sends JSON, where a NaN would arrive as null anyway.
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def run_kpi(
    runner: QueryRunner, kpi: Kpi | str, period: Period, settings: Settings
) -> dict[str, float | None]:
    """A scalar KPI's outputs, e.g. {"repeat_purchase_rate": 0.31}; None = undefined."""
    kpi = KPIS[kpi] if isinstance(kpi, str) else kpi
    row = _scalar_row(runner, kpi, parameters_for(kpi, period, settings))
    return {name: _number(row[name]) for name in kpi.outputs}


def _scalar_row(runner: QueryRunner, kpi: Kpi, parameters: dict[str, Any]) -> dict[str, Any]:
    """The single row a scalar KPI's file returns, every column."""
    if kpi.matrix:
        raise ValueError(f"{kpi.name} is a matrix KPI: use run_matrix")
    result = runner.run(kpi.operation, parameters)
    if len(result.rows) != 1:
        raise RuntimeError(f"{kpi.sql_path} returned {len(result.rows)} rows, expected 1")
    return dict(zip(result.columns, result.rows[0], strict=True))


def run_matrix(
    runner: QueryRunner, kpi: Kpi | str, period: Period, settings: Settings
) -> list[dict[str, Any]]:
    """A matrix KPI's rows (cohort_retention: one per cohort month), dates as ISO strings."""
    kpi = KPIS[kpi] if isinstance(kpi, str) else kpi
    result = runner.run(kpi.operation, parameters_for(kpi, period, settings))
    rows = []
    for raw in result.dicts():
        row: dict[str, Any] = {}
        for name in kpi.outputs:
            value = raw[name]
            if isinstance(value, dt.date):
                row[name] = value.isoformat()
            elif isinstance(value, str):  # dates arrive as ISO text through the worker
                row[name] = value
            elif name == "customers":
                row[name] = int(value)
            else:
                row[name] = _number(value)
        rows.append(row)
    return rows


def run_all(
    runner: QueryRunner, period: Period, settings: Settings, names: list[str] | None = None
) -> list[KpiValue]:
    """Every scalar KPI (or those named), one entry per output, judged against benchmarks."""
    values = []
    # KPIs sharing a file (retention, churn, net loss) share one query.
    rows: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]] = {}
    for kpi in KPIS.values():
        if kpi.matrix or (names is not None and kpi.name not in names):
            continue
        parameters = parameters_for(kpi, period, settings)
        key = (kpi.sql_path, tuple(sorted(parameters.items())))
        if key not in rows:
            rows[key] = _scalar_row(runner, kpi, parameters)
        for output in kpi.outputs:
            value = _number(rows[key][output])
            inside = kpi.benchmark.inside(value, period.days) if kpi.benchmark else None
            values.append(KpiValue(kpi, output, value, inside))
    return values


def _next_boundary(day: dt.date, by: Granularity) -> dt.date:
    months = 1 if by == "month" else 3
    # Month index of the next month / quarter start after `day`.
    index = day.year * 12 + day.month - 1
    index = (index // months + 1) * months
    return dt.date(index // 12, index % 12 + 1, 1)


def split_period(period: Period, by: Granularity) -> list[Period]:
    """Calendar months or quarters covering the period, clipped to it."""
    parts = []
    start = period.start
    while start < period.end:
        end = min(_next_boundary(start, by), period.end)
        parts.append(Period(start, end))
        start = end
    return parts
