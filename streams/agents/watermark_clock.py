"""Moves quiet partitions' watermarks with the wall clock so absence rules fire live."""

from __future__ import annotations

import faust

from retention.settings import Settings
from streams.pipeline import Pipeline


def register(app: faust.App, pipeline: Pipeline, settings: Settings) -> None:
    async def advance_watermarks() -> None:
        await pipeline.tick()

    app.timer(interval=max(settings.sink.flush_interval_s, 0.5),
              name="advance_watermarks")(advance_watermarks)
