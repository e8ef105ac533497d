"""The stateful agent: purchases, support events and survey answers, per customer.

The input topics come in through batch intake (streams/intake.py): the agent iterates a
channel whose every item is one batch of raw messages, bounded by size and time.
"""

from __future__ import annotations

import logging

from faust.types import Message, StreamT

from streams import intake
from streams.app import app, settings
from streams.pipeline import WRITE_AHEAD, pipeline
from streams.topics import customer_events

log = logging.getLogger(__name__)

# Bounded: when the agent falls behind, the intake waits instead of buffering the backlog.
input_batches = app.channel(maxsize=WRITE_AHEAD)


async def _deliver(batch: list[Message]) -> None:
    await input_batches.send(value=batch)


intake.install(app, customer_events, _deliver, batch_max=settings.sink.batch_max_events,
               batch_within_s=settings.sink.flush_interval_s)


@app.agent(input_batches)
async def process_customer_events(stream: StreamT) -> None:
    await pipeline.refresh_model()  # low_p_alive decides with the newest fitted model
    try:
        async for batch in stream:
            await pipeline.process(batch)
    except Exception as exc:
        # Bad input never gets here (it is dead-lettered); this is a bug or a broken store.
        # Stop the worker rather than leave a dead agent behind a healthy-looking status:
        # nothing unprocessed was acknowledged, so a restart picks up where this stopped.
        log.exception("the customer-events agent failed; stopping the worker")
        await app.crash(exc)
        raise
