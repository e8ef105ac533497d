"""Run the Faust worker in this process (used by `retention worker` and `retention up`)."""

from __future__ import annotations

import gc
import logging

import faust

from retention.settings import Settings
from streams.app import build_worker


class QuietWorker(faust.Worker):
    """A worker without Faust's terminal spinner.

    The spinner listens at DEBUG and leaves the root logger there, so every aiokafka debug
    call builds a log record: about 5% of the worker's time in a profile, for a spinner
    nobody sees in a service log.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        logger.setLevel(level)


def run_worker(settings: Settings) -> None:
    worker = build_worker(settings)
    worker.sink.open()  # migrate before consuming: fail fast on a bad DSN
    # Everything built so far lives as long as the process: keep the collector off it, and
    # let it run less often over the per-event garbage (see WorkerSettings).
    gc.freeze()
    gc.set_threshold(settings.worker.gc_young_threshold, 20, 20)
    runner = QuietWorker(worker.app, *worker.services, loglevel=settings.worker.loglevel,
                         quiet=True, override_logging=True)
    runner.spinner = None
    runner.execute_from_commandline()
