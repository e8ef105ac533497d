"""What the report shows, gathered through named operations only (sinks/operations.py).

Every number comes from a KPI file or a `sql/cookbook` / `sql/report` question run by a
QueryRunner: the running worker's when it holds the embedded chDB folder, a direct client
otherwise. So the report shows exactly what `retention kpi` and `retention query` print.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from retention.analytics.kpis import KpiValue, Period, run_all, run_matrix, split_period
from retention.settings import Settings
from schemas.alerts import MilestoneKind, RiskLevel, RuleId
from sinks.reader import QueryRunner

# The monthly trends: the KPIs ops teams follow month by month, in the order charted.
TREND_KPIS = ("repeat_purchase_rate", "customer_retention_rate", "churn_rate", "nps", "csat")
LEVELS: tuple[str, ...] = get_args(RiskLevel)


@dataclass(frozen=True)
class MonthTrend:
    period: Period
    # Output name -> value (None when undefined, e.g. no survey answer that month).
    values: dict[str, float | None]


@dataclass(frozen=True)
class Episode:
    rule: str
    weight: int
    opened_at: dt.datetime
    detail: str


@dataclass(frozen=True)
class AtRiskCustomer:
    customer_id: str
    risk_score: int
    level: str
    revenue: float
    orders: int
    last_purchase_at: dt.datetime | None
    episodes: list[Episode]


@dataclass(frozen=True)
class ReportData:
    period: Period
    kpis: list[KpiValue]
    # cohort_retention rows: cohort_month (ISO), customers, month_0 .. month_11.
    cohorts: list[dict[str, Any]]
    months: list[MonthTrend]
    at_risk: list[AtRiskCustomer]
    # (rule, level) -> alerts decided in the period; every rule and level, zeros included.
    alerts: dict[tuple[str, str], int]
    # kind -> milestones decided in the period; every kind, zeros included.
    milestones: dict[str, int]


# One call per step of gather(); the report's progress display counts them.
Step = Callable[[str], None]


def step_count(period: Period) -> int:
    """How many steps gather() reports for `period`: progress bars know their length."""
    return 5 + len(split_period(period, "month"))


def _time(value: Any) -> dt.datetime:
    """A DateTime64 column: a datetime directly, ISO text through the worker's JSON."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def level_of(score: int, settings: Settings) -> str:
    """The alert level a risk score carries (README: `medium` from 40, `high` from 70)."""
    if score >= settings.signals.high_level_min:
        return "high"
    return "medium" if score >= settings.signals.medium_level_min else "low"


def _at_risk(runner: QueryRunner, settings: Settings, top: int,
             min_risk_score: int) -> list[AtRiskCustomer]:
    rows = runner.run("report/at_risk_episodes",
                      {"min_risk_score": min_risk_score, "top": top}).dicts()
    return [
        AtRiskCustomer(
            customer_id=r["customer_id"], risk_score=int(r["risk_score"]),
            level=level_of(int(r["risk_score"]), settings), revenue=float(r["revenue"]),
            orders=int(r["orders"]),
            last_purchase_at=(None if r["last_purchase_at"] is None
                              else _time(r["last_purchase_at"])),
            episodes=[Episode(rule, int(weight), _time(opened), detail)
                      for rule, weight, opened, detail in zip(
                          r["episode_rules"], r["episode_weights"], r["episode_opened_at"],
                          r["episode_details"], strict=True)],
        )
        for r in rows
    ]


def _alerts(runner: QueryRunner, period: Period) -> dict[tuple[str, str], int]:
    counts = {(rule, level): 0 for rule in get_args(RuleId) for level in LEVELS}
    for row in runner.run("cookbook/alerts_by_rule",
                          {"start": period.start, "end": period.end}).dicts():
        counts[(row["rule_id"], row["level"])] = int(row["alerts"])
    return counts


def _milestones(runner: QueryRunner, period: Period) -> dict[str, int]:
    counts = dict.fromkeys(get_args(MilestoneKind), 0)
    for row in runner.run("report/milestones_by_kind",
                          {"start": period.start, "end": period.end}).dicts():
        counts[row["kind"]] = int(row["milestones"])
    return counts


def gather(runner: QueryRunner, period: Period, settings: Settings, *, top: int,
           min_risk_score: int, step: Step) -> ReportData:
    """Everything the report shows for `period`, calling `step(what)` before each part."""
    step("KPIs")
    kpis = run_all(runner, period, settings)
    step("cohort retention")
    cohorts = run_matrix(runner, "cohort_retention", period, settings)
    months = []
    for month in split_period(period, "month"):
        step(f"trends {month.start:%Y-%m}")
        values = run_all(runner, month, settings, names=list(TREND_KPIS))
        months.append(MonthTrend(month, {v.output: v.value for v in values}))
    step("customers at risk")
    at_risk = _at_risk(runner, settings, top, min_risk_score)
    step("alerts")
    alerts = _alerts(runner, period)
    step("milestones")
    milestones = _milestones(runner, period)
    return ReportData(period, kpis, cohorts, months, at_risk, alerts, milestones)


@dataclass(frozen=True)
class CurvePoint:
    k: int
    # Customer-weighted share of the cohorts observed at month k still buying in it.
    retention: float | None
    # Customers of the cohorts observed at month k (the curve's base there).
    customers: int


def retention_curve(cohorts: list[dict[str, Any]]) -> list[CurvePoint]:
    """The cohorts pooled: month k's buyers over the customers of the cohorts observed at k.

    Weighting by cohort size makes it the share of all those customers, so a small cohort
    does not count as much as a large one; later months rest on fewer (older) cohorts.
    """
    points = []
    for k in range(12):
        observed = [c for c in cohorts if c[f"month_{k}"] is not None]
        customers = sum(c["customers"] for c in observed)
        buyers = sum(c["customers"] * c[f"month_{k}"] for c in observed)
        points.append(CurvePoint(k, buyers / customers if customers else None, customers))
    return points
