"""`retention up` driven as a user drives it: a subprocess with its own data dir, stopped
with Ctrl-C (SIGINT), its worker child found through the run file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from retention.embedded.broker import free_loopback_port
from retention.embedded.runfile import RunInfo, read_run_file
from retention.embedded.stack import patched_environ
from retention.kafka import worker_status
from retention.settings import Settings
from tests.integration.helpers import wait_for


class RetentionUp:
    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {
            "RETENTION_DATA_DIR": str(data_dir),
            "RETENTION_CLICKHOUSE__DSN": f"chdb://{(data_dir / 'clickhouse').resolve()}",
            "RETENTION_WORKER__WEB_PORT": str(free_loopback_port()),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "up.log"

    def settings(self) -> Settings:
        """What every `retention` command run with this environment sees."""
        with patched_environ(self.env):
            return Settings()

    def start(self, timeout_s: float = 120) -> RunInfo:
        """Start it and return once its worker answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "retention.cli.main", "up"], env={**env, **self.env},
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            stdin=subprocess.DEVNULL)
        return self.wait_worker(timeout_s)

    def run_info(self) -> RunInfo | None:
        return read_run_file(self.settings().run_file)

    def wait_worker(self, timeout_s: float, not_pid: int | None = None) -> RunInfo:
        """The run once a worker (other than `not_pid`) is up and answers its status."""
        def ready() -> RunInfo | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"retention up exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            info = self.run_info()
            if info is None or info.worker_pid in (None, not_pid):
                return None
            return info if worker_status(self.settings()) is not None else None
        return wait_for(ready, timeout_s, poll_s=0.2, what="the worker under retention up")

    def kill_worker(self) -> int:
        """SIGKILL the worker child; returns its pid."""
        info = self.run_info()
        assert info is not None and info.worker_pid is not None, "no worker to kill"
        os.kill(info.worker_pid, signal.SIGKILL)
        return info.worker_pid

    def running(self) -> bool:
        """The supervisor is up (its worker may be restarting)."""
        return self.process is not None and self.process.poll() is None

    def worker_alive(self) -> bool:
        info = self.run_info()
        return (self.running() and info is not None and info.worker_pid is not None
                and _alive(info.worker_pid) and worker_status(self.settings()) is not None)

    def interrupt(self) -> None:
        """Ctrl-C."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        """Whatever state it is in: Ctrl-C twice, then kill."""
        if self.process is None or self.process.poll() is not None:
            return
        for _ in range(2):
            self.interrupt()
            time.sleep(0.5)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
