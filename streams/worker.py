"""Run the Faust worker in this process (used by `retention worker` and `retention up`)."""

from __future__ import annotations

import faust


def run_worker(loglevel: str = "WARNING") -> None:
    # Imported here: importing builds the app from settings, which must be final by now.
    from streams import web  # noqa: F401  (registers the views)
    from streams.agents import customer_events, model_refresh, watermark_clock  # noqa: F401
    from streams.app import app
    from streams.pipeline import pipeline

    pipeline.open_sink()  # migrate before consuming: fail fast on a bad DSN
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=True)
    worker.execute_from_commandline()
