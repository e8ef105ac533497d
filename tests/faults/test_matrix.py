"""The fault matrix (`make faults`): each fault on the embedded backends, one row each.

Every row runs a small synthetic history through real tansu and chDB, injects its fault,
and is judged by the invariant in tests/faults/harness.py: offered = stored +
dead-lettered, the alert and milestone ids equal an uninterrupted in-process reference run,
and the worker is still running. The table is printed at the end of the session; a row
that breaks the invariant fails its test and says why in the table.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from retention.demo.synthetic import to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, current_status, worker_status
from retention.settings import Settings
from tests.faults.corpus import DEAD_LETTER, STORED, corpus
from tests.faults.harness import (
    SPEC,
    STACK_ENV,
    Topics,
    cuts,
    distinct,
    history,
    judge,
    merge,
)
from tests.integration.helpers import log_tail
from tests.integration.store_reader import Stored, read_store
from tests.integration.up import RetentionUp

pytestmark = pytest.mark.faults

OUTAGE_S = 30.0


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    publisher = Publisher(settings)
    report = publisher.publish_lines(list(to_json_lines(events)))
    publisher.close()
    assert report.sent == len(events) and not report.rejected, report.rejected[:3]


def _applied(settings: Settings) -> int:
    """Events the running worker has applied since it started (0 while it is not up)."""
    status = worker_status(settings)
    return int(status["counters"]["events"]) if status else 0


def _alive(stack: LocalStack) -> bool:
    return stack.worker is not None and stack.worker.poll() is None


def _running(stack: LocalStack) -> bool:
    """Alive and answering: what the row's `worker running` says."""
    return _alive(stack) and worker_status(stack.settings()) is not None


