"""The stateful agent: purchases, support events and survey answers, per customer."""

from __future__ import annotations

import logging

from faust.types import StreamT

from streams.app import app, settings
from streams.pipeline import pipeline
from streams.topics import customer_events

log = logging.getLogger(__name__)


@app.agent(customer_events)
async def process_customer_events(stream: StreamT) -> None:
    await pipeline.refresh_model()  # low_p_alive decides with the newest fitted model
    # A take batch is also the sink batch: bounded by size and time, written before the
    # next batch is taken, which is when take_events acknowledges the previous one.
    try:
        async for events in stream.take_events(
            settings.sink.batch_max_events, within=settings.sink.flush_interval_s
        ):
            await pipeline.process(stream, list(events))
    except Exception as exc:
        # Bad input never gets here (it is dead-lettered); this is a bug or a broken store.
        # Stop the worker rather than leave a dead agent behind a healthy-looking status:
        # nothing unprocessed was acknowledged, so a restart picks up where this stopped.
        log.exception("the customer-events agent failed; stopping the worker")
        await app.crash(exc)
        raise
