"""Waiting for the worker to process and write what a command sent (`import`, `demo`,
`dlq replay`), its lag shown as progress."""

from __future__ import annotations

import time

from retention.cli.progress import CommandProgress
from retention.kafka import Status, wait_idle
from retention.settings import Settings

# The wait runs in steps of this many seconds so the progress can show the lag.
WAIT_STEP_S = 3.0


def _lag(status: Status) -> int:
    return sum(status.lag.values())


def _pending(status: Status) -> int:
    return int(status.worker.get("rows_pending", 0)) if status.worker else 0


def wait_for_worker(settings: Settings, timeout_s: float, sent: int,
                    progress: CommandProgress) -> bool:
    """True once the worker has processed and written everything, False on timeout.

    wait_idle in steps; a step that times out returns its last reading, which may be one
    idle reading alone, so done means idle at the end of two steps in a row (wait_idle's
    own rule: idle twice in a row, as a commit can land between two reads)."""
    deadline = time.monotonic() + timeout_s
    idle_steps = 0
    progress.task("worker", total=max(sent, 1))
    while True:
        step = min(WAIT_STEP_S, max(deadline - time.monotonic(), 0.0))
        status = wait_idle(settings, step)
        detail = ("not answering" if status.worker is None
                  else f"lag {_lag(status):,} messages, rows waiting {_pending(status):,}")
        # Lag counts messages not yet committed, so sent - lag is what the worker has done.
        progress.update(max(sent - _lag(status), 0), detail)
        idle_steps = idle_steps + 1 if status.idle else 0
        if idle_steps >= 2:
            progress.done("everything processed and written")
            return True
        if time.monotonic() >= deadline:
            return False
