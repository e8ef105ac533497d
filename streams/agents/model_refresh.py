"""Reloads the lifetime model the `low_p_alive` rule reads, when a new fit is stored."""

from __future__ import annotations

import faust

from retention.settings import Settings
from streams.pipeline import Pipeline


def register(app: faust.App, pipeline: Pipeline, settings: Settings) -> None:
    async def refresh_lifetime_model() -> None:
        await pipeline.refresh_model()

    app.timer(interval=settings.model.reload_interval_s, on_leader=False,
              name="refresh_lifetime_model")(refresh_lifetime_model)
