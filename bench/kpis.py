"""KPI speed on embedded chDB: pre-aggregates vs the same KPI over the raw tables.

    .venv/bin/python -m bench.kpis                       # 1M customers, 10M purchases
    .venv/bin/python -m bench.kpis --customers 100000    # ~10 purchases per customer

Generates three years of history with SQL (numbers() + hashes, so a run is reproducible),
lets the materialized views fill the pre-aggregates, then prints per KPI the median of 3
runs on the pre-aggregates and on raw tables (baseline: the KPI's own SQL with
purchase_days / customer_purchase_span swapped for subqueries over `purchases FINAL`), the
same for each retention insight (sql/retention: cohorts, lifecycle, stickiness, run as
named operations; they read the raw events themselves, so there is no baseline), each
customer question (sql/customer: `retention at-risk`, the five parts of `retention
customer`, over a generated worker state with open episodes for one customer in ten, and
the customer_profile view), the `kpi all` total and the `model fit` time. Targets: each
KPI, insight and customer question < 1 s, all < 5 s, fit < 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retention.analytics.insights import CohortQuery, PeriodRange, parse_brackets
from retention.analytics.kpis import KPIS, Period, load_sql, parameters_for, run_all
from retention.analytics.model_fit import fit_model
from retention.settings import Settings
from sinks.reader import ClientRunner
from sinks.sql_files import read_sql

HISTORY_START = dt.date(2022, 1, 1)
HISTORY_DAYS = 1096  # 2022-01-01 .. 2024-12-31
PERIOD = Period(dt.date(2024, 1, 1), dt.date(2025, 1, 1))

# The purchase history follows the BG/NBD and Gamma-Gamma stories (time unit days), so the
# model fit has something to recover; calibrated to ~10 purchases per customer.
TRUE_BGNBD = {"r": 0.8, "alpha": 11.0, "a": 1.3, "b": 10.0}
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 60.0}


def insights() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, operation, parameters) of each retention insight timed, over PERIOD: the
    default shapes, plus a time zone and events other than purchases."""
    months = PeriodRange(PERIOD.start, PERIOD.end, "month", "UTC")
    weeks = PeriodRange(PERIOD.start, PERIOD.end, "week", "Europe/Berlin")
    cohorts = {
        "cohorts first month x12": CohortQuery(months),
        "cohorts recurring month x12": CohortQuery(months, cohort="recurring"),
        "cohorts first week on-or-after": CohortQuery(weeks, intervals=26, mode="on_or_after"),
        "cohorts first any->purchase": CohortQuery(months, start_event="any"),
        "cohorts brackets 1-7,8-30,31-90": CohortQuery(
            weeks, brackets=parse_brackets("1-7,8-30,31-90")),
        "cohorts brackets recurring": CohortQuery(
            months, cohort="recurring", brackets=parse_brackets("1-7,8-30,31-90")),
    }
    timed = [(label, q.operation, q.parameters()) for label, q in cohorts.items()]
    for label, periods in (("month", months), ("week", weeks)):
        activity = {**periods.parameters(), "event": "purchase"}
        timed += [(f"lifecycle {label}", "retention/lifecycle", activity),
                  (f"stickiness {label}", "retention/stickiness", activity)]
    return timed


