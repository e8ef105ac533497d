"""ClickHouse write errors and retries in the metrics, through the sink's fault-injection
switch with real chDB underneath."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streams.metrics import WorkerLive
from tests.streams.helpers import at, purchase
from tests.streams.test_metrics import labelled, placed, scrape
from tests.streams.test_pipeline_glue import IDLE_S, on_chdb, stored_ids


def test_outage_counts_each_refused_insert_and_each_retry(chdb_dsn: str, tmp_path: Path) -> None:
    """While ClickHouse refuses inserts the errors (by table) and retries climb, events are
    not counted; once it answers every refused insert was retried and the events count."""
    async def scenario() -> None:
        glue, outage = on_chdb(chdb_dsn, tmp_path)
        sink, metrics = glue.sink, glue.pipeline.metrics
        metrics.watch(WorkerLive(status=glue.pipeline.status, lag=dict,
                                 write_errors=lambda: sink.write_errors,
                                 write_retries=lambda: sink.write_retries))
        outage.start(60)
        await glue.pipeline.process([placed(purchase(f"c{i}", at(i)), i) for i in range(3)])
        await asyncio.sleep(0.5)  # retried every 50 ms meanwhile
        during = scrape(metrics)
        refused = labelled(during, "retention_clickhouse_write_errors_total", table="purchases")
        assert refused >= 3  # the batch's first table, refused on every attempt
        assert labelled(during, "retention_clickhouse_write_retries_total") >= refused - 1
        assert labelled(during, "retention_events_total", topic="purchases",
                        outcome="accepted") == 0
        outage.end()
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        await glue.settle()
        after = scrape(metrics)
        errors = sum(v for (name, _), v in after.items()
                     if name == "retention_clickhouse_write_errors_total")
        assert errors == sum(sink.write_errors.values()) >= refused
        # Nothing was given up: every refused insert was followed by another attempt.
        assert labelled(after, "retention_clickhouse_write_retries_total") == errors
        assert labelled(after, "retention_events_total", topic="purchases",
                        outcome="accepted") == len(stored_ids(glue, "purchases", "event_id")) == 3
    asyncio.run(scenario())
