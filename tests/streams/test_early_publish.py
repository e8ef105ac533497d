"""Outputs leave when their batch is processed, one publish at a time, acked after writes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from streams.outputs import Record

from .test_pipeline_glue import FakeMessage, build


def _bad(offset: int) -> FakeMessage:
    """Not JSON: dead-lettered (an output record) as soon as its batch is processed."""
    return FakeMessage("purchases", 0, offset, b"c0", b'{"event_id": ')


def test_outputs_are_published_while_clickhouse_writes_wait_and_never_overlap() -> None:
    """With ClickHouse holding the writer, each batch's output is on Kafka already, the
    publishes ran one at a time in order, and nothing is acknowledged until rows are in."""
    async def scenario() -> None:
        glue = build()
        glue.sink.gate = asyncio.Event()  # ClickHouse does not answer yet
        running = [0, 0]  # now, most at once
        order: list[int] = []
        publish = glue.publisher.publish

        async def slow_publish(records: Sequence[Record],
                               partitions: Sequence[int] | None = None) -> Any:
            running[0] += 1
            running[1] = max(running)
            await asyncio.sleep(0.01)
            order.extend(int(r.value.split(b'"offset":')[1].split(b",")[0]) for r in records)
            running[0] -= 1
            return await publish(records, partitions)

        glue.publisher.publish = slow_publish  # type: ignore[method-assign]
        for offset in range(3):
            await glue.pipeline.process([_bad(offset)])
        await asyncio.sleep(0.2)
        assert order == [0, 1, 2] and running[1] == 1
        assert glue.consumer.acked == []  # rows not written yet
        glue.sink.gate.set()
        glue.clock.advance(2.0)  # the commit interval: the next tick flushes
        await glue.pipeline.tick()
        await glue.settle()
        assert sorted(m.offset for m in glue.consumer.acked) == [0, 1, 2]
    asyncio.run(scenario())
