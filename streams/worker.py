"""Run the Faust worker in this process (used by `retention worker` and `retention up`)."""

from __future__ import annotations

import gc
import logging

import faust


class QuietWorker(faust.Worker):
    """A worker without Faust's terminal spinner.

    The spinner listens at DEBUG and leaves the root logger there, so every aiokafka debug
    call builds a log record: about 5% of the worker's time in a profile, for a spinner
    nobody sees in a service log.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        logger.setLevel(level)


def run_worker(loglevel: str = "WARNING") -> None:
    # Imported here: importing builds the app from settings, which must be final by now.
    from streams import web  # noqa: F401  (registers the views)
    from streams.agents import customer_events, model_refresh, watermark_clock  # noqa: F401
    from streams.app import app, settings
    from streams.pipeline import pipeline

    pipeline.open_sink()  # migrate before consuming: fail fast on a bad DSN
    # Everything imported so far lives as long as the process: keep the collector off it,
    # and let it run less often over the per-event garbage (see WorkerSettings).
    gc.freeze()
    gc.set_threshold(settings.worker.gc_young_threshold, 20, 20)
    worker = QuietWorker(app, loglevel=loglevel, quiet=True, override_logging=True)
    worker.spinner = None
    worker.execute_from_commandline()
