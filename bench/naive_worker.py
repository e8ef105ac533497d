"""The baseline the worker is measured against: one Faust table write per event.

This is the agent most people write first (what runtime.md measured at ~3,200 events/s):
validate, read the customer's state from a table, update it, write it back, per event.
It records its progress in a file so the benchmark can time it from outside.
With BENCH_MODE=floor it does no work at all over `take_events` batches instead: the cost
of Faust's per-message consumption path alone, the ceiling of any agent built on it. With
BENCH_MODE=intake it counts and acknowledges the batches of the worker's batch intake.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import faust

from schemas import parse_event

SERVERS = os.environ["BENCH_BOOTSTRAP_SERVERS"]
PROGRESS = Path(os.environ["BENCH_PROGRESS_FILE"])
FAMILIES = {"purchases": "purchase", "support-events": "support",
            "survey-responses": "survey"}

MODE = os.environ.get("BENCH_MODE", "naive")

app = faust.App(
    f"{MODE}-bench",  # its own consumer group: each contender reads the whole backlog
    broker=f"kafka://{SERVERS}",
    store="rocksdb://",
    datadir=os.environ["BENCH_DATA_DIR"],
    topic_partitions=4,
    broker_session_timeout=6,
    broker_heartbeat_interval=1,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    key_serializer="raw",
    value_serializer="raw",
)
source = app.topic(*FAMILIES)
state = app.Table("naive-state", default=None,
                  schema=faust.Schema(key_serializer="raw", value_serializer="json"))
processed = 0
started: float | None = None


async def floor(stream):
    global processed, started
    async for events in stream.take_events(5000, within=0.5):
        started = started or time.monotonic()
        processed += len(events)


async def naive(stream):
    global processed, started
    async for event in stream.events():
        started = started or time.monotonic()
        parsed = parse_event(event.value, FAMILIES[event.message.topic])
        current = state.get(event.key) or {"events": 0, "revenue": 0.0}
        current["events"] += 1
        current["revenue"] += getattr(parsed, "amount", 0.0)
        state[event.key] = current  # one changelog record per event
        processed += 1


async def count_and_ack(batch):
    global processed, started
    started = started or time.monotonic()
    for message in batch:
        message.ack(app.consumer)
    processed += len(batch)


if MODE == "intake":
    # The worker's batch intake (streams/intake.py) delivering to a function doing nothing.
    from streams import intake

    intake.install(app, source, count_and_ack, batch_max=5000, batch_within_s=0.5)
else:
    app.agent(source, name="bench")(floor if MODE == "floor" else naive)


@app.timer(interval=0.1)
async def report():
    if started is not None:
        PROGRESS.write_text(f"{processed} {time.monotonic() - started:.3f}")


if __name__ == "__main__":
    app.main()
