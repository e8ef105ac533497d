"""Scale of the real worker process: its RSS and start with N customers' states in its table.

A `LocalStack` (embedded tansu, chDB, `python -m retention.cli.main worker`) runs the worker
over a few live events, one customer per partition, and stops it: its Faust table then has
one RocksDB database per partition, each holding the changelog offset it has written up to
(`__faust\\0offset__`), equal to the end of that changelog partition in tansu. With the worker
stopped, N stored states are written into those databases beside the worker's own (as
Faust's store writes them: raw bytes, key = customer id, in the partition of the key),
leaving the offsets alone. A restarted worker finds its persisted offsets at the changelog's
end, so Faust recovers nothing and keeps the databases as they are; the N states are its own
(`Pipeline._arm_timers` re-arms them lazily, `StateTable.read` serves them to events).

What is not as in production: the changelog holds only the worker's own few records, not
the N states (tansu keeps topics in memory; a million records would only be read by a
worker that lost its disk). So a worker that takes partitions over in a rebalance recovers
the few records, not the N states: the rebalance figure is the first worker's pause, not
the newcomer's recovery of its share.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from rocksdict import Options, Rdict, WriteBatch

from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, worker_status
from retention.settings import Settings
from sinks.client import create_client
from streams.outputs import partition_for

OVERLAP = re.compile(r"\[(?P<at>[^\]]+)\] .*Timer advance_watermarks is overlapping "
                     r"\(interval=[\d.]+ runtime=(?P<runtime>[\d.]+)\)")
OFFSET_KEY = b"__faust\0offset__"  # faust.stores.rocksdb.Store.offset_key
WRITE_BATCH = 20_000


def copied_states(base: dict[str, str], customers: int, partitions: int
                  ) -> Iterator[tuple[str, str, int]]:
    """(customer id, state JSON, partition) of `customers` customers: the base states, then
    copies of them under new ids."""
    written = 0
    for copy in range(-(-customers // len(base))):
        for cid, data in base.items():
            if written == customers:
                return
            new_id = cid if copy == 0 else f"{cid}-x{copy}"
            state = json.loads(data)
            state["customer_id"] = new_id
            state["partition"] = partition_for(new_id.encode(), partitions)
            yield new_id, json.dumps(state), state["partition"]
            written += 1


def proc_status_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of process `pid`, in MiB."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0]) / 1024
    return out


def live_purchase(customer_id: str, n: int) -> str:
    now = datetime.now(UTC) - timedelta(seconds=1)
    return json.dumps({
        "type": "purchase", "event_id": f"live-{customer_id}-{n}-{time.time_ns()}",
        "customer_id": customer_id,
        "occurred_at": now.isoformat().replace("+00:00", "Z"), "order_id": f"o-live-{n}",
        "amount": 10.0, "currency": "USD", "items": 1, "channel": "web"})


def one_per_partition(ids: Iterable[str], partitions: int) -> list[str]:
    chosen: dict[int, str] = {}
    for cid in ids:
        chosen.setdefault(partition_for(cid.encode(), partitions), cid)
        if len(chosen) == partitions:
            break
    return list(chosen.values())


def events_done(settings: Settings) -> int | None:
    status = worker_status(settings)
    return None if status is None else int(status["counters"]["events"])


def table_databases(settings: Settings) -> dict[int, Path]:
    """The worker's RocksDB database of each partition of its customer-state table."""
    found = {int(p.name.removesuffix(".db").rsplit("-", 1)[1]): p
             for p in settings.table_dir.glob("**/customer-state-*.db")}
    if len(found) != settings.kafka.partitions:
        raise SystemExit(f"bench: expected {settings.kafka.partitions} table databases, "
                         f"found {sorted(found)} under {settings.table_dir}")
    return found


def seed_table(settings: Settings, states: Iterator[tuple[str, str, int]]) -> dict[int, int]:
    """Write (customer id, state JSON, partition) into the stopped worker's table databases;
    return the persisted changelog offset of each partition (left as the worker wrote it)."""
    dbs = {part: Rdict(str(path), Options(raw_mode=True))
           for part, path in table_databases(settings).items()}
    try:
        offsets = {}
        for part, db in dbs.items():
            raw = db.get(OFFSET_KEY)
            if raw is None:
                raise SystemExit(f"bench: partition {part} of the table has no persisted "
                                 "offset: the warm-up did not reach it")
            offsets[part] = int(raw)
        batches = {part: WriteBatch(raw_mode=True) for part in dbs}
        pending = 0
        for cid, data, part in states:
            batches[part].put(cid.encode(), data.encode())
            pending += 1
            if pending == WRITE_BATCH:
                for p, batch in batches.items():
                    dbs[p].write(batch)
                batches = {p: WriteBatch(raw_mode=True) for p in dbs}
                pending = 0
        for p, batch in batches.items():
            dbs[p].write(batch)
        return offsets
    finally:
        for db in dbs.values():
            db.close()