def _poll(probe: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True


def _settle(settings: Settings, alive: Callable[[], bool], timeout_s: float = 180) -> str | None:
    """Wait until everything published is processed and written (idle twice running);
    a problem if the worker dies or time runs out first."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while streak < 2:
        if not alive():
            return "the worker died before it finished"
        if time.monotonic() >= deadline:
            return f"not idle after {timeout_s:.0f} s"
        streak = streak + 1 if current_status(settings).idle else 0
        time.sleep(0.5)
    return None


def _crash_reason(stack: LocalStack) -> str:
    """The first error the worker's log says it crashed with."""
    found = re.search(r"Crashed reason=(.+?)\s*$", log_tail(stack, 100_000), re.MULTILINE)
    return found.group(1) if found else "no crash logged"


def _finish(stacks: list[LocalStack]) -> tuple[bool, Topics, Stored]:
    """Whether the first (surviving) worker runs, what subscribers saw, what ClickHouse
    holds once every worker has stopped."""
    running = _running(stacks[0])
    assert stacks[0].servers is not None
    topics = Topics.read(stacks[0].servers)
    for stack in stacks:
        stack.stop_worker()
    return running, topics, merge([read_store(stack.env) for stack in stacks])


def _trickle(settings: Settings, events: list[dict[str, Any]], until: Callable[[], bool],
             slice_len: int = 20) -> list[dict[str, Any]]:
    """Publish `events` a slice a second until `until()` holds; returns what is left."""
    while events and not until():
        _publish(settings, events[:slice_len])
        events = events[slice_len:]
        time.sleep(1)
    return events


def _took_in(settings: Settings) -> bool:
    """The worker has taken in input: it owns partitions (applied, buffered or dropped)."""
    status = worker_status(settings)
    if not status:
        return False
    counters = status["counters"]
    return bool(status["events_buffered"] or counters["events"] or counters["duplicates"])


def test_worker_sigkill_at_three_random_points(tmp_path: Path) -> None:
    """`retention up`'s worker SIGKILLed three times mid-stream: the supervisor restarts it
    against the broker that stayed up; Ctrl-C then drains."""
    started = time.monotonic()
    events = history()
    rng = random.Random(SPEC.seed)
    bounds = [0, *cuts(events, [0.25, 0.5, 0.75]), len(events)]
    up = RetentionUp(tmp_path / "up", STACK_ENV)
    problems: list[str] = []
    kills: list[int] = []
    try:
        info = up.start()
        for i in range(3):
            part = events[bounds[i]:bounds[i + 1]]
            _publish(up.settings(), part)
            point = int(rng.uniform(0.2, 0.8) * len(part))
            if not _poll(lambda p=point: _applied(up.settings()) >= p, 120, poll_s=0.02):
                problems.append(f"kill {i + 1}: the worker did not reach {point} events")
                break
            kills.append(_applied(up.settings()))
            info = up.wait_worker(120, not_pid=up.kill_worker())
        _publish(up.settings(), events[bounds[3]:])
        if (problem := _settle(up.settings(), up.running)) is not None:
            problems.append(problem)
        running = up.worker_alive()
        topics = Topics.read(info.bootstrap_servers)
        up.interrupt()
        if (code := up.wait(120)) != 0:
            problems.append(f"Ctrl-C: exit {code}, not a clean drain")
    finally:
        up.stop()
    stored = read_store(up.env)
    row = judge("worker SIGKILLed at 3 random points under `retention up` (after "
                f"{', '.join(map(str, kills))} events applied)", started,
                offered=distinct(events), applied=events, settings=up.settings(),
                topics=topics, stored=stored, worker_running=running, problems=problems)
    assert row.ok, row.problems


def test_second_worker_joins_leaves_and_is_killed(tmp_path: Path) -> None:
    """A second worker joins mid-stream, leaves (SIGTERM), joins again and is SIGKILLed:
    three rebalances, the last after the session timeout."""
    started = time.monotonic()
    events = history()
    bounds = [0, *cuts(events, [0.25, 0.5, 0.75]), len(events)]
    parts = [events[i:j] for i, j in pairwise(bounds)]
    problems: list[str] = []
    with LocalStack(tmp_path / "a", STACK_ENV) as a:
        b = LocalStack(tmp_path / "b", {**STACK_ENV, "RETENTION_KAFKA__BROKER_KIND": "tansu"},
                       bootstrap_servers=a.servers)
        b.start()
        try:
            _publish(a.settings(), parts[0])
            a.start_worker()
            _poll(lambda: _applied(a.settings()) >= len(parts[0]) // 2, 120)
            for step, sig in ((1, signal.SIGTERM), (2, signal.SIGKILL)):
                b.start_worker()
                _poll(lambda: worker_status(b.settings()) is not None, 120)
                # Published slowly while B joins, so that its partitions have input then.
                left = _trickle(a.settings(), parts[step], lambda: _took_in(b.settings()))
                if not _poll(lambda: _took_in(b.settings()), 30):
                    problems.append(f"the second worker took in nothing in join {step}")
                _publish(a.settings(), left)
                b.stop_worker(sig)
            _publish(a.settings(), parts[3])
            if (problem := _settle(a.settings(), lambda: _alive(a))) is not None:
                problems.append(problem)
            running, topics, stored = _finish([a, b])
        finally:
            b.stop()
    row = judge("a second worker joins, leaves (SIGTERM), joins again and is SIGKILLed",
                started, offered=distinct(events), applied=events, settings=a.settings(),
                topics=topics, stored=stored, worker_running=running, problems=problems)
    assert row.ok, row.problems


class _Outage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.until = 0.0

    def start(self, seconds: float) -> None:
        self.until = time.time() + seconds
        self.path.write_text(str(self.until))

    @property
    def left_s(self) -> float:
        return self.until - time.time()


def _lag(settings: Settings) -> int:
    return sum(current_status(settings).lag.values())


def _pending(settings: Settings) -> int:
    status = worker_status(settings)
    return int(status["rows_pending"]) if status else -1


def test_clickhouse_down_for_30_s_with_a_rebalance_inside(tmp_path: Path) -> None:
    """ClickHouse refuses every insert for 30 s (both workers, as one server would) while a
    second worker joins: the rebalance completes inside the outage (the busy worker gives
    its unwritten work up instead of waiting), consumption pauses with nothing committed
    and no growing backlog, and every event lands once the outage ends."""
    started = time.monotonic()
    events = history()
    half = cuts(events, [0.5])[0]
    outage = _Outage(tmp_path / "clickhouse-outage")
    # Processing waits once RETENTION_SINK__MAX_ROWS_QUEUED rows wait for the writer; this
    # history is far below the default's 25,000, so a bound of one row lets the row see
    # consumption pause (and stay paused) inside the outage.
    env = {**STACK_ENV, "RETENTION_SINK__OUTAGE_FILE": str(outage.path),
           "RETENTION_SINK__RETRY_MAX_S": "1", "RETENTION_SINK__MAX_ROWS_QUEUED": "1"}
    problems: list[str] = []
    joined_at = "-"
    with LocalStack(tmp_path / "a", env) as a:
        b = LocalStack(tmp_path / "b", {**env, "RETENTION_KAFKA__BROKER_KIND": "tansu"},
                       bootstrap_servers=a.servers)
        b.start()
        try:
            _publish(a.settings(), events[:half])
            a.start_worker()
            _poll(lambda: _applied(a.settings()) >= half // 2, 120)
            b.start_worker()
            # Its web view answers a few seconds before it joins the group: the outage
            # starts now, so that the rebalance falls inside it.
            _poll(lambda: worker_status(b.settings()) is not None, 120)
            if _took_in(b.settings()):
                problems.append("the second worker joined before the outage began")
            outage.start(OUTAGE_S)
            _publish(a.settings(), events[half:])  # writes for worker A to be refused
            joined = _poll(lambda: _took_in(b.settings()), outage.left_s - 1, poll_s=0.2)
            if not joined:
                problems.append("the second worker got no partition during the outage")
            else:
                joined_at = f"{OUTAGE_S - outage.left_s:.0f}"
                time.sleep(2)  # acknowledgements from before the outage are committed by now
                if outage.left_s > 5:
                    problems += _paused_until(outage, [a, b])
            hand_over = re.findall(r"given up after ([\d.]+) s", log_tail(a, 10_000))
            if not hand_over:
                problems.append("worker A gave no unwritten work up in a rebalance")
            if any(float(s) >= a.settings().kafka.session_timeout_s for s in hand_over):
                problems.append(f"a hand-over took {max(hand_over)} s")
            for stack in (a, b):
                if (problem := _settle(stack.settings(), lambda s=stack: _alive(s))):
                    problems.append(problem)
            running = _running(b)
            running_a, topics, stored = _finish([a, b])
        finally:
            b.stop()
    row = judge(f"ClickHouse refuses writes for {OUTAGE_S:.0f} s; a second worker joins "
                f"{joined_at} s into it (hand-over {'/'.join(hand_over) or '-'} s)", started,
                offered=distinct(events), applied=events, settings=a.settings(),
                topics=topics, stored=stored, worker_running=running and running_a,
                problems=problems)
    assert row.ok, row.problems


def _paused_until(outage: _Outage, stacks: list[LocalStack]) -> list[str]:
    """Problems if offsets are committed or the workers' backlog moves before the outage
    ends (consumption must pause, with what it holds in memory bounded)."""
    settings = stacks[0].settings()
    lag, pending = _lag(settings), [_pending(s.settings()) for s in stacks]
    time.sleep(max(0.0, outage.left_s - 1.5))
    lag_end, pending_end = _lag(settings), [_pending(s.settings()) for s in stacks]
    problems = []
    if lag_end != lag:
        problems.append(f"offsets committed during the outage (lag {lag} -> {lag_end})")
    if pending_end != pending:
        problems.append(f"backlog in memory moved during the outage ({pending} -> "
                        f"{pending_end} messages)")
    return problems


def test_every_event_sent_twice(tmp_path: Path) -> None:
    """The whole history published again once it is processed: no new id, nothing stored
    twice."""
    started = time.monotonic()
    events = history()
    problems: list[str] = []
    with LocalStack(tmp_path / "stack", STACK_ENV) as stack:
        _publish(stack.settings(), events)
        stack.start_worker()
        if (problem := _settle(stack.settings(), lambda: _alive(stack))) is not None:
            problems.append(problem)
        _publish(stack.settings(), events)
        if (problem := _settle(stack.settings(), lambda: _alive(stack))) is not None:
            problems.append(problem)
        running, topics, stored = _finish([stack])
    row = judge("every event re-sent after the history was processed", started,
                offered=distinct(events), applied=events, settings=stack.settings(),
                topics=topics, stored=stored, worker_running=running, problems=problems)
    assert row.ok, row.problems


def test_hostile_corpus(tmp_path: Path) -> None:
    """Invalid UTF-8, truncated, deeply nested and 3 MB JSON, NaN and 1e308 amounts,
    far-future and far-past times, keyless, misplaced and mismatched keys after a normal
    history: each dead-lettered (or, where allowed, applied to its own customer), never
    crashing the worker or reaching another customer's state."""
    started = time.monotonic()
    events = history()
    problems: list[str] = []
    with LocalStack(tmp_path / "stack", STACK_ENV) as stack:
        settings = stack.settings()
        items, follow_ups = corpus(SPEC.end + timedelta(days=1), settings.kafka.partitions)
        _publish(settings, events)
        stack.start_worker()
        producer = KafkaProducer(bootstrap_servers=stack.servers, max_request_size=16 << 20)
        placed = {}
        for item in items:
            try:
                meta = producer.send(settings.kafka.topic(settings.kafka.topics.purchases),
                                     key=item.key, value=item.value,
                                     partition=item.partition).get(timeout=30)
            except Exception as exc:
                problems.append(f"{item.name}: the broker refused it ({type(exc).__name__})")
                continue
            placed[item.name] = (meta.topic, meta.partition, meta.offset)
        producer.close()
        if (problem := _settle(settings, lambda: _alive(stack), timeout_s=60)) is not None:
            problems.append(f"{problem} ({_crash_reason(stack)})")
        # A restart empties the worker's state cache: each follow-up reads its customer's
        # state from its own partition's table, where a message applied to another
        # partition's state is not.
        stack.stop_worker()
        stack.start_worker()
        _publish(settings, follow_ups)
        if (problem := _settle(settings, lambda: _alive(stack), timeout_s=60)) is not None:
            problems.append(f"after a restart: {problem} ({_crash_reason(stack)})")
        running, topics, stored = _finish([stack])

    accepted = []
    for item in items:
        if item.name not in placed:
            continue
        outcome = {o for o, happened in [(STORED, item.event_id in stored.events),
                                         (DEAD_LETTER, placed[item.name] in stored.dead_letters)]
                   if happened}
        if len(outcome) != 1 or not outcome <= item.allowed:
            problems.append(f"{item.name}: {' and '.join(sorted(outcome)) or 'lost'}")
        if STORED in outcome and item.event is not None:
            accepted.append(item.event)
    applied = [*events, *sorted(accepted, key=lambda e: e["occurred_at"]), *follow_ups]
    row = judge(f"hostile corpus: {len(items)} messages (tests/faults/corpus.py)",
                started, offered=distinct(events) + len(follow_ups) + len(placed),
                applied=applied, settings=settings, topics=topics, stored=stored,
                worker_running=running, problems=problems)
    assert row.ok, row.problems
