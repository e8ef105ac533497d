"""CPU cost of the Faust-free stream logic: StreamProcessor.process on a generated history.

No broker, no ClickHouse: messages are built in memory, fed in batches, then drained to
now. Prints events/s for process() alone and with the state flush after every batch (the
worker flushes once per commit interval, so the truth lies in between).

`--catch-up` times the same history twice, ending yesterday and ending `--years-ago` years
before today, each drained to now: the watermark jump a history import followed by the
wall clock makes. Catching up should cost per output raised, not per year skipped.

    python -m bench.processor [--customers 8000] [--months 12] [--profile]
    python -m bench.processor --catch-up [--years-ago 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.settings import get_settings
from streams.outputs import partition_for
from streams.processor import InMessage, StreamProcessor
from streams.signals import SignalEngine

BATCH = 5000
PARTITIONS = 4


def build_messages(spec: HistorySpec) -> list[InMessage]:
    k = get_settings().kafka
    topic_of = {"purchase": k.topic(k.topics.purchases), "support": k.topic(k.topics.support),
                "survey": k.topic(k.topics.surveys)}
    messages = []
    for offset, line in enumerate(to_json_lines(generate_history(spec))):
        event = json.loads(line)
        key = event["customer_id"].encode()
        # The partition the key maps to, as producers place it (the worker checks).
        messages.append(InMessage(topic_of[event["type"]], partition_for(key, PARTITIONS),
                                  offset, key, line.encode(), object()))
    return messages


def run(messages: list[InMessage]) -> tuple[float, float, dict[str, int]]:
    """(seconds in process and drain, seconds in flush, counters)."""
    settings = get_settings()
    proc = StreamProcessor(settings, SignalEngine(settings.signals), lambda *_: None)
    flush: Any = getattr(proc, "flush", None)
    processing = flushing = 0.0
    for i in range(0, len(messages), BATCH):
        t0 = time.perf_counter()
        result = proc.process(messages[i:i + BATCH])
        t1 = time.perf_counter()
        if flush is not None:
            flush(result)
        processing += t1 - t0
        flushing += time.perf_counter() - t1
    # To now, as a live worker's wall-clock watermark does once the history is in.
    t0 = time.perf_counter()
    result = proc.drain(time.time())
    t1 = time.perf_counter()
    if flush is not None:
        flush(result)
    processing += t1 - t0
    flushing += time.perf_counter() - t1
    return processing, flushing, proc.counters


def catch_up(customers: int, months: int, years_ago: int, repeat: int) -> None:
    """The same history ending yesterday and ending `years_ago` years before, drained to
    now. Runs alternate between the two (this machine is shared: load drifts), and each is
    timed in CPU seconds of this process as well as wall seconds; best of `repeat` each."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ends = {"ending yesterday": today - timedelta(days=1),
            f"ending {years_ago} years ago": today - timedelta(days=1)
            - timedelta(days=round(365.25 * years_ago))}
    messages = {label: build_messages(HistorySpec(customers=customers, months=months, seed=3,
                                                  end=end))
                for label, end in ends.items()}
    wall: dict[str, list[float]] = {label: [] for label in ends}
    cpu: dict[str, list[float]] = {label: [] for label in ends}
    counters: dict[str, dict[str, int]] = {}
    for _ in range(repeat):
        for label in ends:
            started = time.process_time()
            processing, flushing, counters[label] = run(messages[label])
            cpu[label].append(time.process_time() - started)
            wall[label].append(processing + flushing)
    for label, end in ends.items():
        print(f"{label} ({end.date()}): {len(messages[label])} events; best of {repeat}: "
              f"CPU {min(cpu[label]):.2f} s, wall {min(wall[label]):.2f} s "
              f"(CPU runs: {', '.join(f'{t:.2f}' for t in cpu[label])}); {counters[label]}")
    recent, old = ends
    print(f"ratio (years ago / yesterday): CPU {min(cpu[old]) / min(cpu[recent]):.2f}, "
          f"wall {min(wall[old]) / min(wall[recent]):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--months", type=int, default=12, help="length of the history")
    parser.add_argument("--profile", action="store_true", help="cProfile top 30 by tottime")
    parser.add_argument("--catch-up", action="store_true",
                        help="time a history ending yesterday vs one ending --years-ago")
    parser.add_argument("--years-ago", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.catch_up:
        catch_up(args.customers, args.months, args.years_ago, args.repeat)
        return
    messages = build_messages(HistorySpec(customers=args.customers, months=args.months, seed=3))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    cpu = time.process_time()
    processing, flushing, counters = run(messages)
    cpu = time.process_time() - cpu
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    n = len(messages)
    print(f"{n} events: process {processing:.2f} s = {n / processing:,.0f} events/s "
          f"({processing / n * 1e6:.1f} us/event); with flush {n / (processing + flushing):,.0f}"
          f" events/s (flush {flushing:.2f} s); CPU {cpu:.2f} s of {processing + flushing:.2f} s")
    print(counters)


if __name__ == "__main__":
    main()
