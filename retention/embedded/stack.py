"""A whole local pipeline in one object: embedded broker, topics and a worker process.

Used by `retention demo`, the integration tests and the benchmarks, so all three exercise
exactly what `retention up` runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from retention.embedded.broker import EmbeddedBroker, free_loopback_port, start_broker
from retention.embedded.runfile import RunInfo, remove_run_file, write_run_file
from retention.kafka import Status, ensure_topics, wait_idle
from retention.settings import Settings


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def forget_local_tables(settings: Settings) -> None:
    """Drop the worker's RocksDB tables before it meets a brand-new embedded broker.

    They describe changelog offsets the new broker never had (Faust refuses to start on
    that); the worker resumes customer state from ClickHouse instead.
    """
    shutil.rmtree(settings.table_dir, ignore_errors=True)


class LocalStack:
    """Broker (embedded unless `bootstrap_servers` is given) + a worker subprocess."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None,
                 bootstrap_servers: str | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = dict(env or {})
        self.broker: EmbeddedBroker | None = None
        self.servers = bootstrap_servers
        self.worker: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def start(self) -> Settings:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.servers is None:
            self.broker = start_broker(self.data_dir / "broker.log")
            self.servers = self.broker.bootstrap_servers
        self.env = {
            "RETENTION_DATA_DIR": str(self.data_dir),
            "RETENTION_CLICKHOUSE__DSN": f"chdb://{(self.data_dir / 'clickhouse').resolve()}",
            "RETENTION_WORKER__WEB_PORT": str(free_loopback_port()),
            **self.extra_env,
            "RETENTION_KAFKA__BOOTSTRAP_SERVERS": self.servers,
        }
        if self.broker is not None:
            self.env["RETENTION_KAFKA__BROKER_KIND"] = "tansu"
        settings = self.settings()
        if self.broker is not None:
            forget_local_tables(settings)
        ensure_topics(settings)
        return settings

    def settings(self) -> Settings:
        with patched_environ(self.env):
            return Settings()

    def start_worker(self) -> None:
        log = open(self.data_dir / "worker.log", "ab")  # noqa: SIM115
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "retention.cli.main", "worker"],
            env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        # Lets `retention kpi/status/...` run with this stack's environment find the worker.
        settings = self.settings()
        write_run_file(settings.run_file, RunInfo(
            self.servers or "", f"http://127.0.0.1:{self.env['RETENTION_WORKER__WEB_PORT']}",
            self.worker.pid))

    def wait_idle(self, timeout_s: float = 300) -> Status:
        return wait_idle(self.settings(), timeout_s)

    def stop_worker(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        if self.worker is None:
            return
        if self.worker.poll() is None:
            self.worker.send_signal(sig)
            try:
                self.worker.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.worker = None
        remove_run_file(self.settings().run_file)

    def stop(self) -> None:
        self.stop_worker()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
