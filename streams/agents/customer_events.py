"""The stateful agent: purchases, support events and survey answers, per customer.

The input topics come in through batch intake (streams/intake.py): the agent iterates a
channel whose every item is one batch of raw messages, bounded by size and time.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from faust.types import Message, StreamT

from retention.settings import Settings
from streams import intake
from streams.pipeline import WRITE_AHEAD, Pipeline
from streams.topics import Topics

log = logging.getLogger(__name__)


def register(app: faust.App, topics: Topics, pipeline: Pipeline, settings: Settings) -> None:
    # Bounded: when the agent falls behind, the intake waits instead of buffering the backlog.
    input_batches = app.channel(maxsize=WRITE_AHEAD)

    async def deliver(batch: list[Message]) -> None:
        try:
            await input_batches.send(value=batch)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # Not us cancelled but our put: Faust's flow control clears this channel in a
            # rebalance and cancels a put waiting for room (the agent is behind, e.g. while
            # ClickHouse is down). The batch is dropped unacknowledged, like any batch taken
            # in before a rebalance; let through, the cancellation crashed Faust's fetcher,
            # and with it the worker.

    intake.install(app, topics.customer_events, deliver, settings)

    @app.agent(input_batches, name="process_customer_events")
    async def process_customer_events(stream: StreamT[list[Message]]) -> None:
        await pipeline.refresh_model()  # low_p_alive decides with the newest fitted model
        try:
            async for batch in stream:
                await pipeline.process(batch)
        except Exception as exc:
            # Bad input never gets here (it is dead-lettered); this is a bug or a broken
            # store. Stop the worker rather than leave a dead agent behind a healthy-looking
            # status: nothing unprocessed was acknowledged, so a restart picks up from here.
            log.exception("the customer-events agent failed; stopping the worker")
            await app.crash(exc)
            raise