def customer_questions() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, operation, parameters) of `retention at-risk` and `retention customer`."""
    one = {"customer_id": "c12345"}
    return [
        ("at-risk (all, top 50)", "customer/at_risk", {"min_value": 0.0, "limit": 50}),
        ("at-risk --min-value 100", "customer/at_risk", {"min_value": 100.0, "limit": 50}),
        ("customer: state", "customer/state", one),
        ("customer: episodes", "customer/episodes", one),
        ("customer: profile", "customer/profile", one),
        ("customer: milestones", "customer/milestones", one),
        ("customer: recent events", "customer/recent_events", {**one, "limit": 10}),
    ]


def generate(client: Any, customers: int) -> None:
    """History in SQL (sql/bench/generate_*.sql): purchases following the true parameters
    above, 1% refunds; 0.5% of events delivered twice. Plus ~1.35 support events and 1
    survey answer per customer."""
    history = {"history_start": HISTORY_START, "history_days": HISTORY_DAYS,
               "customers": customers}
    client.command(read_sql("bench/generate_purchases.sql"),
                   parameters={**history, **TRUE_BGNBD, **TRUE_GG})
    # Re-deliveries: the same events again, later ingested_at.
    client.command(read_sql("bench/redeliver_purchases.sql"))
    client.command(read_sql("bench/generate_support_events.sql"),
                   parameters={**history, "tickets": max(customers // 2, 1)})
    client.command(read_sql("bench/generate_survey_responses.sql"), parameters=history)
    generate_worker_outputs(client)


def generate_worker_outputs(client: Any) -> None:
    """What the worker would have stored for the history: customer states (some with open
    episodes) and milestones, for the customer questions."""
    end = HISTORY_START + dt.timedelta(days=HISTORY_DAYS)
    client.command(read_sql("bench/generate_customer_state.sql"), parameters={"history_end": end})
    client.command(read_sql("bench/generate_milestones.sql"))


def settle_then_stream(client: Any, batches: int = 20) -> None:
    """Merge history the way background merges eventually do, then add a live tail: small
    batches re-delivering December events, so the newest partitions hold unmerged parts
    with duplicate keys and FINAL has real work, as on a running pipeline."""
    for table in ("purchases", "purchase_days", "customer_purchase_span", "support_events",
                  "survey_responses"):
        client.command(read_sql("bench/optimize_table.sql"), parameters={"table": table})
    for batch in range(batches):
        client.command(read_sql("bench/stream_tail.sql"), parameters={"batch": batch})


def wait_for_merges(client: Any, timeout_s: float = 120) -> None:
    """Let background merges (after the fit's 1M-row insert, the streamed tail) finish so
    timings measure queries, not queries competing with merges for two cores."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not client.query(read_sql("bench/running_merges.sql")).result_rows[0][0]:
            return
        time.sleep(0.5)


def _subquery(path: str) -> str:
    """A SELECT file as a parenthesised subquery (its comment lines dropped)."""
    lines = read_sql(path).splitlines()
    return "(" + "\n".join(line for line in lines if not line.startswith("--")).strip() + ")"


def raw_sql(sql: str) -> str:
    """The KPI's SQL over raw tables: the pre-aggregates swapped for subqueries with their
    columns over `purchases FINAL` (same KPI logic, no pre-aggregation)."""
    days = _subquery("bench/raw_purchase_days.sql")
    spans = _subquery("bench/raw_customer_purchase_span.sql")
    sql = re.sub(r"\bFROM purchase_days( FINAL)?\b", lambda _: f"FROM {days}", sql)
    return re.sub(r"\bFROM customer_purchase_span\b", lambda _: f"FROM {spans}", sql)


def median_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int,
                        default=int(os.environ.get("BENCH_CUSTOMERS", 1_000_000)))
    parser.add_argument("--folder", type=Path, default=None,
                        help="chDB folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    folder = args.folder or Path(tempfile.mkdtemp(prefix="retention-bench-"))
    settings = Settings(clickhouse={"dsn": f"chdb://{folder.resolve()}", "database": "bench"},
                        data_dir=folder / "var")
    try:
        runner = ClientRunner(settings)
        client = runner.client
        fresh = not client.query(read_sql("bench/purchase_rows.sql")).result_rows[0][0]
        if not fresh and not client.query(read_sql("bench/state_rows.sql")).result_rows[0][0]:
            generate_worker_outputs(client)  # a folder from before the customer questions
        if fresh:
            start = time.perf_counter()
            generate(client, args.customers)
            generated = time.perf_counter() - start
            settle_then_stream(client)
            settled = time.perf_counter() - start - generated
            print(f"generated {args.customers:,} customers in {generated:.1f} s; merged, then "
                  f"streamed a tail of re-deliveries in {settled:.1f} s")
        orders, events = client.query(read_sql("bench/purchase_totals.sql")).result_rows[0]
        print(f"purchases: {events:,} rows, {orders:,} distinct orders")
        sizes = client.query(read_sql("bench/table_sizes.sql")).result_rows
        print("rows (parts not merged away yet included): "
              + ", ".join(f"{t} {n:,}" for t, n in sizes))
        print(f"period {PERIOD.start} .. {PERIOD.end}\n")

        # First, so that clv_predicted below reads a full set of predictions. Thresholds as
        # shipped; the generated history passes them.
        start = time.perf_counter()
        report = fit_model(client, settings)
        fit_total = time.perf_counter() - start
        parts = ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items())
        status = f"model v{report.model.version}" if report.model else report.reasons
        if report.model is not None:
            fitted = {**vars(report.model.bgnbd), **vars(report.model.gamma_gamma)}
            truth = {**TRUE_BGNBD, **TRUE_GG}
            print("model params fitted (true): " + ", ".join(
                f"{k} {fitted[k]:.3g} ({truth[k]:g})" for k in truth) + "\n")

        wait_for_merges(client)
        print(f"{'KPI':<32} {'pre-agg s':>10} {'raw s':>10} {'speed-up':>9}")
        for kpi in KPIS.values():
            sql = load_sql(kpi)
            params = parameters_for(kpi, PERIOD, settings)
            fast = median_seconds(lambda s=sql, p=params: runner.query(s, p))
            baseline = raw_sql(sql)
            if args.skip_baseline or baseline == sql:
                print(f"{kpi.name:<32} {fast:>10.3f} {'-':>10} {'-':>9}")
                continue
            slow = median_seconds(lambda s=baseline, p=params: runner.query(s, p))
            print(f"{kpi.name:<32} {fast:>10.3f} {slow:>10.3f} {slow / fast:>8.1f}x")
        for label, operation, params in insights() + customer_questions():
            took = median_seconds(lambda o=operation, p=params: runner.run(o, p))
            print(f"{label:<32} {took:>10.3f} {'-':>10} {'-':>9}")
        took = median_seconds(lambda: runner.query(read_sql("bench/top_value_at_risk.sql")))
        print(f"{'customer_profile view, top 10':<32} {took:>10.3f} {'-':>10} {'-':>9}")

        total = median_seconds(lambda: run_all(runner, PERIOD, settings))
        print(f"\n{'kpi all (every scalar KPI)':<32} {total:>10.3f}")
        print(f"{'model fit':<32} {fit_total:>10.3f}   ({parts}; {status}, "
              f"{report.customers:,} customers)")

        runner.close()
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
