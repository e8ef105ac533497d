"""Every KPI of kpis.md: its SQL file, bound parameters, output columns and benchmark.

The SQL file `sql/kpis/<name>.sql` is the definition; this module only says how to call it
and how to read its answer. A test checks that each file binds exactly the parameters listed
here (with the types in PARAMETER_TYPES) and returns exactly the listed outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Every bound parameter a KPI file may use, with its ClickHouse type. Periods are whole UTC
# days because the purchase pre-aggregates are daily.
PARAMETER_TYPES: dict[str, str] = {
    "start": "Date",
    "end": "Date",
    "activity_window_days": "UInt32",
    "lifespan_cap_years": "Float64",
}


class Unit(StrEnum):
    RATIO = "ratio"  # 0..1, shown as a percentage
    SCORE = "score"  # NPS, -100..100
    ORDERS = "orders"
    MONEY = "money"
    HOURS = "hours"


@dataclass(frozen=True)
class Benchmark:
    """A range quoted by the sources; ``annual`` ranges only apply to one-year periods."""

    low: float | None = None
    high: float | None = None
    # "Aim for at least": shown, not part of inside/outside.
    target: float | None = None
    annual: bool = False
    note: str = ""

    def describe(self) -> str:
        def pct(v: float) -> str:
            return f"{v * 100:.4g}%"

        if self.low is not None and self.high is not None:
            text = f"{pct(self.low)}-{pct(self.high)}"
        elif self.high is not None:
            text = f"<= {pct(self.high)}"
        elif self.low is not None:
            text = f">= {pct(self.low)}"
        else:
            text = ""
        if self.target is not None:
            text += f" (aim >= {pct(self.target)})"
        if self.annual:
            text += " annual"
        return text.strip()

    def inside(self, value: float | None, period_days: int) -> bool | None:
        """True/False against the range; None when it does not apply (no value, or an annual
        benchmark on a period that is not one year long)."""
        if value is None or (self.annual and period_days not in (365, 366)):
            return None
        if self.low is not None and value < self.low:
            return False
        return not (self.high is not None and value > self.high)


@dataclass(frozen=True)
class Kpi:
    name: str
    title: str
    parameters: tuple[str, ...]
    # Column names of the final select; for a scalar KPI each is a key of the JSON output.
    outputs: tuple[str, ...]
    unit: Unit
    benchmark: Benchmark | None = None
    # A matrix KPI returns many rows (cohort_retention) and is left out of `kpi all`.
    matrix: bool = False
    # The file under sql/kpis when several KPIs come from one computation (default: name).
    file: str = ""

    @property
    def sql_path(self) -> str:
        """Path inside the `sql` package."""
        return f"kpis/{self.file or self.name}.sql"

    @property
    def operation(self) -> str:
        """The named operation that runs the file (sinks/operations.py)."""
        return f"kpis/{self.file or self.name}"


_PERIOD = ("start", "end")
_ACTIVITY = ("start", "end", "activity_window_days")

_ALL = (
    Kpi("repeat_customer_rate", "Repeat customer rate", _PERIOD,
        ("repeat_customer_rate",), Unit.RATIO),
    Kpi("repeat_purchase_rate", "Repeat purchase rate", _PERIOD,
        ("repeat_purchase_rate",), Unit.RATIO,
        Benchmark(low=0.1987, high=0.396, target=0.27,
                  note="e-commerce ~30%; 19.87%-39.6% for small and medium merchants")),
    Kpi("purchase_frequency", "Purchase frequency", _PERIOD,
        ("purchase_frequency",), Unit.ORDERS),
    Kpi("average_order_value", "Average order value", _PERIOD,
        ("average_order_value",), Unit.MONEY),
    Kpi("customer_retention_rate", "Customer retention rate", _ACTIVITY,
        ("customer_retention_rate",), Unit.RATIO),
    Kpi("churn_rate", "Churn rate", _ACTIVITY, ("churn_rate",), Unit.RATIO,
        Benchmark(high=0.07, annual=True,
                  note="annual churn above 5-7% is a signal to investigate"),
        file="customer_retention_rate"),
    Kpi("net_customer_loss_rate", "Net customer loss rate", _ACTIVITY,
        ("net_customer_loss_rate",), Unit.RATIO, file="customer_retention_rate"),
    Kpi("clv_historic", "Historic CLV (trailing year to end)",
        ("end", "activity_window_days", "lifespan_cap_years"), ("clv_historic",), Unit.MONEY),
    Kpi("clv_predicted", "Predicted CLV (BG/NBD x Gamma-Gamma)", ("end",),
        ("clv_predicted_mean", "clv_predicted_sum"), Unit.MONEY),
    Kpi("cohort_retention", "Cohort retention (month of first order x month k)", _PERIOD,
        ("cohort_month", "customers", *(f"month_{k}" for k in range(12))), Unit.RATIO,
        matrix=True),
    Kpi("nps", "Net Promoter Score", _PERIOD, ("nps",), Unit.SCORE),
    Kpi("csat", "Customer satisfaction (share of 4-5)", _PERIOD, ("csat",), Unit.RATIO),
    Kpi("first_contact_resolution_rate", "First contact resolution rate", _PERIOD,
        ("first_contact_resolution_rate",), Unit.RATIO),
    Kpi("time_to_first_response", "Time to first response", _PERIOD,
        ("time_to_first_response_median_hours", "time_to_first_response_p90_hours"),
        Unit.HOURS),
    Kpi("time_to_resolution", "Time to resolution", _PERIOD,
        ("time_to_resolution_median_hours", "time_to_resolution_p90_hours"), Unit.HOURS),
)

KPIS: dict[str, Kpi] = {k.name: k for k in _ALL}
