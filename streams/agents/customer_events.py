"""The stateful agent: purchases, support events and survey answers, per customer."""

from __future__ import annotations

from faust.types import StreamT

from streams.app import app, settings
from streams.pipeline import pipeline
from streams.topics import customer_events


@app.agent(customer_events)
async def process_customer_events(stream: StreamT) -> None:
    await pipeline.refresh_model()  # low_p_alive decides with the newest fitted model
    # A take batch is also the sink batch: bounded by size and time, written before the
    # next batch is taken, which is when take_events acknowledges the previous one.
    async for events in stream.take_events(
        settings.sink.batch_max_events, within=settings.sink.flush_interval_s
    ):
        await pipeline.process(stream, list(events))
