"""Reloads the lifetime model the `low_p_alive` rule reads, when a new fit is stored."""

from __future__ import annotations

from streams.app import app, settings
from streams.pipeline import pipeline


@app.timer(interval=settings.model.reload_interval_s, on_leader=False)
async def refresh_lifetime_model() -> None:
    await pipeline.refresh_model()
