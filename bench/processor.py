"""CPU cost of the Faust-free stream logic: StreamProcessor.process on a generated history.

No broker, no ClickHouse: messages are built in memory, fed in batches, then drained to
now. Prints events/s for process() alone and with the state flush after every batch (the
worker flushes once per commit interval, so the truth lies in between).

    python -m bench.processor [--customers 8000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from typing import Any

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.settings import get_settings
from streams.outputs import partition_for
from streams.processor import InMessage, StreamProcessor
from streams.signals import SignalEngine

BATCH = 5000
PARTITIONS = 4


def build_messages(customers: int) -> list[InMessage]:
    k = get_settings().kafka
    topic_of = {"purchase": k.topic(k.topics.purchases), "support": k.topic(k.topics.support),
                "survey": k.topic(k.topics.surveys)}
    messages = []
    for offset, line in enumerate(to_json_lines(
            generate_history(HistorySpec(customers=customers, months=12, seed=3)))):
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
    # Never drain to +inf: anniversaries re-arm forever.
    t0 = time.perf_counter()
    result = proc.drain(time.time())
    t1 = time.perf_counter()
    if flush is not None:
        flush(result)
    processing += t1 - t0
    flushing += time.perf_counter() - t1
    return processing, flushing, proc.counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--profile", action="store_true", help="cProfile top 30 by tottime")
    args = parser.parse_args()
    messages = build_messages(args.customers)
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
