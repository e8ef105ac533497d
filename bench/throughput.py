"""Worker throughput with every rule on vs Quix Streams and a naive Faust agent.

All consume the same backlog on the same embedded broker in one run, so the ratios are
meaningful on a noisy machine: Quix Streams (one stateful update per event, run before and
after the others: the machine is shared), the worker, and a naive Faust agent writing its
table once per event. Prints events/s for each and the ratios.

    python -m bench.throughput [--customers 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, worker_status


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

    settings = stack.settings()

    def status() -> dict | None:
        return worker_status(settings)

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


PEER_PYTHON = Path(".venv-peer/bin/python")


def measure_contender(servers: str, folder: Path, name: str, module: str,
                      python: Path | str = sys.executable, **env: str) -> float:
    """Sustained events/s of `python -m module`, which reads the backlog in its own consumer
    group and writes "<events> <seconds>" to its progress file."""
    progress = folder / f"{name}.progress"
    env = {**os.environ, "BENCH_BOOTSTRAP_SERVERS": servers, "BENCH_PROGRESS_FILE":
           str(progress), "BENCH_DATA_DIR": str(folder / name), "BENCH_GROUP": name, **env}
    with open(folder / f"{name}.log", "ab") as log:
        proc = subprocess.Popen([str(python), "-m", module, *(["worker", "-l", "warn"]
                                 if module == "bench.naive_worker" else [])],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    samples: list[tuple[float, int]] = []

    def done() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {name} exited early; see {folder / name}.log")
        try:
            n, elapsed = progress.read_text().split()
        except (FileNotFoundError, ValueError):
            return False
        samples.append((float(elapsed), int(n)))
        return int(n) >= total

    total = int(env.pop("BENCH_TOTAL"))
    try:
        _wait_until(done, 1800, name)
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
        # The default idle wait: with 2 s (as this bench had), a loaded machine left a topic
        # with backlog unfetched long enough to count as quiet, and 35-60% of the events
        # came in behind the watermark (late) and were decided out of order.
        env = {"RETENTION_WORKER__LOGLEVEL": "ERROR"}
        with LocalStack(folder / "stack", env) as stack:
            settings = stack.settings()
            publisher = Publisher(settings)
            started = time.monotonic()
            report = publisher.publish_lines(to_json_lines(events))
            publisher.close()
            publish_rate = report.sent / (time.monotonic() - started)
            servers = stack.servers or ""
            k = settings.kafka
            topics = ",".join(k.topic(t) for t in (k.topics.purchases, k.topics.support,
                                                     k.topics.surveys))
            total = str(report.sent)

            def peer(run: str) -> float:
                rate = measure_contender(servers, folder, f"quix-{run}", "bench.quix_peer",
                                         PEER_PYTHON, BENCH_TOPICS=topics, BENCH_TOTAL=total)
                print(f"Quix Streams ({run}): {rate:,.0f} events/s", flush=True)
                return rate

            peer_before = peer("before")
            worker_rate, end_to_end, status = measure_worker(stack, report.sent)
            print(f"retention worker: {worker_rate:,.0f} events/s", flush=True)
            stack.stop_worker()
            naive_rate = measure_contender(servers, folder, "naive", "bench.naive_worker",
                                           BENCH_TOTAL=total)
            print(f"naive agent: {naive_rate:,.0f} events/s", flush=True)
            peer_after = peer("after")
        c = status.get("counters", {})
        peer_rate = (peer_before + peer_after) / 2
        print(f"\nthroughput bench: {report.sent} events, {args.customers} customers, "
              f"embedded tansu, 4 partitions, each contender one process in its own consumer "
              f"group over the same backlog; sustained rates, from 10% to 90% of the backlog")
        print(f"  publisher (kafka-python, validated)     {publish_rate:>10,.0f} events/s")
        print(f"  Quix Streams 3.28, stateful update      {peer_before:>10,.0f} events/s before,"
              f" {peer_after:,.0f} after the others (mean {peer_rate:,.0f})")
        print(f"  retention worker, every rule on         {worker_rate:>10,.0f} events/s "
              f"(alerts {c.get('alerts')}, milestones {c.get('milestones')}, "
              f"duplicates {c.get('duplicates')}, late {c.get('late')})")
        print(f"    end to end, until all is durable      {end_to_end:>10,.0f} events/s "
              "(includes the last idle-watermark wait and state flush)")
        print(f"  naive Faust agent, table write/event    {naive_rate:>10,.0f} events/s")
        print(f"  ratio worker / Quix Streams             {worker_rate / peer_rate:>10.2f}x "
              "(goal >= 0.5x)")
        print(f"  ratio worker / naive                    {worker_rate / naive_rate:>10.1f}x")
        print(f"  stage seconds in the worker             {status.get('seconds')}")


if __name__ == "__main__":
    main()
