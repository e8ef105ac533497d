"""`retention up`'s worker: a child process restarted when it crashes, drained on Ctrl-C.

The embedded broker keeps topics in memory only, so it must outlive any worker: it stays
with this process, and a crashed worker is restarted (with backoff) against it, resuming
from its committed offsets, its RocksDB table and the changelog. The worker runs in a
session of its own, so a terminal's Ctrl-C reaches only the supervisor, which decides what
the worker is told: the first SIGINT/SIGTERM/SIGHUP drains (the run file says so and
`retention publish` refuses; everything published is processed, then the worker stops), a
second one stops at once and says how many published events were left unprocessed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

from retention.cli import exit_codes
from retention.embedded.broker import EmbeddedBroker
from retention.embedded.runfile import RunInfo, write_run_file
from retention.kafka import current_status
from retention.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_S = 0.2
# Between two looks at the lag while draining (each look asks the broker and the worker).
STATUS_EVERY_S = 1.0
# How long a second Ctrl-C waits for the broker to say how many events were left.
COUNT_TIMEOUT_S = 10.0
WORKER_COMMAND = (sys.executable, "-m", "retention.cli.main", "worker")


class Supervisor:
    def __init__(self, settings: Settings, servers: str, *, broker: EmbeddedBroker | None,
                 say: Callable[[str], None], command: Sequence[str] = WORKER_COMMAND) -> None:
        self.settings = settings
        self.broker = broker
        self.say = say
        self.command = list(command)
        self.run_info = RunInfo(servers, f"http://{settings.worker.web_host}:"
                                         f"{settings.worker.web_port}", os.getpid())
        self.env = {**os.environ, "RETENTION_KAFKA__BOOTSTRAP_SERVERS": servers}
        if broker is not None:  # reached by address now: say which broker it is
            self.env["RETENTION_KAFKA__BROKER_KIND"] = "tansu"
        self.worker: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.crashes = 0
        self.restart_at: float | None = None
        self.stop_requests = 0
        self.probe: _IdleProbe | None = None

    def run(self) -> int:
        """Supervise until drained (0) or stopped at once (1 if events were left
        unprocessed); 3 if the embedded broker itself died."""
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in STOP_SIGNALS}
        try:
            self._start_worker()
            while True:
                if self.stop_requests >= 2:
                    return self._stop_now()
                if self.broker is not None and self.broker.process.poll() is not None:
                    self.say("error: the embedded broker exited; stopping the worker")
                    self._stop_worker(grace_s=10)
                    return exit_codes.BACKEND
                if self.stop_requests == 1 and not self.run_info.draining:
                    self._begin_drain()
                self._keep_worker_running()
                if self.probe is not None and self.probe.idle_streak >= 2:
                    self._stop_worker(grace_s=60)
                    self.say("drained: every published event is processed and stored; stopped")
                    return exit_codes.OK
                time.sleep(POLL_S)
        finally:
            if self.probe is not None:
                self.probe.stopped.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requests += 1

    def _start_worker(self) -> None:
        self.worker = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        self._record(worker_pid=self.worker.pid)

    def _keep_worker_running(self) -> None:
        if self.worker is not None:
            code = self.worker.poll()
            if code is None:
                return
            ran = time.monotonic() - self.started_at
            w = self.settings.worker
            # A worker that ran for a while crashed afresh; one that keeps crashing at
            # start-up (ClickHouse unreachable, say) is retried less and less often.
            self.crashes = 1 if ran >= w.restart_max_s else self.crashes + 1
            delay = min(w.restart_initial_s * 2 ** (self.crashes - 1), w.restart_max_s)
            self.say(f"worker exited with code {code} after {ran:.1f} s; restarting it in "
                     f"{delay:g} s (the broker keeps every unprocessed event)")
            self.worker = None
            self.restart_at = time.monotonic() + delay
            self._record(worker_pid=None)
        elif self.restart_at is not None and time.monotonic() >= self.restart_at:
            self._start_worker()

    def _begin_drain(self) -> None:
        self._record(draining=True)
        self.probe = _IdleProbe(self.settings)
        self.probe.start()
        self.say("draining: finishing every published event, publishing refused; Ctrl-C "
                 "again stops at once")

    def _stop_now(self) -> int:
        self._stop_worker(grace_s=5)
        left = self._unprocessed()
        if left == 0:
            self.say("stopped: every published event was processed")
            return exit_codes.OK
        self.say(f"stopped at once: {_count(left)} published events were left unprocessed "
                 "(the in-memory broker forgets them)")
        return exit_codes.PARTIAL

    def _stop_worker(self, grace_s: float) -> None:
        worker, self.worker = self.worker, None
        self.restart_at = None
        if worker is None or worker.poll() is not None:
            return
        worker.terminate()  # Faust stops cleanly: acknowledged offsets are committed
        try:
            worker.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    def _unprocessed(self) -> int | None:
        """Published events the worker's group has not committed as processed; None if the
        broker does not answer within COUNT_TIMEOUT_S."""
        counted: list[int] = []

        def count() -> None:
            # kafka-python raises several kinds; stopping goes on regardless
            with contextlib.suppress(Exception):
                counted.append(sum(current_status(self.settings).lag.values()))
        thread = threading.Thread(target=count, daemon=True)
        thread.start()
        thread.join(COUNT_TIMEOUT_S)
        return counted[0] if counted else None

    def _record(self, **changes: Any) -> None:
        self.run_info = replace(self.run_info, **changes)
        write_run_file(self.settings.run_file, self.run_info)


class _IdleProbe(threading.Thread):
    """Looks at the lag and the worker's status once a second while draining, off the main
    thread: a broker that does not answer must not hold a second Ctrl-C up."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="drain-probe", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()
        # Consecutive looks that found everything processed, written and committed (two
        # in a row: a commit can land between two looks).
        self.idle_streak = 0

    def run(self) -> None:
        while not self.stopped.wait(STATUS_EVERY_S):
            try:
                idle = current_status(self.settings).idle
            except Exception:  # the broker does not answer: not idle, look again
                idle = False
            self.idle_streak = self.idle_streak + 1 if idle else 0


def _count(events: int | None) -> str:
    return "an unknown number of" if events is None else str(events)
