"""The baseline the worker is measured against: one Faust table write per event.

This is the agent most people write first (what runtime.md measured at ~3,200 events/s):
validate, read the customer's state from a table, update it, write it back, per event.
It records its progress in a file so the benchmark can time it from outside.
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

app = faust.App(
    os.environ.get("BENCH_GROUP", "naive"),  # its own group: it reads the whole backlog
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


app.agent(source, name="bench")(naive)


@app.timer(interval=0.1)
async def report():
    if started is not None:
        PROGRESS.write_text(f"{processed} {time.monotonic() - started:.3f}")


if __name__ == "__main__":
    app.main()
