"""Fixtures for Kafka client tests: a CA of their own, made with the openssl command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate (PEM) with the subject CN=retention-test-ca."""
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.pem"),
                    "-days", "2", "-subj", "/CN=retention-test-ca"],
                   check=True, capture_output=True)
    return folder / "ca.pem"