class RssSampler:
    """Samples the worker's VmRSS every `every_s` until stopped; keeps the largest."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid, self.every_s = pid, every_s
        self.max_rss = 0.0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.max_rss = max(self.max_rss, proc_status_mib(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


def wait_events(settings: Settings, at_least: int, timeout_s: float) -> float:
    """Poll the worker's status until it has processed `at_least` events; the monotonic
    time it was first seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = events_done(settings)
        if done is not None and done >= at_least:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"bench: the worker processed fewer than {at_least} events in "
                     f"{timeout_s:.0f} s (see {settings.data_dir / 'worker.log'})")


def measure_worker(folder: Path, base: dict[str, str], customers: int, rebalance: bool
                   ) -> dict[str, float]:
    """Seed `customers` states (copies of `base`) into a real worker's table, restart it
    and time it; with `rebalance`, a second worker then joins its group."""
    env = {"RETENTION_KAFKA__BROKER_KIND": "tansu"}
    stack = LocalStack(folder / "one", env)
    settings = stack.start()
    partitions = settings.kafka.partitions
    warm = one_per_partition(base, partitions)
    publisher = Publisher(settings)
    figures: dict[str, float] = {}
    try:
        # 1. the worker's own table: one live event per partition, stored and stopped
        stack.start_worker()
        publisher.publish_lines(live_purchase(cid, 0) for cid in warm)
        stack.wait_idle(timeout_s=180)
        stack.stop_worker()
        # 2. N states beside them
        t0 = time.perf_counter()
        offsets = seed_table(settings, copied_states(base, customers, partitions))
        figures["seeded_s"] = time.perf_counter() - t0
        figures["changelog_offsets"] = sum(offsets.values())
        # 3. a restart with live events waiting, one per partition
        live = one_per_partition(reversed(base), partitions)
        publisher.publish_lines(live_purchase(cid, 1) for cid in live)
        started, started_at = time.monotonic(), datetime.now()  # the log's local time
        stack.start_worker()
        assert stack.worker is not None
        pid = stack.worker.pid
        sampler = RssSampler(pid)
        first = wait_events(settings, 1, timeout_s=600)
        figures["start_s"] = first - started
        figures["rss_first_mib"] = proc_status_mib(pid)["VmRSS"]
        # every stored state re-armed: `rearm_per_batch` per batch or clock tick, so keep
        # events flowing for as long as that takes at one chunk every 2 s, and then some
        # (1M re-armed in ~75 s on this machine, shared)
        settle_s = 15 + 2 * customers / settings.signals.rearm_per_batch
        _flow(publisher, live, settle_s)
        sampler.stop()
        vm = proc_status_mib(pid)
        figures["rss_mib"] = vm["VmRSS"]
        figures["rss_max_mib"] = max(sampler.max_rss, vm["VmRSS"])
        figures["hwm_mib"] = vm["VmHWM"]
        log = folder / "one" / "worker.log"
        figures.update(clock_overlaps(log.read_text(errors="replace"), started_at))
        if rebalance:
            figures.update(_rebalance(folder, stack, publisher, live))
    finally:
        publisher.close()
        stack.stop()
    figures.update(check_table(settings, base, live))
    return figures


def check_table(settings: Settings, base: dict[str, str], live: list[str]
                ) -> dict[str, float]:
    """After the worker stopped: how many states its table holds, and how many of the
    customers given live events kept their seeded history (more orders than seeded): the
    worker read the seeded states as its own rather than starting them from zero."""
    keys = kept = 0
    databases = table_databases(settings).values()
    size = sum(f.stat().st_size for path in databases for f in path.rglob("*") if f.is_file())
    for path in databases:
        db = Rdict(str(path), Options(raw_mode=True))
        try:
            keys += sum(1 for key in db.keys() if key != OFFSET_KEY)  # noqa: SIM118 (not iterable)
            for cid in live:
                raw = db.get(cid.encode())
                if raw is not None and (json.loads(raw)["orders"]
                                        > json.loads(base[cid])["orders"]):
                    kept += 1
        finally:
            db.close()
    return {"table_keys": keys, "live_kept_history": kept, "live_customers": len(live),
            "table_mib": size / 2**20}


def _insert_customer_states(settings: Settings, base: dict[str, str], customers: int) -> None:
    """Write `customers` states into the stopped worker's ClickHouse customer_state table,
    as the sink writes them (the columns the resume reads; the rest default). Run in a
    child process: chDB's session lives as long as the process that opened it."""
    client = create_client(settings)
    columns = ["customer_id", "version", "updated_at", "state"]
    now = datetime.now(UTC)
    rows: list[list[object]] = []
    for cid, data, _ in copied_states(base, customers, settings.kafka.partitions):
        rows.append([cid, 10**9, now, data])
        if len(rows) == WRITE_BATCH:
            client.insert("customer_state", rows, column_names=columns)
            rows = []
    if rows:
        client.insert("customer_state", rows, column_names=columns)
    client.close()


