"""Event -> alert latency of the live worker, as a subscriber of `churn-risk` sees it.

The worker `retention up` runs (a subprocess, on the embedded tansu broker and chDB, default
settings) is sent live events (occurred_at = now) at a fixed offered rate: 10% NPS
detractor answers, each from a customer of its own (so no cooldown hides an alert), the
rest purchases and support tickets of a pool of other customers. A subscriber assigned to
every `churn-risk` partition at its end notes when each detractor's alert arrives (matched
by `trigger_event_id`); latency = arrival at the subscriber - the answer's occurred_at, both
on this machine's wall clock. Prints p50/p95/p99/max per rate, and alerts missing, if any.

    python -m bench.latency [--rates 2000,10000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from retention.embedded.stack import LocalStack
from retention.kafka import worker_status
from retention.settings import Settings
from streams.outputs import partition_for

DETRACTOR_SHARE = 0.10
POOL = 20_000  # customers sending the other 90%
SETTLE_S = 20.0  # how long the subscriber waits for the last alerts after sending stops
SUBSCRIBER_FETCH_WAIT_MS = 100


@dataclass
class Latency:
    rate: int
    offered: float  # events/s actually offered
    sent: int
    detractors: int
    latencies: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        missing = self.detractors - len(self.latencies)
        if not self.latencies:
            return f"  {self.rate:>6,} events/s offered: no alert arrived ({missing} missing)"
        return (f"  {self.rate:>6,} events/s offered ({self.offered:,.0f} achieved, {self.sent:,}"
                f" events, {self.detractors:,} detractors): p50 {self.quantile(0.5):.3f} s, "
                f"p95 {self.quantile(0.95):.3f} s, p99 {self.quantile(0.99):.3f} s, max "
                f"{max(self.latencies):.3f} s, mean {statistics.fmean(self.latencies):.3f} s"
                + (f"; {missing} alerts missing" if missing else ""))


def _iso_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class LiveLoad:
    """Live events at an offered rate, and a subscriber timing the detractors' alerts."""

    def __init__(self, settings: Settings, tag: str) -> None:
        k = settings.kafka
        self.servers = settings.kafka.bootstrap_servers
        self.partitions = k.partitions
        self.topics = {"purchase": k.topic(k.topics.purchases),
                       "support": k.topic(k.topics.support),
                       "survey": k.topic(k.topics.surveys)}
        self.alerts_topic = k.topic(k.topics.churn_risk)
        self.tag = tag
        self.rng = random.Random(7)
        self.seq = 0
        # detractor answer event_id -> its occurred_at (epoch s); arrival times of alerts
        self.asked: dict[str, float] = {}
        self.arrived: dict[str, float] = {}

    def _event(self) -> tuple[str, dict[str, object]]:
        self.seq += 1
        n = self.seq
        eid = f"{self.tag}-{n}"
        now = _iso_now()
        draw = self.rng.random()
        if draw < DETRACTOR_SHARE:
            self.asked[eid] = time.time()
            return "survey", {"type": "survey", "event_id": eid, "customer_id": f"{eid}-d",
                              "occurred_at": now, "survey": "nps",
                              "score": self.rng.randint(0, 6)}
        cid = f"live-{self.rng.randrange(POOL):06d}"
        if draw < 0.9:
            return "purchase", {"type": "purchase", "event_id": eid, "customer_id": cid,
                                "occurred_at": now, "order_id": f"o-{eid}",
                                "amount": round(self.rng.uniform(5, 120), 2),
                                "currency": "USD", "items": 1, "channel": "web"}
        return "support", {"type": "support", "event_id": eid, "customer_id": cid,
                           "ticket_id": f"t-{eid}", "channel": "email",
                           "category": "delivery", "occurred_at": now, "action": "opened"}

    async def run(self, rate: int, seconds: float) -> Latency:
        producer = AIOKafkaProducer(bootstrap_servers=self.servers, linger_ms=0,
                                    max_batch_size=256 * 1024)
        # The subscriber fetches as the worker does (tansu holds a fetch for much of its
        # max wait even when records arrive: aiokafka's default 500 ms adds ~0.15 s here).
        consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, enable_auto_commit=False,
                                    fetch_max_wait_ms=SUBSCRIBER_FETCH_WAIT_MS)
        await producer.start()
        await consumer.start()
        try:
            tps = [TopicPartition(self.alerts_topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)  # resolve the end now, before anything is sent
            listening = asyncio.ensure_future(self._listen(consumer))
            total = int(rate * seconds)
            started = time.monotonic()
            # Records go into one batch per partition, sent every 50 events: aiokafka's
            # send() costs ~25 us of Python per record, a quarter of a core at 10,000/s
            # taken from the worker on this 2-core machine.
            open_batches: dict[tuple[str, int], Any] = {}
            for i in range(total):
                family, event = self._event()
                key = str(event["customer_id"]).encode()
                tp = (self.topics[family], partition_for(key, self.partitions))
                batch = open_batches.get(tp)
                if batch is None:
                    batch = open_batches[tp] = producer.create_batch()
                batch.append(key=key, value=json.dumps(event).encode(), timestamp=None)
                if i % 50 == 49 or i == total - 1:  # hold the offered rate
                    for (topic, partition), full in open_batches.items():
                        await producer.send_batch(full, topic, partition=partition)
                    open_batches.clear()
                    ahead = started + i / rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            await producer.flush()
            offered = total / (time.monotonic() - started)
            deadline = time.monotonic() + SETTLE_S
            while len(self.arrived) < len(self.asked) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            listening.cancel()
            lat = [self.arrived[e] - t for e, t in self.asked.items() if e in self.arrived]
            return Latency(rate, offered, total, len(self.asked), lat)
        finally:
            await producer.stop()
            await consumer.stop()

    async def _listen(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    trigger = json.loads(record.value).get("trigger_event_id")
                    if trigger in self.asked and trigger not in self.arrived:
                        self.arrived[trigger] = now


def wait_until_processing(stack: LocalStack, timeout_s: float = 180) -> None:
    """The worker has joined its group and applied an event: what follows is steady state."""
    load = LiveLoad(stack.settings(), "warmup")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = asyncio.run(load.run(rate=50, seconds=1))
        status = worker_status(stack.settings()) or {}
        if result.latencies and status.get("counters", {}).get("events"):
            return
    raise SystemExit(f"bench: the worker raised no alert within {timeout_s:.0f} s")


def measure(rates: list[int], seconds: float, folder: Path) -> tuple[list[Latency], dict]:
    env = {"RETENTION_WORKER__LOGLEVEL": "ERROR"}
    with LocalStack(folder / "latency", env) as stack:
        stack.start_worker()
        wait_until_processing(stack)
        results = []
        for rate in rates:
            results.append(asyncio.run(LiveLoad(stack.settings(), f"r{rate}").run(rate, seconds)))
            time.sleep(2)  # let the worker's last flush settle between rates
        status = worker_status(stack.settings()) or {}
        stack.stop_worker()
    return results, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2000,10000")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="retention-latency-") as tmp:
        results, status = measure(rates, args.seconds, Path(tmp))
    c = status.get("counters", {})
    print(f"\nlatency bench: live events for {args.seconds:.0f} s per rate, "
          f"{DETRACTOR_SHARE:.0%} NPS detractors, event -> nps_detractor alert on churn-risk "
          "as a subscriber receives it (embedded tansu, 4 partitions, one worker; subscriber "
          f"fetch wait {SUBSCRIBER_FETCH_WAIT_MS} ms)")
    for r in results:
        print(r.line())
    print(f"  worker: {c.get('on_arrival')} of {c.get('events')} events applied on arrival, "
          f"{c.get('late')} late (goal: p99 <= 1 s at 2,000/s, <= 2 s at 10,000/s); "
          f"stage seconds {status.get('seconds')}")


if __name__ == "__main__":
    main()
