"""Scale of one worker: RSS, start to the first processed event, clock tick time.

For each customer count: a year of synthetic history, ending today, for up to 20,000
customers goes through the StreamProcessor; past 20,000 its states are copied under new
customer ids until the count is reached (storing a million histories' worth of events
would take the bench an hour). Two measurements of those states:

1. The processor alone, in a fresh process, over the states in a RocksDB database:
   - start: the restart path of `Pipeline._arm_timers` (the states in memory armed, the
     stored ones re-armed a chunk per batch or tick) and one batch of live events: seconds
     from the start until that batch is processed; then until every stored state is
     re-armed (the worker does that between batches and clock ticks);
   - tick: the watermark clock's `tick()` with every customer armed, as the worker's timer
     calls it (mean of 20, wall clock moving 1 s each), and its RSS.
2. The real worker process (`retention worker` on embedded tansu and chDB, as `LocalStack`
   runs it) with the states seeded into its own Faust table (bench/worker_scale.py says how
   and what that leaves out): seconds from its restart to the first processed live event,
   its VmRSS/VmHWM while live events flow and every stored state is re-armed, Faust's
   warnings that the watermark clock overran its interval, then a second worker joining.

    python -m bench.scale [--customers 20000,1000000] [--no-worker] [--no-rebalance]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rocksdict import Rdict

from bench.worker_scale import copied_states, measure_clickhouse_resume, measure_worker
from retention.demo.synthetic import HistorySpec, generate_history
from retention.settings import get_settings
from streams.outputs import partition_for
from streams.processor import InMessage, StreamProcessor
from streams.signals import SignalEngine

PARTITIONS = 4
# The resume from ClickHouse holds every state in memory at once: kept below a million.
RESUME_COUNTS = "20000,200000"
HISTORY_CUSTOMERS = 20_000
BATCH = 5000
TOPIC = {"purchase": "purchases", "support": "support-events", "survey": "survey-responses"}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def messages_of(events: list[dict[str, Any]], first_offset: int = 0) -> list[InMessage]:
    out = []
    for offset, event in enumerate(events, first_offset):
        key = event["customer_id"].encode()
        out.append(InMessage(TOPIC[event["type"]], partition_for(key, PARTITIONS), offset, key,
                             json.dumps(event).encode(), object()))
    return out


def processor(load_state: Any) -> StreamProcessor:
    settings = get_settings()
    return StreamProcessor(settings, SignalEngine(settings.signals), load_state)


def base_states(customers: int, end: datetime) -> dict[str, str]:
    """State JSON by customer id after a year of synthetic history ending at `end`, for
    up to HISTORY_CUSTOMERS customers, as the processor flushes them to the table."""
    history = generate_history(HistorySpec(customers=min(customers, HISTORY_CUSTOMERS),
                                           months=12, seed=3, end=end))
    proc = processor(lambda *_: None)
    for i in range(0, len(history), BATCH):
        proc.process(messages_of(history[i:i + BATCH], i))
    result = proc.drain(time.time())
    proc.flush(result)
    assert result.flush is not None
    return result.flush.state_json


def build_store(path: Path, states: Iterator[tuple[str, str, int]]) -> None:
    """`states` in a RocksDB database at `path`."""
    db = Rdict(str(path))
    for cid, data, _ in states:
        db[cid] = data
    db.close()


def measure(path: Path) -> dict[str, float]:
    """Start a processor over the stored states at `path`; time it and its clock."""
    started = time.perf_counter()
    db = Rdict(str(path), readonly=True) if hasattr(Rdict, "readonly") else Rdict(str(path))

    def load_state(customer_id: str, _partition: int | None) -> dict[str, Any] | None:
        raw = db.get(customer_id)
        return json.loads(raw) if raw else None

    proc = processor(load_state)
    chunk = get_settings().signals.rearm_per_batch
    # Pipeline._arm_timers on a restart: stored states re-armed a chunk per batch
    proc.start_rearming(json.loads(raw) for raw in db.values())
    proc.rearm(chunk)
    now = datetime.now(UTC)
    live = [{"type": "purchase", "event_id": f"live-{n}", "customer_id": f"cust-{n:06d}",
             "occurred_at": (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
             "order_id": f"o-live-{n}", "amount": 10.0, "currency": "USD", "items": 1,
             "channel": "web"} for n in range(100)]
    first = proc.process(messages_of(live))
    start_s = time.perf_counter() - started
    while proc.rearming is not None:  # between the next batches and ticks
        proc.rearm(chunk)
    rearmed_s = time.perf_counter() - started
    armed = sum(len(p.timers.armed) for p in proc.partitions.values())
    assert first.done, "the first live batch was not processed"
    ticks = []
    clock = [time.time()]
    proc.wall_time = lambda: clock[0]
    proc.watermark_policy.wall_time = lambda: clock[0]
    for _ in range(20):
        clock[0] += 1.0
        t0 = time.perf_counter()
        proc.tick()
        ticks.append(time.perf_counter() - t0)
    return {"start_s": start_s, "rearmed_s": rearmed_s, "tick_ms": 1000 * sum(ticks) / len(ticks),
            "tick_max_ms": 1000 * max(ticks), "rss_mib": rss_mib(),
            "peak_rss_mib": peak_rss_mib(), "armed": armed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="20000,1000000")
    parser.add_argument("--no-worker", action="store_true",
                        help="the processor alone, not the real worker process")
    parser.add_argument("--no-rebalance", action="store_true",
                        help="skip the second worker joining")
    parser.add_argument("--resume", default=RESUME_COUNTS,
                        help="customer counts of the resume from ClickHouse ('' skips it)")
    parser.add_argument("--logs", type=Path, help="keep the workers' logs in this folder")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    counts = [int(c) for c in args.customers.split(",")]
    resume_counts = [int(c) for c in args.resume.split(",") if c]
    # States as of today: absence timers due in the coming days, as in a running business.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = base_states(max(counts + resume_counts), today)
    rows, workers, resumes = [], [], []
    with tempfile.TemporaryDirectory(prefix="retention-scale-") as tmp:
        for customers in counts:
            path = Path(tmp) / f"states-{customers}"
            t0 = time.perf_counter()
            build_store(path, copied_states(base, customers, PARTITIONS))
            built_s = time.perf_counter() - t0
            out = subprocess.run([sys.executable, "-m", "bench.scale", "--measure", str(path)],
                                 capture_output=True, text=True, check=True,
                                 env={**os.environ, "RETENTION_WORKER__LOGLEVEL": "ERROR"})
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((customers, figures))
            print(f"{customers:,} customers stored in {built_s:.0f} s: {figures}", flush=True)
            shutil.rmtree(path)
            if not args.no_worker:
                folder = Path(tmp) / f"worker-{customers}"
                worker = measure_worker(folder, base, customers, not args.no_rebalance)
                workers.append((customers, worker))
                print(f"{customers:,} customers in the worker's table: {worker}", flush=True)
                keep_logs(folder, args.logs)
        for customers in resume_counts:
            folder = Path(tmp) / f"resume-{customers}"
            resume = measure_clickhouse_resume(folder, base, customers)
            resumes.append((customers, resume))
            print(f"{customers:,} customers resumed from ClickHouse: {resume}", flush=True)
            keep_logs(folder, args.logs)
    print_processor(rows)
    print_workers(workers)
    print_resumes(resumes)


def keep_logs(folder: Path, logs: Path | None) -> None:
    """Copy the workers' logs under `folder` to `logs` (if given), then delete `folder`."""
    if logs:
        logs.mkdir(parents=True, exist_ok=True)
        for log in folder.glob("**/worker.log"):
            name = "-".join(log.relative_to(folder.parent).parent.parts)
            shutil.copy(log, logs / f"{name}.log")
    shutil.rmtree(folder)


