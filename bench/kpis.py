"""KPI speed on embedded chDB: pre-aggregates vs the same KPI over the raw tables.

    .venv/bin/python -m bench.kpis                       # 1M customers, 10M purchases
    .venv/bin/python -m bench.kpis --customers 100000    # ~10 purchases per customer

Generates three years of history with SQL (numbers() + hashes, so a run is reproducible),
lets the materialized views fill the pre-aggregates, then prints per KPI the median of 3
runs on the pre-aggregates and on raw tables (baseline: the KPI's own SQL with
purchase_days / customer_purchase_span swapped for subqueries over `purchases FINAL`), the
`kpi all` total and the `model fit` time. Targets: each KPI < 1 s, all < 5 s, fit < 60 s.
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

from retention.analytics.kpis import KPIS, Period, load_sql, parameters_for, run_all
from retention.analytics.model_fit import fit_model
from retention.settings import Settings
from sinks.reader import ClientRunner

HISTORY_START = "2022-01-01"
HISTORY_DAYS = 1096  # 2022-01-01 .. 2024-12-31
PERIOD = Period(dt.date(2024, 1, 1), dt.date(2025, 1, 1))

# Raw-table stand-ins with the pre-aggregates' columns: same KPI logic, no pre-aggregation.
RAW_PURCHASE_DAYS = (
    "(SELECT customer_id, toDate(occurred_at) AS day, [(event_id, amount)] AS orders "
    "FROM purchases FINAL WHERE kind = 'order')"
)
RAW_SPANS = (
    "(SELECT customer_id, occurred_at AS first_purchase_at, occurred_at AS last_purchase_at "
    "FROM purchases FINAL WHERE kind = 'order')"
)


# The purchase history follows the BG/NBD and Gamma-Gamma stories (time unit days), so the
# model fit has something to recover; calibrated to ~10 purchases per customer.
TRUE_BGNBD = {"r": 0.8, "alpha": 11.0, "a": 1.3, "b": 10.0}
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 60.0}


def generate(client: Any, customers: int) -> None:
    """History in SQL: each customer joins on a hashed day, buys at a Gamma-distributed rate
    and drops out after each repeat purchase with a Beta-distributed probability; order
    values are Gamma-Gamma. 1% refunds; 0.5% of events delivered twice. Plus ~1.35 support
    events and 1 survey answer per customer. Gamma(k, rate) draws are chi-squared(2k) / 2
    rate because ClickHouse's rand* functions take constant parameters only."""
    c = customers
    bg, gg = TRUE_BGNBD, TRUE_GG
    meta = "NULL, 1, 0, 0, now64(3)"
    client.command(f"""
        INSERT INTO purchases
        SELECT
            concat('e', toString(cust), '-', toString(k)), concat('c', toString(cust)),
            toDateTime64('{HISTORY_START} 00:00:00', 3, 'UTC')
                + toIntervalMillisecond(toUInt64((joined + offset) * 86400000)),
            concat('o', toString(cust), '-', toString(k)),
            round(randChiSquared({2 * gg["p"]}, k) / (2 * nu), 2), 'USD', 1, 'web',
            if(cityHash64(cust, k) % 100 = 0, 'refund', 'order'), {meta}
        FROM (
            SELECT
                number AS cust,
                cityHash64(number, 1) % {HISTORY_DAYS} + cityHash64(number, 2) % 1000 / 1000
                    AS joined,
                {HISTORY_DAYS} - joined AS window,
                randChiSquared({2 * bg["r"]}, number) / {2 * bg["alpha"]} AS lambda,
                randChiSquared({2 * bg["a"]}, number + 1) AS beta_a,
                randChiSquared({2 * bg["b"]}, number + 2) AS beta_b,
                beta_a / (beta_a + beta_b) AS dropout,
                -- Repeat purchases before dropping out: geometric, capped for array size.
                least(300, toUInt64(1 + floor(log(randCanonical(number + 3))
                                              / log(1 - dropout)))) AS lifetime_purchases,
                randChiSquared({2 * gg["q"]}, number + 4) / {2 * gg["v"]} AS nu,
                arrayConcat([0.], arrayFilter(t -> t < window, arrayCumSum(
                    arrayMap(i -> randExponential(1, i) / lambda, range(lifetime_purchases)))))
                    AS offsets
            FROM numbers({c})
        )
        ARRAY JOIN offsets AS offset, arrayEnumerate(offsets) AS k
        SETTINGS max_partitions_per_insert_block = 0
    """)
    # Re-deliveries: the same events again, later ingested_at.
    client.command("""
        INSERT INTO purchases
        SELECT event_id, customer_id, occurred_at, order_id, amount, currency, items, channel,
               kind, source, schema_version, kafka_partition, kafka_offset + 1, now64(3)
        FROM purchases WHERE cityHash64(event_id) % 200 = 0
        SETTINGS max_partitions_per_insert_block = 0
    """)
    tickets = max(c // 2, 1)
    client.command(f"""
        INSERT INTO support_events
        WITH
            intDiv(number, 3) AS ticket, number % 3 AS step,
            cityHash64(ticket, 7) % {HISTORY_DAYS} AS opened_day,
            toDateTime64('{HISTORY_START} 00:00:00', 3, 'UTC') + toIntervalDay(opened_day)
                + toIntervalMillisecond(cityHash64(ticket, 8) % 86400000) AS opened_at
        SELECT
            concat('s', toString(number)), concat('c', toString(cityHash64(ticket, 9) % {c})),
            opened_at + toIntervalMillisecond(
                multiIf(step = 0, 0, step = 1, cityHash64(ticket, 10) % 172800000,
                        172800000 + cityHash64(ticket, 11) % 604800000)),
            concat('t', toString(ticket)),
            multiIf(step = 0, 'opened', step = 1, 'replied', 'resolved'),
            'email', NULL, if(step = 2, cityHash64(ticket, 12) % 3 > 0, NULL), {meta}
        FROM numbers({tickets * 3})
        -- 10% of tickets never get a reply, 20% are not resolved yet.
        WHERE NOT (step = 1 AND cityHash64(ticket, 13) % 10 = 0)
          AND NOT (step = 2 AND cityHash64(ticket, 14) % 5 = 0)
        SETTINGS max_partitions_per_insert_block = 0
    """)
    client.command(f"""
        INSERT INTO survey_responses
        SELECT
            concat('r', toString(number)), concat('c', toString(cityHash64(number, 15) % {c})),
            toDateTime64('{HISTORY_START} 00:00:00', 3, 'UTC')
                + toIntervalMillisecond(cityHash64(number, 16) % ({HISTORY_DAYS} * 86400000)),
            if(number % 3 = 0, 'csat', 'nps'),
            if(number % 3 = 0, 1 + cityHash64(number, 17) % 5, cityHash64(number, 17) % 11),
            NULL, NULL, {meta}
        FROM numbers({c})
        SETTINGS max_partitions_per_insert_block = 0
    """)


def settle_then_stream(client: Any, batches: int = 20) -> None:
    """Merge history the way background merges eventually do, then add a live tail: small
    batches re-delivering December events, so the newest partitions hold unmerged parts
    with duplicate keys and FINAL has real work, as on a running pipeline."""
    for table in ("purchases", "purchase_days", "customer_purchase_span", "support_events",
                  "survey_responses"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    for batch in range(batches):
        client.command(f"""
            INSERT INTO purchases
            SELECT event_id, customer_id, occurred_at, order_id, amount, currency, items,
                   channel, kind, source, schema_version, kafka_partition, kafka_offset + 2,
                   now64(3)
            FROM purchases
            WHERE occurred_at >= toDateTime64('2024-12-01 00:00:00', 3, 'UTC')
              AND cityHash64(event_id, {batch}) % 500 = 0
        """)


def wait_for_merges(client: Any, timeout_s: float = 120) -> None:
    """Let background merges (after the fit's 1M-row insert, the streamed tail) finish so
    timings measure queries, not queries competing with merges for two cores."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not client.query("SELECT count() FROM system.merges").result_rows[0][0]:
            return
        time.sleep(0.5)


def raw_sql(sql: str) -> str:
    sql = re.sub(r"\bFROM purchase_days( FINAL)?\b", f"FROM {RAW_PURCHASE_DAYS}", sql)
    return re.sub(r"\bFROM customer_purchase_span\b", f"FROM {RAW_SPANS}", sql)


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
        fresh = not client.query("SELECT count() FROM purchases").result_rows[0][0]
        if fresh:
            start = time.perf_counter()
            generate(client, args.customers)
            generated = time.perf_counter() - start
            settle_then_stream(client)
            settled = time.perf_counter() - start - generated
            print(f"generated {args.customers:,} customers in {generated:.1f} s; merged, then "
                  f"streamed a tail of re-deliveries in {settled:.1f} s")
        orders, events = client.query(
            "SELECT uniqExactIf(event_id, kind = 'order'), count() FROM purchases"
        ).result_rows[0]
        print(f"purchases: {events:,} rows, {orders:,} distinct orders")
        sizes = client.query(
            "SELECT table, sum(rows) FROM system.parts WHERE active AND database = 'bench' "
            "AND table IN ('purchases', 'purchase_days', 'customer_purchase_span', "
            "'support_events', 'survey_responses') GROUP BY table ORDER BY table"
        ).result_rows
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
