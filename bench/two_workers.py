"""Two workers vs one on one backlog: the speed-up, with the exactness of the two-worker test.

One embedded broker; the same history is published twice, under two topic prefixes, so
each run has its own input, output topics and consumer group. One worker consumes the
first copy, then two workers (one consumer group, each its own chDB folder and web port)
consume the second. Each run is timed from the workers' start until every event is applied
and nothing is pending; the distinct alert and milestone ids of both runs must equal an
independent in-process run of the history (tests/integration/test_two_workers.py).

    python -m bench.two_workers [--customers 8000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.throughput import steady_rate
from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, worker_status
from tests.integration.helpers import REPLAY_ENV, log_tail, read_topic
from tests.integration.test_pipeline import _expected_outputs

# A dated history, published as if lived through, as the two-worker test runs it: every
# output reaches the topics, to be counted. (With 5,000-event batches, publishing every
# output of a year at once made aiokafka give up on a partition's batches: KafkaTimeoutError.)
ENV = {**REPLAY_ENV, "RETENTION_WORKER__LOGLEVEL": "ERROR", "RETENTION_KAFKA__BROKER_KIND": "tansu"}


def run(folder: Path, servers: str, lines: list[str], workers: int
        ) -> tuple[float, float, set[str], set[str]]:
    """(seconds until all is applied and written, sustained events/s, alert ids,
    milestone ids) of `workers` workers over their own copy of the backlog."""
    prefix = f"w{workers}-"
    stacks = [LocalStack(folder / f"{prefix}{i}", {**ENV, "RETENTION_KAFKA__TOPIC_PREFIX": prefix},
                         bootstrap_servers=servers) for i in range(workers)]
    for stack in stacks:
        stack.start()
    try:
        publisher = Publisher(stacks[0].settings())
        report = publisher.publish_lines(lines)
        publisher.close()
        started = time.monotonic()
        for stack in stacks:
            stack.start_worker()
        samples: list[tuple[float, int]] = []
        deadline = started + 900
        while True:
            for stack in stacks:  # a worker that stopped never finishes: say why, at once
                if stack.worker is not None and stack.worker.poll() is not None:
                    raise SystemExit(f"bench: a worker exited with code "
                                     f"{stack.worker.returncode}; its log:\n{log_tail(stack)}")
            statuses = [worker_status(s.settings()) for s in stacks]
            if all(statuses):
                done = sum(s["counters"]["events"] + s["counters"]["dead_letters"]
                           for s in statuses if s)
                samples.append((time.monotonic(), done))
                if done >= report.sent and all(s["rows_pending"] == 0 for s in statuses if s):
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {workers} worker(s) did not finish in 900 s")
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        k = stacks[0].settings().kafka
        alerts = {r["alert_id"] for r in read_topic(servers, k.topic(k.topics.churn_risk))}
        milestones = {r["milestone_id"]
                      for r in read_topic(servers, k.topic(k.topics.milestones))}
        return elapsed, steady_rate(samples, report.sent), alerts, milestones
    finally:
        for stack in stacks:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=8000)
    args = parser.parse_args()
    events = generate_history(HistorySpec(customers=args.customers, months=12, seed=5))
    lines = list(to_json_lines(events))
    with tempfile.TemporaryDirectory(prefix="retention-two-") as tmp, \
            LocalStack(Path(tmp) / "broker", ENV) as broker:
        assert broker.servers is not None
        one = run(Path(tmp), broker.servers, lines, 1)
        print(f"one worker: {one[0]:.1f} s", flush=True)
        two = run(Path(tmp), broker.servers, lines, 2)
        print(f"two workers: {two[0]:.1f} s", flush=True)
        expected = _expected_outputs(events, broker.settings())
    exact = all((run_[2], run_[3]) == expected for run_ in (one, two))
    print(f"\ntwo workers vs one: {len(events):,} events, {args.customers:,} customers, one "
          "embedded tansu, 4 partitions, this 2-core machine")
    print(f"  one worker   {one[0]:6.1f} s until all is written ({one[1]:,.0f} events/s "
          "sustained)")
    print(f"  two workers  {two[0]:6.1f} s until all is written ({two[1]:,.0f} events/s "
          f"sustained): speed-up {one[0] / two[0]:.2f}x end to end, "
          f"{two[1] / one[1]:.2f}x sustained")
    print(f"  outputs: {len(two[2]):,} alerts, {len(two[3]):,} milestones; equal to an "
          f"independent in-process run in both runs: {'yes' if exact else 'NO'}")


if __name__ == "__main__":
    main()