def print_processor(rows: list[tuple[int, dict[str, float]]]) -> None:
    print("\nscale bench: one processor process over customer states stored in RocksDB "
          "(as the worker's table); start = arm what is in memory, re-arm a first chunk of "
          "stored states, process a first batch of 100 live events")
    for customers, f in rows:
        print(f"  {customers:>9,} customers: start to first processed event "
              f"{f['start_s']:.2f} s (all {f['armed']:,.0f} timers re-armed after "
              f"{f['rearmed_s']:.1f} s), RSS {f['rss_mib']:,.0f} MiB (peak "
              f"{f['peak_rss_mib']:,.0f}), clock tick {f['tick_ms']:.3f} ms "
              f"(max {f['tick_max_ms']:.3f})")


def print_workers(workers: list[tuple[int, dict[str, float]]]) -> None:
    if not workers:
        return
    print("\nscale bench, the real worker (`retention worker`: Faust, RocksDB table, "
          "aiokafka, chDB, web server) on embedded tansu, restarted with N customer "
          "states seeded into its own table; start = process start to the first "
          "processed live event; RSS sampled every 0.2 s while live events flow and "
          "every stored state is re-armed")
    for customers, w in workers:
        line = (f"  {customers:>9,} customers: start to first processed event "
                f"{w['start_s']:.2f} s, RSS at it {w['rss_first_mib']:,.0f} MiB, "
                f"after re-arming {w['rss_mib']:,.0f} MiB (peak VmHWM "
                f"{w['hwm_mib']:,.0f}); clock timer over its 0.5 s interval "
                f"{w['clock_overlaps']:.0f} times (longest {w['clock_overlap_max_s']:.2f} s, "
                f"last {w['clock_overlap_last_s']:.0f} s after start); table after: "
                f"{w['table_keys']:,.0f} states ({w['table_mib']:,.0f} MiB on disk), "
                f"{w['live_kept_history']:.0f} of {w['live_customers']:.0f} live customers "
                "kept their seeded history")
        if "rebalance_pause_s" in w:
            line += (f"; second worker joins: first worker paused "
                     f"{w['rebalance_pause_s']:.1f} s (processing again "
                     f"{w['rebalance_resumed_s']:.1f} s after the join), second "
                     f"worker's first event {w['second_first_s']:.1f} s")
        print(line)
    if len(workers) > 1:
        (n0, w0), (n1, w1) = workers[0], workers[-1]
        slope = (w1["rss_mib"] - w0["rss_mib"]) * 2**20 / (n1 - n0)
        print(f"  RSS slope after re-arming: {slope:,.0f} bytes per customer")


