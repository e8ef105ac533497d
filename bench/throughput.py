"""Worker throughput with every rule on vs a naive one-table-write-per-event agent.

Both consume the same backlog on the same embedded broker in one run, so the ratio is
meaningful on a noisy machine. Prints events/s for each and the ratio.

    python -m bench.throughput [--customers 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher


def _wait_until(done, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not finish within {timeout_s:.0f} s")
        time.sleep(0.25)


def steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """events/s from the first progress sample at or past 10% of `total` to the first at or
    past 90%: the sustained rate, without the start (group join, first fetch) and the end
    (idle-watermark wait, last flush). Falls back to the whole run if samples are too few."""
    t0, n0 = next((t, n) for t, n in samples if n >= 0.1 * total)
    t1, n1 = next((t, n) for t, n in samples if n >= 0.9 * total)
    if n1 == n0:
        (t0, n0), (t1, n1) = samples[0], samples[-1]
    return (n1 - n0) / max(t1 - t0, 1e-9)


def measure_worker(stack: LocalStack, total: int) -> tuple[float, float, dict]:
    """(sustained events/s, end-to-end events/s, final status), read off /status/.

    End to end runs from the first processed event until every event is processed, written
    to ClickHouse and Kafka, its state stored and its offset acknowledged.
    """
    url = f"http://127.0.0.1:{stack.env['RETENTION_WORKER__WEB_PORT']}/status/"

    def status() -> dict | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.load(resp)
        except OSError:
            return None

    samples: list[tuple[float, int]] = []

    def done() -> bool:
        st = status()
        if st is None:
            return False
        n = st["counters"]["events"] + st["counters"]["dead_letters"]
        if n:
            samples.append((time.monotonic(), n))
        return n >= total and st["rows_pending"] == 0

    stack.start_worker()
    _wait_until(done, 900, "the worker")
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return steady_rate(samples, total), (n1 - n0) / max(t1 - t0, 1e-9), status() or {}


def measure_naive(servers: str, folder: Path, total: int, mode: str = "naive") -> float:
    progress = folder / f"{mode}.progress"
    env = {**os.environ, "BENCH_BOOTSTRAP_SERVERS": servers, "BENCH_PROGRESS_FILE":
           str(progress), "BENCH_DATA_DIR": str(folder / mode), "BENCH_MODE": mode}
    with open(folder / f"{mode}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.naive_worker", "worker", "-l", "warn"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    samples: list[tuple[float, int]] = []

    def done() -> bool:
        try:
            n, elapsed = progress.read_text().split()
        except (FileNotFoundError, ValueError):
            return False
        samples.append((float(elapsed), int(n)))
        return int(n) >= total

    try:
        _wait_until(done, 1800, f"the {mode} agent")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return steady_rate(samples, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20000)
    args = parser.parse_args()
    events = generate_history(HistorySpec(customers=args.customers, months=12, seed=3))
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        folder = Path(tmp)
        # A short idle wait: the naive agent has no watermark to wait for at the end.
        env = {"RETENTION_WORKER__LOGLEVEL": "ERROR",
               "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2"}
        with LocalStack(folder / "stack", env) as stack:
            publisher = Publisher(stack.settings())
            started = time.monotonic()
            report = publisher.publish_lines(to_json_lines(events))
            publisher.close()
            publish_rate = report.sent / (time.monotonic() - started)
            worker_rate, end_to_end, status = measure_worker(stack, report.sent)
            print(f"retention worker: {worker_rate:,.0f} events/s; now the naive agent...",
                  flush=True)
            stack.stop_worker()
            servers = stack.servers or ""
            naive_rate = measure_naive(servers, folder, report.sent)
            floor_rate = measure_naive(servers, folder, report.sent, "floor")
            intake_rate = measure_naive(servers, folder, report.sent, "intake")
        c = status.get("counters", {})
        print(f"\nthroughput bench: {report.sent} events, {args.customers} customers, "
              f"embedded tansu, 4 partitions, one worker process; sustained rates are "
              f"measured from 10% to 90% of the backlog")
        print(f"  publisher (kafka-python, validated)     {publish_rate:>10,.0f} events/s")
        print(f"  retention worker, every rule on         {worker_rate:>10,.0f} events/s "
              f"(alerts {c.get('alerts')}, milestones {c.get('milestones')}, "
              f"duplicates {c.get('duplicates')}, late {c.get('late')})")
        print(f"    end to end, until all is durable      {end_to_end:>10,.0f} events/s "
              "(includes the idle-watermark wait and the last flush)")
        print(f"  naive agent, table write per event      {naive_rate:>10,.0f} events/s")
        print(f"  Faust take_events doing nothing         {floor_rate:>10,.0f} events/s "
              "(Faust's per-message path: the ceiling of a take_events agent)")
        print(f"  batch intake doing nothing              {intake_rate:>10,.0f} events/s "
              "(the worker's intake: its ceiling)")
        print(f"  ratio worker / naive                    {worker_rate / naive_rate:>10.1f}x "
              f"(target >= 3x, and >= 10,000 events/s)")
        print(f"  stage seconds in the worker             {status.get('seconds')}")

if __name__ == "__main__":
    main()