def measure_clickhouse_resume(folder: Path, base: dict[str, str], customers: int
                              ) -> dict[str, float]:
    """`retention up` restarted with the embedded broker: the new tansu has no changelog,
    the stack forgets the local table, and the worker resumes `customers` states from
    ClickHouse (`Pipeline._seed_from_clickhouse`). Seconds from its start to the first
    processed live event, and its RSS."""
    env = {"RETENTION_KAFKA__BROKER_KIND": "tansu"}
    stack = LocalStack(folder, env)
    settings = stack.start()
    warm = one_per_partition(base, settings.kafka.partitions)
    publisher = Publisher(settings)
    try:
        stack.start_worker()  # migrations run, a few states written
        publisher.publish_lines(live_purchase(cid, 0) for cid in warm)
        stack.wait_idle(timeout_s=180)
    finally:
        publisher.close()
        stack.stop()
    t0 = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(
        target=_insert_customer_states, args=(settings, base, customers))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"bench: writing customer states to chDB failed ({child.exitcode})")
    figures = {"inserted_s": time.perf_counter() - t0}
    stack = LocalStack(folder, env)
    settings = stack.start()  # a new broker: topics empty, the local table forgotten
    publisher = Publisher(settings)
    try:
        publisher.publish_lines(live_purchase(cid, 1) for cid in warm)
        started = time.monotonic()
        stack.start_worker()
        assert stack.worker is not None
        pid = stack.worker.pid
        sampler = RssSampler(pid)
        figures["start_s"] = wait_events(settings, 1, timeout_s=900) - started
        figures["rss_first_mib"] = proc_status_mib(pid)["VmRSS"]
        _flow(publisher, warm, 15)
        sampler.stop()
        vm = proc_status_mib(pid)
        figures.update(rss_mib=vm["VmRSS"], hwm_mib=vm["VmHWM"],
                       rss_max_mib=max(sampler.max_rss, vm["VmRSS"]))
        log = (folder / "worker.log").read_text(errors="replace")
        resumed = re.search(r"table empty: resumed (\d+) customer states", log)
        figures["resumed_states"] = int(resumed[1]) if resumed else 0
    finally:
        publisher.close()
        stack.stop()
    return figures


def clock_overlaps(log: str, since: datetime) -> dict[str, float]:
    """Faust's warnings that the watermark clock's timer (interval 0.5 s) ran longer than
    its interval, logged since `since`: how many, the longest run, and the last one's
    seconds after `since` (while stored states are re-armed, a chunk per tick)."""
    runs: list[tuple[float, float]] = []
    for line in log.splitlines():
        match = OVERLAP.match(line)
        if match:
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f")
            if at >= since:
                runs.append(((at - since).total_seconds(), float(match["runtime"])))
    return {"clock_overlaps": len(runs),
            "clock_overlap_max_s": max((r for _, r in runs), default=0.0),
            "clock_overlap_last_s": max((t for t, _ in runs), default=0.0)}


def _flow(publisher: Publisher, ids: list[str], seconds: float) -> None:
    """Keep live events flowing for `seconds` (so batches and ticks re-arm)."""
    end = time.monotonic() + seconds
    n = 1
    while time.monotonic() < end:
        n += 1
        publisher.publish_lines(live_purchase(cid, n) for cid in ids)
        time.sleep(0.2)


def _rebalance(folder: Path, first: LocalStack, publisher: Publisher, ids: list[str]
               ) -> dict[str, float]:
    """A second worker joins the group: the first worker's pause in processing (live
    events keep flowing) and the second's first processed event, from its start."""
    second = LocalStack(folder / "two", {"RETENTION_KAFKA__BROKER_KIND": "tansu"},
                        bootstrap_servers=first.servers)
    s1 = first.settings()
    second.start()
    samples: list[tuple[float, int]] = []
    try:
        started = time.monotonic()
        second.start_worker()
        s2 = second.settings()
        second_first = None
        n = 10**6
        while time.monotonic() - started < 240:
            n += 1
            publisher.publish_lines(live_purchase(cid, n) for cid in ids)
            now = time.monotonic()
            done = events_done(s1)
            if done is not None:
                samples.append((now, done))
            if second_first is None and (events_done(s2) or 0) > 0:
                second_first = now
            if second_first is not None and now - second_first > 10:
                break
            time.sleep(0.1)
        # the longest stretch without progress of the first worker after the join
        changes = [t for (_, d_prev), (t, d) in pairwise(samples) if d != d_prev]
        pause, at = max(((b - a, b) for a, b in pairwise([started, *changes])),
                        default=(float("nan"), float("nan")))
        resumed = at - started
        return {"rebalance_pause_s": pause, "rebalance_resumed_s": resumed,
                "second_first_s": (second_first - started) if second_first else float("nan")}
    finally:
        second.stop()