def print_resumes(resumes: list[tuple[int, dict[str, float]]]) -> None:
    if not resumes:
        return
    print("\nscale bench, `retention up` restarted (a new embedded tansu, the local table "
          "forgotten): the worker resumes every customer state from ClickHouse")
    for customers, r in resumes:
        print(f"  {customers:>9,} customers: start to first processed event "
              f"{r['start_s']:.2f} s, RSS at it {r['rss_first_mib']:,.0f} MiB, 15 s later "
              f"{r['rss_mib']:,.0f} MiB (peak VmHWM {r['hwm_mib']:,.0f}); the worker logged "
              f"{r['resumed_states']:,.0f} states resumed")
    if len(resumes) > 1:
        (n0, r0), (n1, r1) = resumes[0], resumes[-1]
        slope = (r1["hwm_mib"] - r0["hwm_mib"]) * 2**20 / (n1 - n0)
        start_slope = (r1["start_s"] - r0["start_s"]) / (n1 - n0)
        million = 1_000_000
        print(f"  peak RSS slope {slope:,.0f} bytes per customer; extrapolated (linearly, "
              f"not measured) to {million:,} customers: peak RSS "
              f"{(r1['hwm_mib'] + slope * (million - n1) / 2**20) / 1024:.1f} GiB, start "
              f"{r1['start_s'] + start_slope * (million - n1):.0f} s")


if __name__ == "__main__":
    main()
