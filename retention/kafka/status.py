"""Pipeline health: consumer lag per input topic and the worker's own counters."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from retention.embedded.runfile import read_run_file
from retention.kafka.offsets import consumer_lag
from retention.settings import Settings


class WorkerUnauthorized(RuntimeError):
    """The worker's HTTP API refused this client's API token."""


@dataclass
class Status:
    lag: dict[str, int]
    worker: dict[str, Any] | None

    @property
    def idle(self) -> bool:
        """Everything published is processed, committed and written."""
        return (self.worker is not None and sum(self.lag.values()) == 0
                and self.worker.get("rows_pending", 1) == 0)


def worker_url(settings: Settings) -> str:
    run = read_run_file(settings.run_file)
    if run is not None:
        return run.worker_url
    w = settings.worker
    return f"http://{w.web_host}:{w.web_port}"


def worker_status(settings: Settings) -> dict[str, Any] | None:
    """The worker's counters, None when it does not answer."""
    request = urllib.request.Request(worker_url(settings) + "/status/",
                                     headers=settings.worker.auth_headers())
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            status: dict[str, Any] = json.load(resp)
            return status
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise WorkerUnauthorized("the worker refused the API token: set "
                                     "RETENTION_WORKER__API_TOKEN to the worker's") from exc
        return None
    except OSError:
        return None


def current_status(settings: Settings) -> Status:
    return Status(lag=consumer_lag(settings), worker=worker_status(settings))


def wait_idle(settings: Settings, timeout_s: float, poll_s: float = 1.0) -> Status:
    """Poll until idle twice in a row (a commit can land between two reads) or time out."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    status = current_status(settings)
    while time.monotonic() < deadline:
        streak = streak + 1 if status.idle else 0
        if streak >= 2:
            return status
        time.sleep(poll_s)
        status = current_status(settings)
    return status
