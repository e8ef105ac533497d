"""Moves quiet partitions' watermarks with the wall clock so absence rules fire live."""

from __future__ import annotations

from streams.app import app, settings
from streams.pipeline import pipeline


@app.timer(interval=max(settings.sink.flush_interval_s, 0.5))
async def advance_watermarks() -> None:
    await pipeline.tick()
